/* udgram - the dispatcher thread and the pool workers: the hot path
 *
 * The dispatcher reads batches with recvmmsg(), finds the sender's client
 * (a hash lookup with a key built on the stack), appends the datagram to
 * the client's mailbox and, when the client has no invocation yet, queues
 * one in the pool.  It never waits for a handler: a full mailbox drops the
 * datagram and counts it.  A pool thread runs one handler invocation for one
 * client; datagrams left in the mailbox when it returns start a new
 * invocation, queued behind the other clients' so none is starved.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#define BATCH 16

void
udg_datagram_free (UdgDatagram *dg)
{
  if (dg == NULL)
    return;
  udg_ancillary_close_control_fds (dg->control, dg->control_len);
  g_free (dg->control);
  g_bytes_unref (dg->data);
  g_free (dg);
}

/* Control data nobody asked for: every descriptor is closed, at once, so
 * that peers waiting on them (systemd-notify's BARRIER) go on. */
void
udg_datagram_release_ancillary (UdgServer   *server,
                                UdgClient   *client,
                                UdgDatagram *dg)
{
  g_autoptr(UdgAncillary) unused = NULL;
  g_autoptr(GError) error = NULL;

  if (dg->control == NULL)
    return;
  unused = udg_ancillary_new ();
  if (!udg_ancillary_update_from_raw (unused, dg->control, dg->control_len, 0, &error))
    {
      g_autofree gchar *who = udg_address_to_string (client->peer);

      udg_log (G_LOG_LEVEL_WARNING, error, "From %s: Failed to read ancillary data", who);
    }
  /* The fds are the ancillary object's now: it closes them as it goes. */
  g_clear_pointer (&dg->control, g_free);
  dg->control_len = 0;
}

/* --- the pool --------------------------------------------------------------- */

void
udg_server_blocked_changed (UdgServer *server, gint delta)
{
  pthread_mutex_lock (&server->pool_lock);
  server->blocked += delta;
  UDG_STAT_ADD (server, blocked_in_recv, delta);
  if (server->pool != NULL && !g_atomic_int_get (&server->closing))
    {
      guint wanted = server->n_cores + server->blocked;
      guint max = MIN (wanted, server->options.max_threads);

      UDG_TSAN_IGNORE_BEGIN ();
      g_thread_pool_set_max_threads (server->pool, (gint) max, NULL);
      UDG_TSAN_IGNORE_END ();
      if (wanted > server->options.max_threads)
        {
          gint64 now = g_get_monotonic_time ();

          if (now - server->last_saturation_warning > 10 * G_USEC_PER_SEC)
            {
              server->last_saturation_warning = now;
              udg_log (G_LOG_LEVEL_WARNING, NULL,
                       "All %u handler threads are taken by invocations waiting in udg_client_recv(); "
                       "new datagrams wait in their mailboxes until one returns (raise max_threads)",
                       server->options.max_threads);
            }
        }
    }
  pthread_mutex_unlock (&server->pool_lock);
}

/* Queues an invocation of @client, whose reference the pool task takes over.
 * Returns FALSE when the server is stopping (the reference is left). */
static gboolean
push_to_pool (UdgServer *server, UdgClient *client)
{
  gboolean pushed = FALSE;

  pthread_mutex_lock (&server->pool_lock);
  if (server->pool != NULL && !g_atomic_int_get (&server->closing))
    {
      UDG_TSAN_RELEASE (client);
      UDG_TSAN_IGNORE_BEGIN ();
      pushed = g_thread_pool_push (server->pool, client, NULL);
      UDG_TSAN_IGNORE_END ();
    }
  pthread_mutex_unlock (&server->pool_lock);
  return pushed;
}

static void
finish_unscheduled (UdgServer *server, UdgClient *client)
{
  udg_client_drop_mailbox (client, &server->stats.dropped_shutdown);
  udg_client_unref (client);
}

void
udg_server_schedule (UdgServer *server, UdgClient *client)
{
  if (!push_to_pool (server, client))
    finish_unscheduled (server, client);
}

static void
log_handler_error (UdgClient *client, const GError *error)
{
  g_autofree gchar *who = udg_address_to_string (client->peer);

  if (g_error_matches (error, UDG_ERROR, UDG_ERROR_CLOSED))
    {
      udg_log (G_LOG_LEVEL_WARNING, error,
               "There have been attempts to do operation on closed client %s", who);
      return;
    }
  udg_log (G_LOG_LEVEL_CRITICAL, NULL, "----------------------------------------");
  udg_log (G_LOG_LEVEL_CRITICAL, error, "Exception occurred during processing of request from %s", who);
  udg_log (G_LOG_LEVEL_CRITICAL, NULL, "----------------------------------------");
}

static GPrivate current_invocation = G_PRIVATE_INIT (NULL);

UdgInvocation *
udg_invocation_get_current (void)
{
  return g_private_get (&current_invocation);
}

/* A pool task: one handler invocation for one client. */
void
udg_server_run_client (gpointer data, gpointer user_data)
{
  UdgClient *client = data;
  UdgServer *server = user_data;
  UdgInvocation invocation = { 0 };
  UdgInvocation *previous;
  UdgContext context = { NULL, NULL };
  UdgContext *previous_context;
  g_autoptr(GError) error = NULL;
  gboolean ok, again;

  /* First: nothing of @server may be read before these. */
  UDG_TSAN_ACQUIRE (client);
  UDG_TSAN_ACQUIRE (server);

  pthread_mutex_lock (&client->lock);
  if (g_atomic_int_get (&server->closing) || g_queue_is_empty (&client->mailbox))
    {
      pthread_mutex_unlock (&client->lock);
      finish_unscheduled (server, client);
      UDG_TSAN_RELEASE (server); /* teardown acquires it after the pool's join */
      return;
    }
  invocation.first = g_queue_pop_head (&client->mailbox);
  client->queued_bytes -= UDG_DATAGRAM_SIZE (invocation.first);
  client->state = CLIENT_RUNNING;
  pthread_mutex_unlock (&client->lock);
  UDG_STAT_SUB (server, queued_datagrams, 1);
  UDG_STAT_ADD (server, running_invocations, 1);

  invocation.client = client;
  context.parent = server->base_context;
  previous = g_private_get (&current_invocation);
  g_private_set (&current_invocation, &invocation);
  previous_context = udg_context_push (&context);

  ok = server->funcs.handle (client, server->user_data, &error);
  if (!ok && error == NULL)
    g_set_error_literal (&error, UDG_ERROR, UDG_ERROR_FAILED,
                         _("The handler failed without saying why"));

  udg_context_pop (previous_context);
  udg_context_clear (&context);
  g_private_set (&current_invocation, previous);

  if (invocation.first != NULL)
    {
      /* Returned before its first udg_client_recv(): the datagram is refused. */
      UDG_STAT_ADD (server, refused, 1);
      udg_datagram_release_ancillary (server, client, invocation.first);
      udg_datagram_free (invocation.first);
    }
  g_clear_pointer (&invocation.current, g_bytes_unref);
  if (!ok)
    {
      UDG_STAT_ADD (server, handler_errors, 1);
      log_handler_error (client, error);
    }
  UDG_STAT_SUB (server, running_invocations, 1);

  pthread_mutex_lock (&client->lock);
  again = !g_queue_is_empty (&client->mailbox);
  client->state = again ? CLIENT_PENDING : CLIENT_IDLE;
  pthread_mutex_unlock (&client->lock);
  if (!again)
    UDG_STAT_SUB (server, active_clients, 1);

  if (again)
    udg_server_schedule (server, client);
  else
    udg_client_unref (client);
  /* Last: teardown acquires it after g_thread_pool_free() joined us.  The
   * run's own reference keeps @server alive until then. */
  UDG_TSAN_RELEASE (server);
}

/* --- the dispatcher ------------------------------------------------------- */

typedef struct
{
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_un names[BATCH];
  guint8 *buffers;
  guint8 *controls;
  UdgClient *touched[BATCH];      /* (owned) */
  gboolean schedule[BATCH];
} Batch;

/* With clients_lock held: the client of @peer, with a new reference. */
static UdgClient *
lookup_client (UdgServer *server, const UdgAddress *peer)
{
  UdgClient *client = g_hash_table_lookup (server->clients, peer);

  if (client != NULL && udg_client_try_ref (client))
    return client;
  /* Absent, or its last reference is being dropped right now (its
   * finalizer removes only its own entry). */
  client = udg_client_new (server, peer);
  g_hash_table_replace (server->clients, client->peer, client);
  return client;
}

static void
warn_rate_limited (gint64 *last, const gchar *message)
{
  gint64 now = g_get_monotonic_time ();

  if (now - *last > 5 * G_USEC_PER_SEC)
    {
      *last = now;
      udg_log (G_LOG_LEVEL_DEBUG, NULL, "%s", message);
    }
}

typedef struct
{
  Batch batch;
  gint64 last_drop_log;
} Dispatcher;

static gboolean
uid_allowed (UdgServer *server, const UdgCredentials *credentials)
{
  if (credentials == NULL)
    return FALSE;
  for (guint i = 0; i < server->options.n_allowed_uids; i++)
    if (server->options.allowed_uids[i] == credentials->uid)
      return TRUE;
  return FALSE;
}

/* With clients_lock held. Returns the client to release afterwards. */
static UdgClient *
route (UdgServer *server, Dispatcher *d, struct mmsghdr *m, gboolean *schedule)
{
  UdgAddress key;
  UdgClient *client;
  UdgDatagram *dg;
  const struct msghdr *h = &m->msg_hdr;
  UdgCredentials credentials = { 0, 0, 0 };
  gboolean has_credentials;
  gboolean full;

  *schedule = FALSE;
  UDG_STAT_ADD (server, received, 1);
  if (h->msg_flags & MSG_TRUNC)
    {
      UDG_STAT_ADD (server, truncated, 1);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      udg_log (G_LOG_LEVEL_DEBUG, NULL,
               "Dropped a datagram longer than max_datagram_size (%" G_GSIZE_FORMAT " bytes)",
               server->options.max_datagram_size);
      return NULL;
    }
  if (h->msg_flags & MSG_CTRUNC)
    UDG_STAT_ADD (server, ancillary_truncated, 1);

  has_credentials = udg_ancillary_find_credentials (h->msg_control, h->msg_controllen, &credentials);
  if (server->options.n_allowed_uids > 0 && !uid_allowed (server, has_credentials ? &credentials : NULL))
    {
      UDG_STAT_ADD (server, denied, 1);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      udg_log (G_LOG_LEVEL_DEBUG, NULL, "Refused a datagram from uid %ld: not in the allowed uids",
               has_credentials ? (long) credentials.uid : -1L);
      return NULL;
    }

  udg_address_init_from_sockaddr (&key, h->msg_name, h->msg_namelen);
  if (key.kind == UDG_ADDRESS_UNNAMED && server->options.unnamed != UDG_UNNAMED_ADDRESSES_HANDLE)
    {
      UDG_STAT_ADD (server, unnamed, 1);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      if (server->options.unnamed == UDG_UNNAMED_ADDRESSES_WARN)
        udg_log (G_LOG_LEVEL_WARNING, NULL,
                 "A datagram received from an unbound UNIX datagram socket has been dropped.");
      return NULL;
    }

  client = lookup_client (server, &key);
  pthread_mutex_lock (&client->lock);
  /* A mailbox holds one datagram at least, whatever its size. */
  full = g_queue_get_length (&client->mailbox) >= server->options.mailbox_limit ||
         (client->queued_bytes > 0 && client->queued_bytes + m->msg_len > server->options.mailbox_bytes_limit);
  if (!full)
    {
      dg = g_new (UdgDatagram, 1);
      dg->data = g_bytes_new (h->msg_iov[0].iov_base, m->msg_len);
      dg->flags = h->msg_flags;
      dg->has_credentials = has_credentials;
      if (has_credentials)
        dg->credentials = credentials;
      if (server->options.receive_ancillary_data && h->msg_controllen > 0)
        {
          dg->control_len = h->msg_controllen;
          dg->control = g_memdup2 (h->msg_control, dg->control_len);
        }
      else
        {
          /* Control data only for the credentials: no fd may stay open. */
          udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
          dg->control = NULL;
          dg->control_len = 0;
        }
      g_queue_push_tail (&client->mailbox, dg);
      client->queued_bytes += m->msg_len;
      if (client->state == CLIENT_IDLE)
        {
          client->state = CLIENT_PENDING;
          *schedule = TRUE;
        }
      else if (client->waiting)
        pthread_cond_signal (&client->cond);
    }
  pthread_mutex_unlock (&client->lock);

  if (full)
    {
      UDG_STAT_ADD (server, dropped_mailbox, 1);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      warn_rate_limited (&d->last_drop_log, "A client's mailbox is full: datagrams dropped (see mailbox_limit)");
    }
  else
    {
      UDG_STAT_ADD (server, queued_datagrams, 1);
      if (*schedule)
        UDG_STAT_ADD (server, active_clients, 1);
    }
  return client;
}

static void
prepare (UdgServer *server, Batch *b)
{
  for (gsize i = 0; i < BATCH; i++)
    {
      struct msghdr *h = &b->msgs[i].msg_hdr;

      b->iov[i].iov_base = b->buffers + i * server->options.max_datagram_size;
      b->iov[i].iov_len = server->options.max_datagram_size;
      h->msg_name = &b->names[i];
      h->msg_namelen = sizeof (struct sockaddr_un);
      h->msg_iov = &b->iov[i];
      h->msg_iovlen = 1;
      h->msg_control = b->controls != NULL ? b->controls + i * server->ancillary_bufsize : NULL;
      h->msg_controllen = b->controls != NULL ? server->ancillary_bufsize : 0;
      h->msg_flags = 0;
    }
}

static gpointer
dispatcher_main (gpointer data)
{
  UdgServer *server = data;
  Dispatcher *d = g_new0 (Dispatcher, 1);
  Batch *b = &d->batch;
  struct pollfd fds[2] = {
    { server->fd, POLLIN, 0 },
    { server->wake_fd, POLLIN, 0 },
  };

  b->buffers = g_malloc (BATCH * server->options.max_datagram_size);
  if (server->options.receive_ancillary_data || server->options.pass_credentials)
    b->controls = g_malloc (BATCH * server->ancillary_bufsize);

  for (;;)
    {
      int n;

      if (poll (fds, 2, -1) < 0 && errno != EINTR)
        {
          udg_log (G_LOG_LEVEL_WARNING, NULL, "poll() failed in the dispatcher: %s", g_strerror (errno));
          continue;
        }
      if (fds[1].revents & POLLIN)
        break;
      if (!(fds[0].revents & (POLLIN | POLLERR)))
        continue;

      prepare (server, b);
      n = recvmmsg (server->fd, b->msgs, BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
      if (n < 0)
        {
          int errsv = errno;

          if (errsv != EAGAIN && errsv != EINTR)
            udg_log (G_LOG_LEVEL_WARNING, NULL, "Unrelated error occurred on datagram reception: %s: %s",
                     "OSError", g_strerror (errsv));
          continue;
        }

      pthread_mutex_lock (&server->clients_lock);
      for (int i = 0; i < n; i++)
        b->touched[i] = route (server, d, &b->msgs[i], &b->schedule[i]);
      pthread_mutex_unlock (&server->clients_lock);

      /* Outside the table lock: the pool push, and unrefs that may free. */
      for (int i = 0; i < n; i++)
        {
          if (b->touched[i] == NULL)
            continue;
          if (b->schedule[i])
            udg_server_schedule (server, b->touched[i]);
          else
            udg_client_unref (b->touched[i]);
          b->touched[i] = NULL;
        }
    }

  g_free (b->buffers);
  g_free (b->controls);
  g_free (d);
  return NULL;
}

static void *
dispatcher_thread (void *data)
{
  return dispatcher_main (data);
}

gboolean
udg_dispatcher_start (UdgServer *server, GError **error)
{
  int rc;

  server->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->wake_fd < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to create the dispatcher's wake-up descriptor"));
      return FALSE;
    }
  rc = pthread_create (&server->dispatcher, NULL, dispatcher_thread, server);
  if (rc != 0)
    {
      close (server->wake_fd);
      server->wake_fd = -1;
      udg_set_error_from_errno (error, rc, _("Unable to start the dispatcher thread"));
      return FALSE;
    }
  server->dispatcher_started = TRUE;
  return TRUE;
}

void
udg_dispatcher_stop (UdgServer *server)
{
  guint64 one = 1;

  if (!server->dispatcher_started)
    return;
  while (write (server->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
  pthread_join (server->dispatcher, NULL);
  server->dispatcher_started = FALSE;
  close (server->wake_fd);
  server->wake_fd = -1;
}
