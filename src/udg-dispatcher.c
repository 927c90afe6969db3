/* udgram - the dispatcher thread and the pool workers: the hot path
 *
 * Reading: recvmmsg() batches, each datagram's sender found in the client
 * table (a hash lookup with a key built on the stack) and the datagram
 * appended to the client's mailbox; a client with no invocation yet is
 * appended to the run queue.  Reading never waits for a handler: a full
 * mailbox drops the datagram and counts it.  One reader at a time
 * (read_lock), so that a peer's datagrams keep their order: the dispatcher
 * thread, or a pool task between invocations.
 *
 * Pool tasks drain the run queue, one handler invocation at a time;
 * datagrams left in a mailbox when its invocation returns queue the client
 * again, behind the others, so none is starved.  A task reads the socket
 * itself when the run queue is empty and every few invocations, and stays
 * (spinning briefly) while there is work; meanwhile the dispatcher sleeps,
 * so that under load the server is one runnable thread that wakes no
 * other, like a plain recvmmsg loop.  The dispatcher reads again when no
 * task has read for a moment, when the last task leaves or blocks, and
 * whenever the pool is idle.  A second task starts when many clients wait
 * or the client taken waited long, or when the one at work is stuck in a
 * long invocation; a task whose handler blocks in udg_client_recv() is
 * replaced.  A client whose invocation ends with nothing queued stays a
 * second in the idle cache, so that a peer sending request after request
 * does not create and free its state each time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#define BATCH 16

/* A drain task that finds the run queue and the socket empty tries the
 * socket again, yielding the core, this long before it gives its thread
 * back to the pool: under load the next datagram comes within that time,
 * and no one pays for a futex sleep and wake-up (measured in
 * bench/README.md). */
#define UDG_DRAIN_SPIN_USEC 20

/* Likewise the dispatcher, when the socket is empty after a batch: it
 * tries again, yielding the core, this long before it sleeps in poll().
 * Both spins are adaptive: one that finds nothing turns spinning off until
 * a sleep turns out shorter than a spin, so that a server at a moderate
 * rate sleeps between datagrams instead of spinning after each. */
#define UDG_DISPATCH_SPIN_USEC 20

/* A second drain task is started (up to one per core) only when this many
 * clients wait behind the one a task took, or when the client it took
 * waited this long: for short handlers one thread keeps up, and fewer
 * runnable threads than cores leave room for the clients on the same
 * machine (measured in bench/README.md: at 8 clients, two tasks and the
 * load generator shared two cores and every reply waited for a preempted
 * thread now and then); handlers that take long start it by the wait. */
#define UDG_DRAIN_SECOND_AT 32
#define UDG_DRAIN_SECOND_AFTER_USEC 5000

/* And when clients have waited this long without any task taking one (the
 * tasks at work are in long invocations), the dispatcher starts another. */
#define UDG_DRAIN_STALL_USEC 10000

/* A drain task reads the socket itself after this many invocations, and
 * whenever the run queue is empty: the kernel queues only
 * net.unix.max_dgram_qlen datagrams for the socket, and a full queue makes
 * the senders wait, in no particular order. */
#define UDG_HELP_EVERY 8

/* While a drain task reads the socket, the dispatcher leaves it to the
 * task: it looks again after this long without a read by a task, or when
 * the last task at work leaves or blocks in a handler's wait. */
#define UDG_DEFER_USEC 500

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

static guint
at_work_locked (UdgServer *server)
{
  return server->tasks - MIN (server->blocked, server->tasks);
}

/* With pool_lock held: one more drain task.  FALSE if the pool refused it. */
static gboolean
push_drainer_locked (UdgServer *server)
{
  gboolean pushed;

  UDG_TSAN_RELEASE (server);
  UDG_TSAN_IGNORE_BEGIN ();
  pushed = g_thread_pool_push (server->pool, server, NULL);
  UDG_TSAN_IGNORE_END ();
  if (pushed)
    {
      gint64 now = g_get_monotonic_time ();

      /* A task left just before this work came: spinning would have
       * caught it. */
      if (now - server->last_drain_exit < UDG_DRAIN_SPIN_USEC)
        server->drain_spin = TRUE;
      server->tasks++;
      g_atomic_int_set (&server->tasks_at_work, at_work_locked (server));
      server->last_take = now;
    }
  return pushed;
}

/* With pool_lock held: pushes drain tasks until @want of them (or one per
 * queued client, if fewer) are at work, that is pushed and not blocked in a
 * handler's wait.  A task already draining runs the next client without any
 * wake-up, so the dispatcher wakes a thread only when none is at work. */
static void
start_drainers_locked (UdgServer *server, guint want)
{
  want = MIN (want, g_queue_get_length (&server->run_queue));
  while (server->pool != NULL && !g_atomic_int_get (&server->closing) && at_work_locked (server) < want)
    if (!push_drainer_locked (server))
      break;
}

/* For the dispatcher: starts one more drain task (up to one per core) when
 * clients wait and no task took one for UDG_DRAIN_STALL_USEC.  Returns the
 * microseconds after which to look again, or -1 when none waits. */
gint64
udg_server_check_stalled (UdgServer *server)
{
  gint64 again = -1;

  pthread_mutex_lock (&server->pool_lock);
  if (server->run_queue.length > 0 && server->pool != NULL)
    {
      gint64 since = g_get_monotonic_time () - server->last_take;

      if (since >= UDG_DRAIN_STALL_USEC)
        {
          if (at_work_locked (server) < server->n_cores && !g_atomic_int_get (&server->closing))
            push_drainer_locked (server);
          server->last_take = g_get_monotonic_time ();
          since = 0;
        }
      again = UDG_DRAIN_STALL_USEC - since;
    }
  pthread_mutex_unlock (&server->pool_lock);
  return again;
}

void
udg_server_blocked_changed (UdgServer *server, gint delta)
{
  pthread_mutex_lock (&server->pool_lock);
  server->blocked += delta;
  UDG_STAT_ADD (server, blocked_in_recv, delta);
  g_atomic_int_set (&server->tasks_at_work, at_work_locked (server));
  if (server->pool != NULL && !g_atomic_int_get (&server->closing))
    {
      guint wanted = server->n_cores + server->blocked;
      guint max = MIN (wanted, server->options.max_threads);

      UDG_TSAN_IGNORE_BEGIN ();
      g_thread_pool_set_max_threads (server->pool, (gint) max, NULL);
      UDG_TSAN_IGNORE_END ();
      /* This thread's task stopped draining: another one takes over. */
      if (delta > 0)
        start_drainers_locked (server, 1);
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
  /* A task that waits no longer reads the socket: the dispatcher does. */
  if (delta > 0 && g_atomic_int_get (&server->dispatcher_deferred))
    udg_dispatcher_wake (server);
}

static void
finish_unscheduled (UdgServer *server, UdgClient *client)
{
  udg_client_drop_mailbox (client, &server->stats.dropped_shutdown);
  udg_client_unref (client);
}

/* Queues an invocation of each of @clients (CLIENT_PENDING), whose
 * references the run queue takes over; when the server is stopping, drops
 * their mail. */
static void
schedule_many (UdgServer *server, UdgClient **clients, guint n)
{
  gboolean queued = FALSE;

  pthread_mutex_lock (&server->pool_lock);
  if (server->pool != NULL && !g_atomic_int_get (&server->closing))
    {
      gint64 now = g_get_monotonic_time ();

      for (guint i = 0; i < n; i++)
        {
          clients[i]->queued_at = now;
          g_queue_push_tail_link (&server->run_queue, &clients[i]->run_link);
        }
      g_atomic_int_set (&server->run_queue_length, server->run_queue.length);
      start_drainers_locked (server, 1);
      queued = TRUE;
    }
  pthread_mutex_unlock (&server->pool_lock);
  if (!queued)
    for (guint i = 0; i < n; i++)
      finish_unscheduled (server, clients[i]);
}

void
udg_server_schedule (UdgServer *server, UdgClient *client)
{
  schedule_many (server, &client, 1);
}

/* After teardown joined the pool: nothing may be left, but a client that
 * is would keep its reference and its fds. */
void
udg_server_drop_run_queue (UdgServer *server)
{
  GList *link;

  pthread_mutex_lock (&server->pool_lock);
  while ((link = g_queue_pop_head_link (&server->run_queue)) != NULL)
    {
      pthread_mutex_unlock (&server->pool_lock);
      finish_unscheduled (server, link->data);
      pthread_mutex_lock (&server->pool_lock);
    }
  server->tasks = 0;
  g_atomic_int_set (&server->tasks_at_work, 0);
  g_atomic_int_set (&server->run_queue_length, 0);
  pthread_mutex_unlock (&server->pool_lock);
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

/* One handler invocation for @client, whose reference it takes over. */
static void
run_client (UdgServer *server, UdgClient *client)
{
  UdgInvocation invocation = { 0 };
  UdgInvocation *previous;
  UdgContext context = { NULL, NULL };
  UdgContext *previous_context;
  g_autoptr(GError) error = NULL;
  gboolean ok, again;

  pthread_mutex_lock (&client->lock);
  if (g_atomic_int_get (&server->closing) || g_queue_is_empty (&client->mailbox))
    {
      pthread_mutex_unlock (&client->lock);
      finish_unscheduled (server, client);
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
    udg_client_release_idle (client);
}

static gboolean help_read (UdgServer *server);

/* A pool task: runs the queued clients' invocations until the run queue is
 * empty.  With none queued it reads the socket itself (when the dispatcher
 * is not reading it), then spins briefly, before it leaves.  When many
 * clients wait behind the one it took and fewer tasks than cores are at
 * work, it starts another. */
void
udg_server_drain (gpointer data, gpointer user_data)
{
  UdgServer *server = user_data;
  gboolean spun = FALSE;
  gboolean tried_read = FALSE;
  guint since_read = 0;

  /* First: nothing of @server may be read before this. */
  UDG_TSAN_ACQUIRE (server);
  for (;;)
    {
      GList *link;

      pthread_mutex_lock (&server->pool_lock);
      link = g_queue_pop_head_link (&server->run_queue);
      if (link == NULL && !tried_read)
        {
          /* The datagrams that would queue the next client are probably in
           * the socket already: reading them here saves waiting for the
           * dispatcher to get a core. */
          pthread_mutex_unlock (&server->pool_lock);
          tried_read = TRUE;
          help_read (server);
          continue;
        }
      if (link == NULL && !spun && server->drain_spin)
        {
          gint64 until = g_get_monotonic_time () + UDG_DRAIN_SPIN_USEC;

          pthread_mutex_unlock (&server->pool_lock);
          spun = TRUE;
          while (g_atomic_int_get (&server->run_queue_length) == 0 && g_get_monotonic_time () < until)
            if (!help_read (server))
              sched_yield ();
          continue;
        }
      if (link == NULL)
        {
          if (spun)
            server->drain_spin = FALSE; /* nothing came: leave at once next time */
          server->tasks--;
          g_atomic_int_set (&server->tasks_at_work, at_work_locked (server));
          server->last_drain_exit = g_get_monotonic_time ();
          pthread_mutex_unlock (&server->pool_lock);
          /* The dispatcher left the socket to the tasks: it reads again
           * (tasks_at_work is set before this is read; the dispatcher
           * sets dispatcher_deferred before it reads tasks_at_work). */
          if (g_atomic_int_get (&server->dispatcher_deferred))
            udg_dispatcher_wake (server);
          break;
        }
      spun = FALSE;
      tried_read = FALSE;
      g_atomic_int_set (&server->run_queue_length, server->run_queue.length);
      server->last_take = g_get_monotonic_time ();
      if (g_queue_get_length (&server->run_queue) >= UDG_DRAIN_SECOND_AT ||
          server->last_take - ((UdgClient *) link->data)->queued_at >= UDG_DRAIN_SECOND_AFTER_USEC)
        start_drainers_locked (server, server->n_cores);
      pthread_mutex_unlock (&server->pool_lock);
      run_client (server, link->data);
      if (++since_read >= UDG_HELP_EVERY)
        {
          since_read = 0;
          help_read (server);
        }
    }
  /* Last: teardown acquires it after g_thread_pool_free() joined us.  The
   * server outlives its pool. */
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
  UdgClient *to_schedule[BATCH];  /* (owned): taken by schedule_many() */
  gboolean schedule[BATCH];
} Batch;

/* With clients_lock held: the client of @peer, with a new reference. */
static UdgClient *
lookup_client (UdgServer *server, const UdgAddress *peer)
{
  UdgClient *client = g_hash_table_lookup (server->clients, peer);

  if (client != NULL && udg_client_take_cached (client) != NULL)
    return client;
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

/* Returns the client to release afterwards. */
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

  pthread_mutex_lock (&server->clients_lock);
  client = lookup_client (server, &key);
  pthread_mutex_unlock (&server->clients_lock);
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

/* With read_lock held: one recvmmsg() and the routing of what it read.
 * Returns what recvmmsg() returned, errno set when negative; *scheduled
 * is how many clients were queued for an invocation. */
static int
read_batch (UdgServer *server, Dispatcher *d, guint *scheduled)
{
  Batch *b = &d->batch;
  guint n_scheduled = 0;
  int n;

  *scheduled = 0;
  prepare (server, b);
  n = recvmmsg (server->fd, b->msgs, BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
  if (n <= 0)
    return n;

  for (int i = 0; i < n; i++)
    b->touched[i] = route (server, d, &b->msgs[i], &b->schedule[i]);

  /* After the batch: the run queue takes the clients to schedule in one
   * go, and unrefs that may free. */
  for (int i = 0; i < n; i++)
    {
      UdgClient *client = g_steal_pointer (&b->touched[i]);

      if (client == NULL)
        continue;
      if (b->schedule[i])
        b->to_schedule[n_scheduled++] = client;
      else
        udg_client_unref (client);
    }
  if (n_scheduled > 0)
    {
      schedule_many (server, b->to_schedule, n_scheduled);
      /* Read by a drain task while the dispatcher sleeps with no stall
       * check due: it must look at the run queue (run_queue_length was
       * set before this is read; the dispatcher sets dispatcher_idle
       * before it reads run_queue_length). */
      if (g_atomic_int_get (&server->dispatcher_idle))
        udg_dispatcher_wake (server);
    }
  *scheduled = n_scheduled;
  return n;
}

/* For a drain task with nothing to run: reads a batch if no one else is
 * reading.  TRUE if it read any datagram. */
static gboolean
help_read (UdgServer *server)
{
  Dispatcher *d;
  guint scheduled;
  int n = 0;

  if (pthread_mutex_trylock (&server->read_lock) != 0)
    return FALSE;
  d = server->reader;
  if (d != NULL && !g_atomic_int_get (&server->closing))
    n = read_batch (server, d, &scheduled);
  pthread_mutex_unlock (&server->read_lock);
  if (n > 0)
    __atomic_store_n (&server->last_help, g_get_monotonic_time (), __ATOMIC_RELAXED);
  return n > 0;
}

/* Empties the wake-up counter: TRUE when it was a stop.  Read, then look:
 * a stop whose write this read consumed set the flag before it wrote. */
static gboolean
consume_wake (UdgServer *server)
{
  guint64 count;

  while (read (server->wake_fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
  return g_atomic_int_get (&server->dispatcher_stop);
}

static gpointer
dispatcher_main (gpointer data)
{
  UdgServer *server = data;
  Dispatcher *d = g_new0 (Dispatcher, 1);
  Batch *b = &d->batch;
  gboolean idle_watched = FALSE;
  gint64 next_expiry = 0;
  gint64 stall_check = 0;
  gboolean read_first = FALSE;
  gboolean spin = FALSE;
  gint64 spin_until = 0;
  struct pollfd fds[2] = {
    { server->fd, POLLIN, 0 },
    { server->wake_fd, POLLIN, 0 },
  };

  b->buffers = g_malloc (BATCH * server->options.max_datagram_size);
  if (server->options.receive_ancillary_data || server->options.pass_credentials)
    b->controls = g_malloc (BATCH * server->ancillary_bufsize);
  pthread_mutex_lock (&server->read_lock);
  server->reader = d;
  pthread_mutex_unlock (&server->read_lock);

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      int timeout = -1;
      guint n_scheduled;
      gboolean defer;
      int n, errsv;

      /* Idle clients are released about UDG_IDLE_CLIENT_USEC after their
       * last invocation; with none cached, the dispatcher sleeps. */
      if (idle_watched && now >= next_expiry)
        {
          idle_watched = udg_server_expire_idle_clients (server, FALSE);
          next_expiry = now + UDG_IDLE_CLIENT_USEC / 4;
        }
      /* Clients queued a while ago and still waiting: see whether the
       * tasks at work are stuck in long invocations (at most once per
       * UDG_DRAIN_STALL_USEC, so that it costs nothing per batch). */
      if (stall_check != 0 && now >= stall_check)
        {
          gint64 again = udg_server_check_stalled (server);

          stall_check = again < 0 ? 0 : now + again;
        }
      /* A drain task is reading the socket between its invocations: the
       * dispatcher stays off the cores (a third runnable thread on two
       * cores delays them all) and looks again after UDG_DEFER_USEC, or
       * when the last task leaves (it wakes the dispatcher). */
      defer = FALSE;
      if (now - __atomic_load_n (&server->last_help, __ATOMIC_RELAXED) < UDG_DEFER_USEC)
        {
          g_atomic_int_set (&server->dispatcher_deferred, TRUE);
          defer = g_atomic_int_get (&server->tasks_at_work) > 0;
          if (!defer)
            g_atomic_int_set (&server->dispatcher_deferred, FALSE);
        }
      if (defer)
        {
          struct timespec ts = { 0, UDG_DEFER_USEC * 1000 };

          if (stall_check == 0 && g_atomic_int_get (&server->run_queue_length) > 0)
            stall_check = now + UDG_DRAIN_STALL_USEC;
          read_first = FALSE;
          n = ppoll (fds + 1, 1, &ts, NULL);
          g_atomic_int_set (&server->dispatcher_deferred, FALSE);
          if (n > 0)
            {
              if (consume_wake (server))
                break;
              idle_watched = TRUE;
            }
          continue;
        }
      /* About to sleep with no stall check due: a drain task that queues
       * clients from now on wakes the dispatcher (read_batch()), and those
       * it queued before are seen here. */
      if (stall_check == 0 && !read_first)
        {
          g_atomic_int_set (&server->dispatcher_idle, TRUE);
          if (g_atomic_int_get (&server->run_queue_length) > 0)
            {
              stall_check = now + UDG_DRAIN_STALL_USEC;
              g_atomic_int_set (&server->dispatcher_idle, FALSE);
            }
        }
      if (idle_watched)
        timeout = (int) MAX (1, (next_expiry - now) / 1000);
      if (stall_check != 0)
        timeout = (int) MIN ((guint) timeout, MAX (1, (stall_check - now + 999) / 1000));
      if (read_first)
        {
          /* The last batch was not empty: more has probably come while it
           * was routed, and recvmmsg() says so without a poll(). */
          if (g_atomic_int_get (&server->dispatcher_stop))
            break;
        }
      else
        {
          int rc = poll (fds, 2, timeout);

          g_atomic_int_set (&server->dispatcher_idle, FALSE);
          if (rc < 0 && errno != EINTR)
            {
              udg_log (G_LOG_LEVEL_WARNING, NULL, "poll() failed in the dispatcher: %s", g_strerror (errno));
              continue;
            }
          /* Datagrams come closer together than a spin: spin next time. */
          spin = g_get_monotonic_time () - now < UDG_DISPATCH_SPIN_USEC;
          if (fds[1].revents & POLLIN)
            {
              if (consume_wake (server))
                break;
              idle_watched = TRUE;
            }
          if (!(fds[0].revents & (POLLIN | POLLERR)))
            continue;
        }

      pthread_mutex_lock (&server->read_lock);
      n = read_batch (server, d, &n_scheduled);
      errsv = errno;
      pthread_mutex_unlock (&server->read_lock);
      if (n > 0)
        {
          read_first = TRUE;
          spin_until = spin ? g_get_monotonic_time () + UDG_DISPATCH_SPIN_USEC : 0;
        }
      else if (read_first && n < 0 && errsv == EAGAIN && spin_until != 0)
        {
          if (g_get_monotonic_time () < spin_until)
            {
              sched_yield ();
              continue;
            }
          spin = FALSE; /* nothing came: poll() from now on */
          read_first = FALSE;
        }
      else
        read_first = FALSE;
      if (n < 0 && errsv != EAGAIN && errsv != EINTR)
        udg_log (G_LOG_LEVEL_WARNING, NULL, "Unrelated error occurred on datagram reception: %s: %s",
                 "OSError", g_strerror (errsv));
      if (n_scheduled > 0 && stall_check == 0)
        stall_check = g_get_monotonic_time () + UDG_DRAIN_STALL_USEC;
    }

  pthread_mutex_lock (&server->read_lock);
  server->reader = NULL;
  pthread_mutex_unlock (&server->read_lock);
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
  guint64 count;
  int rc;

  /* Created once and kept until the server is freed: pool threads still
   * finishing after the dispatcher stopped may write to it. */
  if (server->wake_fd < 0)
    server->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->wake_fd < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to create the dispatcher's wake-up descriptor"));
      return FALSE;
    }
  /* What the last run left in the counter. */
  while (read (server->wake_fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
  g_atomic_int_set (&server->dispatcher_stop, FALSE);
  rc = pthread_create (&server->dispatcher, NULL, dispatcher_thread, server);
  if (rc != 0)
    {
      udg_set_error_from_errno (error, rc, _("Unable to start the dispatcher thread"));
      return FALSE;
    }
  server->dispatcher_started = TRUE;
  return TRUE;
}

void
udg_dispatcher_wake (UdgServer *server)
{
  guint64 one = 1;

  /* Nonblocking: a full counter is awake enough. */
  while (write (server->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

void
udg_dispatcher_stop (UdgServer *server)
{
  if (!server->dispatcher_started)
    return;
  g_atomic_int_set (&server->dispatcher_stop, TRUE);
  udg_dispatcher_wake (server);
  pthread_join (server->dispatcher, NULL);
  server->dispatcher_started = FALSE;
}
