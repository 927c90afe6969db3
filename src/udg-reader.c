/* udgram - the reader: reading the socket and routing each datagram
 *
 * The dispatcher thread reads batches with recvmmsg() until the socket is
 * empty, then sleeps in poll() on the socket and its wake-up eventfd
 * (written only to stop it).  Under load, pool tasks read too, between
 * invocations (udg_reader_run_task(), the task the scheduler runs); one
 * reader at a time (read_lock), so that a peer's datagrams enter its
 * mailbox in the order they came.  Each datagram is checked (size, sender,
 * uid), its sender's client found in the table (a hash lookup with a key
 * built on the stack, the table's lock taken once a batch) and the
 * datagram delivered to the client's mailbox; a client that had no
 * invocation is handed to the scheduler.  It never waits for a handler: a
 * full mailbox drops the datagram and counts it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

/* The reader thread's own state: buffers for one recvmmsg() batch. */
typedef struct
{
  struct mmsghdr msgs[UDG_READ_BATCH];
  struct iovec iov[UDG_READ_BATCH];
  struct sockaddr_un names[UDG_READ_BATCH];
  guint8 *buffers;
  guint8 *controls;
  UdgClient *clients[UDG_READ_BATCH];     /* (owned): the senders' */
  UdgClient *to_schedule[UDG_READ_BATCH]; /* (owned): handed to the scheduler */
  uid_t owners[UDG_READ_BATCH];           /* their senders' uids */
  gint64 last_drop_log;
} Batch;

/* The counters of routing, under read_lock: one writer at a time, so a
 * plain add (atomic for the readers of the statistics). */
#define STAT_BUMP(server, field) \
  __atomic_store_n (&(server)->stats.field, __atomic_load_n (&(server)->stats.field, __ATOMIC_RELAXED) + 1, \
                    __ATOMIC_RELAXED)

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

/* Checks a datagram before it goes anywhere: size, uid, sender.  FALSE
 * when it is dropped here (counted, its descriptors closed). */
static gboolean
admit (UdgServer *server, const struct msghdr *h, const UdgCredentials *credentials)
{
  STAT_BUMP (server, received);
  if (h->msg_flags & MSG_TRUNC)
    {
      STAT_BUMP (server, truncated);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      udg_log (G_LOG_LEVEL_DEBUG, NULL,
               "Dropped a datagram longer than max_datagram_size (%" G_GSIZE_FORMAT " bytes)",
               server->options.max_datagram_size);
      return FALSE;
    }
  if (h->msg_flags & MSG_CTRUNC)
    STAT_BUMP (server, ancillary_truncated);
  if (server->options.n_allowed_uids > 0 && !uid_allowed (server, credentials))
    {
      STAT_BUMP (server, denied);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      udg_log (G_LOG_LEVEL_DEBUG, NULL, "Refused a datagram from uid %ld: not in the allowed uids",
               credentials != NULL ? (long) credentials->uid : -1L);
      return FALSE;
    }
  if (h->msg_namelen <= sizeof (sa_family_t) && server->options.unnamed != UDG_UNNAMED_ADDRESSES_HANDLE)
    {
      STAT_BUMP (server, unnamed);
      udg_ancillary_close_control_fds (h->msg_control, h->msg_controllen);
      if (server->options.unnamed == UDG_UNNAMED_ADDRESSES_WARN)
        udg_log (G_LOG_LEVEL_WARNING, NULL,
                 "A datagram received from an unbound UNIX datagram socket has been dropped.");
      return FALSE;
    }
  return TRUE;
}

/* One datagram, admitted, into the mailbox of its client (b->clients[i],
 * whose reference it takes), or counted and dropped.  Returns the client
 * (with the reference) when it needs an invocation. */
static UdgClient *
route (UdgServer *server, Batch *b, guint i, const UdgCredentials *credentials)
{
  const struct mmsghdr *m = &b->msgs[i];
  const struct msghdr *h = &m->msg_hdr;
  UdgClient *client = g_steal_pointer (&b->clients[i]);
  UdgDatagram *dg = udg_datagram_new (h->msg_iov[0].iov_base, m->msg_len, h->msg_flags, h->msg_control,
                                      h->msg_controllen, server->options.receive_ancillary_data, credentials,
                                      server->reader.credentials_visible);
  gboolean schedule;

  if (!udg_client_deliver (client, dg, &schedule))
    {
      gint64 now = g_get_monotonic_time ();

      STAT_BUMP (server, dropped_mailbox);
      udg_datagram_free (dg);
      if (now - b->last_drop_log > UDG_MAILBOX_FULL_LOG_USEC)
        {
          b->last_drop_log = now;
          udg_log (G_LOG_LEVEL_DEBUG, NULL, "A client's mailbox is full: datagrams dropped (see mailbox_limit)");
        }
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

/* One recvmmsg() and the routing of what it read: the datagrams checked,
 * their clients found under one hold of the table's lock, each delivered;
 * the clients that need an invocation go to the scheduler after the whole
 * batch.  Returns what recvmmsg() returned, errno set when negative. */
static int
read_batch (UdgServer *server, Batch *b)
{
  UdgCredentials credentials[UDG_READ_BATCH];
  gboolean has_credentials[UDG_READ_BATCH];
  gboolean admitted[UDG_READ_BATCH];
  guint n_schedule = 0, n_admitted = 0;
  int n;

  prepare (server, b);
  n = recvmmsg (server->fd, b->msgs, UDG_READ_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
  for (int i = 0; i < n; i++)
    {
      const struct msghdr *h = &b->msgs[i].msg_hdr;

      has_credentials[i] = udg_ancillary_find_credentials (h->msg_control, h->msg_controllen, &credentials[i]);
      admitted[i] = admit (server, h, has_credentials[i] ? &credentials[i] : NULL);
      n_admitted += admitted[i];
    }
  if (n_admitted > 0)
    {
      pthread_mutex_lock (&server->clients_lock);
      for (int i = 0; i < n; i++)
        if (admitted[i])
          {
            const struct msghdr *h = &b->msgs[i].msg_hdr;
            UdgAddress key;

            udg_address_init_from_sockaddr (&key, h->msg_name, h->msg_namelen);
            b->clients[i] = udg_client_get_unlocked (server, &key);
          }
      pthread_mutex_unlock (&server->clients_lock);
    }
  for (int i = 0; i < n; i++)
    if (admitted[i])
      {
        UdgClient *client = route (server, b, i, has_credentials[i] ? &credentials[i] : NULL);

        if (client != NULL)
          {
            b->owners[n_schedule] = has_credentials[i] ? credentials[i].uid : UDG_UID_UNKNOWN;
            b->to_schedule[n_schedule++] = client;
          }
      }
  for (guint i = 0; i < n_schedule; i++)
    udg_client_schedule (b->to_schedule[i], b->owners[i]);
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
 * after an invocation (after_invocation()) when no other client is
 * queued; with the socket empty, it tries again for UDG_SPIN_USEC before
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
static _Thread_local guint ran_while_queued;

/* A pool task after each invocation. */
static void
after_invocation (UdgServer *server)
{
  gint64 until;

  if (!UDG_TASKS_READ)
    return;
  if (udg_scheduler_others_queued (&server->scheduler))
    {
      guint n = ran_while_queued + 1;

      if (UDG_READ_EVERY > 0 && n >= UDG_READ_EVERY)
        {
          help (server);
          n = 0;
        }
      ran_while_queued = n;
      return;
    }
  if (help (server))
    return;
  until = g_get_monotonic_time () + UDG_SPIN_USEC;
  while (!udg_scheduler_others_queued (&server->scheduler) && g_get_monotonic_time () < until)
    {
      sched_yield ();
      if (help (server))
        return;
    }
}

/* What the scheduler runs on a pool thread (the server hands it over): one
 * invocation of the task's client, then perhaps a read. */
void
udg_reader_run_task (UdgSchedulerTask *task, gpointer server)
{
  udg_client_run_invocation (task);
  after_invocation (server);
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
