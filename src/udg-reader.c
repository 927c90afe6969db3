/* udgram - the reader: the dispatcher thread
 *
 * The socket's only reader while the server serves, so that a peer's
 * datagrams enter its mailbox in the order they came.  It reads batches
 * with recvmmsg() until the socket is empty, then sleeps in poll() on the
 * socket and its wake-up eventfd (written only to stop it).  Each datagram
 * is checked (size, sender, uid), its sender's client found in the table
 * (a hash lookup with a key built on the stack) and the datagram pushed to
 * the client's mailbox; a client that had no invocation is handed to the
 * scheduler.  It never waits for a handler: a full mailbox drops the
 * datagram and counts it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

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

/* The reader thread's own state: buffers for one recvmmsg() batch. */
typedef struct
{
  struct mmsghdr msgs[UDG_READ_BATCH];
  struct iovec iov[UDG_READ_BATCH];
  struct sockaddr_un names[UDG_READ_BATCH];
  guint8 *buffers;
  guint8 *controls;
  UdgClient *to_schedule[UDG_READ_BATCH]; /* (owned): handed to the scheduler */
  uid_t owners[UDG_READ_BATCH];           /* their senders' uids */
  gint64 last_drop_log;
} Batch;

/* With clients_lock held: the client of @peer, with a new reference. */
static UdgClient *
lookup_client_locked (UdgServer *server, const UdgAddress *peer)
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

static UdgDatagram *
datagram_new (UdgServer *server, const struct mmsghdr *m,
              gboolean has_credentials, const UdgCredentials *credentials)
{
  const struct msghdr *h = &m->msg_hdr;
  UdgDatagram *dg = g_new (UdgDatagram, 1);

  dg->data = g_bytes_new (h->msg_iov[0].iov_base, m->msg_len);
  dg->flags = h->msg_flags;
  /* The server's own use of the sender's uid (the scheduler's fairness);
   * a handler sees credentials only when it asked for them. */
  dg->has_uid = has_credentials;
  dg->uid = has_credentials ? credentials->uid : 0;
  dg->has_credentials = has_credentials && server->reader.credentials_visible;
  if (dg->has_credentials)
    dg->credentials = *credentials;
  if (server->options.receive_ancillary_data && h->msg_controllen > 0)
    {
      dg->control_len = h->msg_controllen;
      dg->control = g_memdup2 (h->msg_control, dg->control_len);
      if (!server->reader.credentials_visible)
        udg_ancillary_strip_credentials (dg->control, &dg->control_len);
    }
  else
    {
      /* Control data only for the credentials: no fd may stay open. */
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      dg->control = NULL;
      dg->control_len = 0;
    }
  return dg;
}

/* One datagram into its client's mailbox, or counted and dropped.
 * Returns the client (a new reference) when it needs an invocation, and
 * its sender's uid in @owner. */
static UdgClient *
route (UdgServer *server, Batch *b, const struct mmsghdr *m, uid_t *owner)
{
  const struct msghdr *h = &m->msg_hdr;
  UdgCredentials credentials = { 0, 0, 0 };
  gboolean has_credentials;
  UdgAddress key;
  UdgClient *client;
  gboolean full, schedule = FALSE;

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
  *owner = has_credentials ? credentials.uid : UDG_UID_UNKNOWN;
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

  pthread_mutex_lock (&server->clients_lock);
  client = lookup_client_locked (server, &key);
  pthread_mutex_unlock (&server->clients_lock);

  udg_mailbox_lock (client->mailbox);
  /* A mailbox holds one datagram at least, whatever its size. */
  full = client->queued >= server->options.mailbox_limit ||
         (client->queued > 0 && client->queued_bytes + m->msg_len > server->options.mailbox_bytes_limit);
  if (!full)
    {
      udg_mailbox_push_locked (client->mailbox, datagram_new (server, m, has_credentials, &credentials));
      client->queued++;
      client->queued_bytes += m->msg_len;
      if (client->state == CLIENT_IDLE)
        {
          client->state = CLIENT_PENDING;
          schedule = TRUE;
        }
    }
  udg_mailbox_unlock (client->mailbox);

  if (full)
    {
      gint64 now = g_get_monotonic_time ();

      UDG_STAT_ADD (server, dropped_mailbox, 1);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      if (now - b->last_drop_log > 5 * G_USEC_PER_SEC)
        {
          b->last_drop_log = now;
          udg_log (G_LOG_LEVEL_DEBUG, NULL, "A client's mailbox is full: datagrams dropped (see mailbox_limit)");
        }
    }
  else
    {
      UDG_STAT_ADD (server, queued_datagrams, 1);
      if (schedule)
        UDG_STAT_ADD (server, active_clients, 1);
    }
  if (schedule)
    return client;
  udg_client_unref (client);
  return NULL;
}

static void
prepare (UdgServer *server, Batch *b)
{
  gsize control_size = server->reader.control_size;
  gsize stride = CMSG_ALIGN (control_size);

  for (gsize i = 0; i < UDG_READ_BATCH; i++)
    {
      struct msghdr *h = &b->msgs[i].msg_hdr;

      b->iov[i].iov_base = b->buffers + i * server->options.max_datagram_size;
      b->iov[i].iov_len = server->options.max_datagram_size;
      h->msg_name = &b->names[i];
      h->msg_namelen = sizeof (struct sockaddr_un);
      h->msg_iov = &b->iov[i];
      h->msg_iovlen = 1;
      h->msg_control = b->controls + i * stride;
      h->msg_controllen = control_size;
      h->msg_flags = 0;
    }
}

/* One recvmmsg() and the routing of what it read; the clients that need an
 * invocation go to the scheduler after the whole batch is routed.  Returns
 * what recvmmsg() returned, errno set when negative. */
static int
read_batch (UdgServer *server, Batch *b)
{
  guint n_schedule = 0;
  int n;

  prepare (server, b);
  n = recvmmsg (server->fd, b->msgs, UDG_READ_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
  for (int i = 0; i < n; i++)
    {
      UdgClient *client = route (server, b, &b->msgs[i], &b->owners[n_schedule]);

      if (client != NULL)
        b->to_schedule[n_schedule++] = client;
    }
  for (guint i = 0; i < n_schedule; i++)
    udg_scheduler_run (server, b->to_schedule[i], b->owners[i]);
  return n;
}

static Batch *
batch_new (UdgServer *server)
{
  Batch *b = g_new0 (Batch, 1);

  b->buffers = g_malloc (UDG_READ_BATCH * server->options.max_datagram_size);
  b->controls = g_malloc (UDG_READ_BATCH * CMSG_ALIGN (server->reader.control_size));
  return b;
}

static void
batch_free (Batch *b)
{
  g_free (b->buffers);
  g_free (b->controls);
  g_free (b);
}

/* --- reading from a pool task: for speed --------------------------------------
 *
 * Handing every batch from the reader thread to a pool thread costs two
 * thread wake-ups per batch.  So a pool task reads the next batch itself
 * after an invocation (udg_reader_after_invocation()) when no other client
 * is queued; with the socket empty, it tries again for UDG_SPIN_USEC before
 * its thread goes back to sleep.  While others are queued it reads after
 * every UDG_READ_EVERY invocations, as the reader thread is not there to
 * empty the kernel's short queue meanwhile (it runs SCHED_BATCH: woken, it
 * waits for a running task's turn to end).  Whoever reads holds read_lock,
 * so the socket has one reader at a time.  Under load the server is then
 * one thread that reads, runs and replies, like a plain recvmmsg() loop.
 * docs/design.md gives what each part buys. */

/* Reads a batch if no one else is reading.  TRUE when it read a datagram. */
static gboolean
help (UdgServer *server)
{
  UdgReader *reader = &server->reader;
  int n = 0;

  if (pthread_mutex_trylock (&reader->read_lock) != 0)
    return FALSE;
  if (reader->batch != NULL && !g_atomic_int_get (&reader->stop))
    n = read_batch (server, reader->batch);
  pthread_mutex_unlock (&reader->read_lock);
  return n > 0;
}

/* Invocations this pool thread ran while others were queued, since it last
 * read for that reason. */
static GPrivate ran_while_queued = G_PRIVATE_INIT (NULL);

/* A pool task after each invocation. */
void
udg_reader_after_invocation (UdgServer *server)
{
  gint64 until;

  if (!UDG_TASKS_READ)
    return;
  if (g_atomic_int_get (&server->scheduler.queued) > 0)
    {
      guint n = GPOINTER_TO_UINT (g_private_get (&ran_while_queued)) + 1;

      if (UDG_READ_EVERY > 0 && n >= UDG_READ_EVERY)
        {
          help (server);
          n = 0;
        }
      g_private_set (&ran_while_queued, GUINT_TO_POINTER (n));
      return;
    }
  if (help (server))
    return;
  until = g_get_monotonic_time () + UDG_SPIN_USEC;
  while (g_atomic_int_get (&server->scheduler.queued) == 0 && g_get_monotonic_time () < until)
    {
      sched_yield ();
      if (help (server))
        return;
    }
}

/* --- the reader thread -------------------------------------------------------- */

static void *
reader_thread (void *data)
{
  UdgServer *server = data;
  UdgReader *reader = &server->reader;
  struct pollfd fds[2] = {
    { server->fd, POLLIN, 0 },
    { reader->wake_fd, POLLIN, 0 },
  };

  udg_thread_use_batch_policy ();

  while (!g_atomic_int_get (&reader->stop))
    {
      int n;

      pthread_mutex_lock (&reader->read_lock);
      n = read_batch (server, reader->batch);
      pthread_mutex_unlock (&reader->read_lock);
      if (n > 0)
        continue;                        /* more may have come meanwhile */
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        udg_log (G_LOG_LEVEL_WARNING, NULL, "Unrelated error occurred on datagram reception: %s: %s",
                 "OSError", g_strerror (errno));
      if (poll (fds, 2, -1) < 0 && errno != EINTR)
        udg_log (G_LOG_LEVEL_WARNING, NULL, "poll() failed in the dispatcher: %s", g_strerror (errno));
      if (fds[1].revents & POLLIN)
        udg_eventfd_drain (reader->wake_fd);
    }
  return NULL;
}

void
udg_reader_init (UdgReader *reader)
{
  reader->wake_fd = -1;
  pthread_mutex_init (&reader->read_lock, NULL);
}

void
udg_reader_clear (UdgReader *reader)
{
  if (reader->wake_fd >= 0)
    close (reader->wake_fd);
  pthread_mutex_destroy (&reader->read_lock);
}

/* Every datagram's credentials, for the scheduler's fairness between
 * uids: SO_PASSCRED, set now (after service_init, which may have set it to
 * have them for the handlers) unless it is on already.  The kernel does not
 * autobind an unnamed sender for it, and a handler that did not ask for
 * credentials does not see them (udg-reader.c strips them). */
static void
want_credentials (UdgServer *server)
{
  UdgReader *reader = &server->reader;
  int on = 0, one = 1;
  socklen_t len = sizeof on;
  gsize for_handlers;

  getsockopt (server->fd, SOL_SOCKET, SO_PASSCRED, &on, &len);
  reader->credentials_visible = on || server->options.pass_credentials;
  reader->passcred_ours = !on && setsockopt (server->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0;
  /* The handlers' buffer, and room for the credentials in front when they
   * are ours (the kernel writes them first); without a buffer of their own,
   * descriptors find no room and the kernel discards them. */
  if (server->options.receive_ancillary_data)
    for_handlers = server->ancillary_bufsize;
  else if (server->options.pass_credentials)
    for_handlers = server->ancillary_bufsize; /* credentials, and fds to close */
  else
    for_handlers = 0;
  reader->control_size = for_handlers + (reader->credentials_visible && for_handlers > 0 ? 0 : CMSG_SPACE (sizeof (struct ucred)));
}

gboolean
udg_reader_start (UdgServer *server, GError **error)
{
  UdgReader *reader = &server->reader;
  int rc;

  /* Made at the first run and kept until the server is freed (only
   * udg_reader_stop() writes to it), emptied of the last run's stop. */
  if (reader->wake_fd < 0)
    reader->wake_fd = udg_eventfd_new ();
  if (reader->wake_fd < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to create the dispatcher's wake-up descriptor"));
      return FALSE;
    }
  udg_eventfd_drain (reader->wake_fd);
  want_credentials (server);
  g_atomic_int_set (&reader->stop, FALSE);
  pthread_mutex_lock (&reader->read_lock);
  reader->batch = batch_new (server);
  pthread_mutex_unlock (&reader->read_lock);
  rc = pthread_create (&reader->thread, NULL, reader_thread, server);
  if (rc != 0)
    {
      udg_set_error_from_errno (error, rc, _("Unable to start the dispatcher thread"));
      pthread_mutex_lock (&reader->read_lock);
      g_clear_pointer (&reader->batch, batch_free);
      pthread_mutex_unlock (&reader->read_lock);
      return FALSE;
    }
  reader->started = TRUE;
  return TRUE;
}

/* Stops the thread and waits for it: no datagram is routed afterwards, by
 * the thread or a task. */
void
udg_reader_stop (UdgServer *server)
{
  UdgReader *reader = &server->reader;

  if (!reader->started)
    return;
  g_atomic_int_set (&reader->stop, TRUE);
  udg_eventfd_signal (reader->wake_fd);
  pthread_join (reader->thread, NULL);
  reader->started = FALSE;
  /* Left as it was found: the socket may go on (the fd store, another
   * run) and whoever reads it next did not ask for credentials. */
  if (reader->passcred_ours)
    {
      int zero = 0;

      setsockopt (server->fd, SOL_SOCKET, SO_PASSCRED, &zero, sizeof zero);
      reader->passcred_ours = FALSE;
    }
  pthread_mutex_lock (&reader->read_lock);
  g_clear_pointer (&reader->batch, batch_free);
  pthread_mutex_unlock (&reader->read_lock);
}
