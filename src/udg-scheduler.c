/* udgram - the scheduler: which client runs, on how many threads
 *
 * A client with mail and no invocation is one task of the server's
 * GThreadPool; the pool's own queue is the run queue.  A task runs one
 * invocation (udg_client_run_invocation()); a client with mail left when it
 * returns is pushed again, behind the others, so that none is starved.
 * Each push hands the client's reference to the pool.
 *
 * How many pool threads run is decided by one function, resize_locked():
 * as many as there are cores, plus one for each invocation that waits for
 * a peer (in udg_client_recv(), or for a slow peer's queue), up to
 * max_threads.  A waiting handler costs a thread, never the service, and
 * runnable threads stay near the core count.
 *
 * When every thread waits for a peer and clients with mail have none, the
 * same function ends the wait of the invocation that has waited longest
 * among those of the uid that holds the most (UDG_MAILBOX_EVICTED pushed
 * in front of its mailbox: its udg_client_recv() fails with
 * UDG_ERROR_TIMED_OUT, as if its timeout had passed), one for each client
 * waiting for a thread.  And the run queue serves first the clients of the
 * uids that hold less than their share of the waiting invocations (the
 * pool's sort function): a uid that holds the pool cannot make another
 * uid's client wait behind its own.
 *
 * A stop first drains (udg_scheduler_drain()): it pushes
 * UDG_MAILBOX_CLOSED to the mailbox of every invocation waiting in
 * udg_client_recv() (the waiting lists, which the scheduler's lock guards
 * together with the draining flag, so that no wait begins unseen after the
 * markers went out), and lets the tasks run what was read until none is
 * left or the drain bound passes.  Then udg_scheduler_stop() frees the
 * pool, which runs the tasks still queued (each drops its client's mail,
 * counted) and joins the threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

const gint udg_mailbox_closed_marker = 0;
const gint udg_mailbox_evicted_marker = 0;

/* Between two warnings that max_threads is reached. */
#define SATURATION_WARNING_USEC (10 * G_USEC_PER_SEC)

/* The invocations of one uid waiting in udg_client_recv(). */
typedef struct
{
  uid_t uid;
  GQueue waiters;           /* (element-type UdgClient) (unowned): the
                             * longest waiting first */
} UidWaiters;

static void
uid_waiters_free (gpointer data)
{
  g_free (data);
}

void
udg_scheduler_init (UdgScheduler *scheduler)
{
  pthread_mutex_init (&scheduler->lock, NULL);
  udg_cond_init_monotonic (&scheduler->drained);
  scheduler->uids = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, uid_waiters_free);
  scheduler->n_cores = MAX (1, g_get_num_processors ());
}

void
udg_scheduler_clear (UdgScheduler *scheduler)
{
  g_hash_table_unref (scheduler->uids);
  pthread_cond_destroy (&scheduler->drained);
  pthread_mutex_destroy (&scheduler->lock);
}

/* The pool task: one invocation of @data, a client whose reference the
 * task takes over. */
static void
run_task (gpointer data, gpointer user_data)
{
  /* Ordered after the push by the release in udg_scheduler_run(). */
  UdgServer *server = user_data;
  UdgScheduler *s = &server->scheduler;

  UDG_TSAN_ACQUIRE (data);
  udg_thread_use_batch_policy ();
  g_atomic_int_add (&s->queued, -1);
  udg_client_run_invocation (data);
  udg_reader_after_invocation (server);
  /* A client pushed again counted itself first: no false zero.  Both are
   * sequentially consistent, so the drain sees the zero or we see it
   * draining. */
  if (g_atomic_int_dec_and_test (&s->tasks) && g_atomic_int_get (&s->draining))
    {
      pthread_mutex_lock (&s->lock);
      pthread_cond_broadcast (&s->drained);
      pthread_mutex_unlock (&s->lock);
    }
  /* Teardown acquires it after g_thread_pool_free() joined the threads. */
  UDG_TSAN_RELEASE (user_data);
}

/* The run queue's order (GThreadPool's sort function): the clients of uids
 * within their share first, then first come first served.  Both keys are
 * set under the scheduler's lock at the push, which the push holds. */
static gint
compare_tasks (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const UdgClient *x = a, *y = b;

  if (x->queue_over_share != y->queue_over_share)
    return x->queue_over_share ? 1 : -1;
  return x->queue_seq < y->queue_seq ? -1 : x->queue_seq > y->queue_seq;
}

/* With the lock held: the uid with the most invocations waiting. */
static UidWaiters *
most_waiting_locked (UdgScheduler *s)
{
  GHashTableIter iter;
  gpointer value;
  UidWaiters *top = NULL;

  g_hash_table_iter_init (&iter, s->uids);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      UidWaiters *w = value;

      if (w->waiters.length > 0 && (top == NULL || w->waiters.length > top->waiters.length))
        top = w;
    }
  return top;
}

/* With the lock held: whether @owner's invocations waiting are past its
 * share, max_threads split evenly among the uids waiting and one more. */
static gboolean
over_share_locked (UdgServer *server, uid_t owner)
{
  UdgScheduler *s = &server->scheduler;
  UidWaiters *w = g_hash_table_lookup (s->uids, GUINT_TO_POINTER (owner));
  guint share = server->options.max_threads / (s->uids_waiting + 1);

  return w != NULL && w->waiters.length >= MAX (1, share);
}

/* With the lock held: @client stops waiting (its invocation returned from
 * the wait, or the wait was ended). */
static void
forget_waiter_locked (UdgServer *server, UdgClient *client)
{
  UdgScheduler *s = &server->scheduler;
  UidWaiters *w = client->waiting_in;

  /* An empty list stays, for the uid's next wait (a run knows few uids). */
  g_queue_unlink (&w->waiters, &client->waiting_link);
  if (w->waiters.length == 0)
    s->uids_waiting--;
  client->waiting_in = NULL;
  s->waiting--;
  s->blocked--;
  UDG_STAT_SUB (server, blocked_in_recv, 1);
}

/* With the lock held: ends the wait of the invocation that has waited
 * longest among those of the uid that holds the most. */
static void
end_longest_wait_locked (UdgServer *server)
{
  UdgScheduler *s = &server->scheduler;
  UidWaiters *top = most_waiting_locked (s);
  UdgClient *victim = top->waiters.head->data;
  uid_t uid = top->uid;
  guint held = top->waiters.length;
  gint64 now = g_get_monotonic_time ();

  forget_waiter_locked (server, victim);
  victim->evicted = TRUE;
  /* In front: the wait ends at once, whatever is queued behind. */
  udg_mailbox_lock (victim->mailbox);
  udg_mailbox_push_front_locked (victim->mailbox, UDG_MAILBOX_EVICTED);
  udg_mailbox_unlock (victim->mailbox);
  UDG_STAT_ADD (server, waits_ended, 1);
  if (now - s->last_saturation_warning > SATURATION_WARNING_USEC)
    {
      s->last_saturation_warning = now;
      if (uid == UDG_UID_UNKNOWN)
        udg_log (G_LOG_LEVEL_WARNING, NULL,
                 "All %u handler threads are taken by invocations waiting in udg_client_recv(): the longest "
                 "waits are ended to serve new clients (senders of unknown uid hold %u of them; raise "
                 "max_threads)", server->options.max_threads, held);
      else
        udg_log (G_LOG_LEVEL_WARNING, NULL,
                 "All %u handler threads are taken by invocations waiting in udg_client_recv(): the longest "
                 "waits are ended to serve new clients (uid %u holds %u of them; raise max_threads)",
                 server->options.max_threads, (guint) uid, held);
    }
}

/* THE decision of how many pool threads may run, with the lock held; and,
 * when every thread waits for a peer while clients with mail wait for a
 * thread, which waits to end. */
static void
resize_locked (UdgServer *server)
{
  UdgScheduler *s = &server->scheduler;
  guint max_threads = server->options.max_threads;
  gint queued = g_atomic_int_get (&s->queued);

  if (s->pool == NULL || s->closing)
    return;
  for (gint ended = 0; ended < queued && s->blocked >= max_threads && s->waiting > 0; ended++)
    end_longest_wait_locked (server);
  UDG_TSAN_IGNORE_BEGIN ();
  g_thread_pool_set_max_threads (s->pool, (gint) MIN (s->n_cores + s->blocked, max_threads), NULL);
  UDG_TSAN_IGNORE_END ();
}

/* Creates the pool for a run. */
void
udg_scheduler_start (UdgServer *server)
{
  UdgScheduler *s = &server->scheduler;

  pthread_mutex_lock (&s->lock);
  s->closing = FALSE;
  g_atomic_int_set (&s->draining, FALSE);
  s->woken = FALSE;
  s->blocked = 0;
  s->waiting = 0;
  s->uids_waiting = 0;
  g_hash_table_remove_all (s->uids);
  g_atomic_int_set (&s->queued, 0);
  g_atomic_int_set (&s->tasks, 0);
  UDG_TSAN_IGNORE_BEGIN ();
  s->pool = g_thread_pool_new (run_task, server, 1, FALSE, NULL);
  g_thread_pool_set_sort_function (s->pool, compare_tasks, NULL);
  UDG_TSAN_IGNORE_END ();
  resize_locked (server);
  pthread_mutex_unlock (&s->lock);
}

/* Queues an invocation of @client (CLIENT_PENDING), whose reference it
 * takes, for the sender of uid @owner (UDG_UID_UNKNOWN: no credentials);
 * when the run is stopping, drops the client's mail instead. */
void
udg_scheduler_run (UdgServer *server, UdgClient *client, uid_t owner)
{
  UdgScheduler *s = &server->scheduler;
  gboolean pushed = FALSE;

  pthread_mutex_lock (&s->lock);
  if (s->pool != NULL && !s->closing)
    {
      client->queue_over_share = s->waiting > 0 && over_share_locked (server, owner);
      client->queue_seq = ++s->seq;
      UDG_TSAN_RELEASE (client);
      g_atomic_int_inc (&s->tasks);
      g_atomic_int_inc (&s->queued);
      UDG_TSAN_IGNORE_BEGIN ();
      pushed = g_thread_pool_push (s->pool, client, NULL);
      UDG_TSAN_IGNORE_END ();
      if (!pushed)
        {
          g_atomic_int_add (&s->queued, -1);
          g_atomic_int_add (&s->tasks, -1);
        }
      else if (s->blocked >= server->options.max_threads)
        resize_locked (server);
    }
  pthread_mutex_unlock (&s->lock);
  if (!pushed)
    {
      udg_client_drop_mailbox (client, &server->stats.dropped_shutdown);
      udg_client_unref (client);
    }
}

/* The invocation of @client begins to wait in udg_client_recv() for a
 * datagram of uid @owner's: one more thread for the others.  FALSE when
 * the run is stopping (do not wait: no datagram comes any more). */
gboolean
udg_scheduler_wait_begin (UdgServer *server, UdgClient *client, uid_t owner)
{
  UdgScheduler *s = &server->scheduler;
  gboolean ok;

  pthread_mutex_lock (&s->lock);
  ok = !s->closing && !g_atomic_int_get (&s->draining);
  if (ok)
    {
      UidWaiters *w = g_hash_table_lookup (s->uids, GUINT_TO_POINTER (owner));

      if (w == NULL)
        {
          w = g_new0 (UidWaiters, 1);
          w->uid = owner;
          g_hash_table_insert (s->uids, GUINT_TO_POINTER (owner), w);
        }
      if (w->waiters.length == 0)
        s->uids_waiting++;
      g_queue_push_tail_link (&w->waiters, &client->waiting_link);
      client->waiting_in = w;
      client->evicted = FALSE;
      s->waiting++;
      s->blocked++;
      UDG_STAT_ADD (server, blocked_in_recv, 1);
      resize_locked (server);
    }
  pthread_mutex_unlock (&s->lock);
  return ok;
}

/* The wait of @client is over.  TRUE when the scheduler ended it (its
 * UDG_MAILBOX_EVICTED is in the mailbox, unless the wait took it). */
gboolean
udg_scheduler_wait_end (UdgServer *server, UdgClient *client)
{
  UdgScheduler *s = &server->scheduler;
  gboolean evicted;

  pthread_mutex_lock (&s->lock);
  evicted = client->evicted;
  if (!evicted)
    forget_waiter_locked (server, client);
  client->evicted = FALSE;
  resize_locked (server);
  pthread_mutex_unlock (&s->lock);
  return evicted;
}

/* An invocation waits for something else than its mailbox (a slow peer's
 * queue): @delta is +1 when it begins, -1 when it ends. */
void
udg_scheduler_blocked (UdgServer *server, gint delta)
{
  UdgScheduler *s = &server->scheduler;

  pthread_mutex_lock (&s->lock);
  s->blocked += delta;
  resize_locked (server);
  pthread_mutex_unlock (&s->lock);
}

/* With the lock held: ends every wait in udg_client_recv() with
 * UDG_MAILBOX_CLOSED, once per run. */
static void
wake_waiters_locked (UdgScheduler *s)
{
  GHashTableIter iter;
  gpointer value;

  if (s->woken)
    return;
  s->woken = TRUE;
  g_hash_table_iter_init (&iter, s->uids);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    for (GList *l = ((UidWaiters *) value)->waiters.head; l != NULL; l = l->next)
      {
        UdgClient *client = l->data;

        udg_mailbox_lock (client->mailbox);
        udg_mailbox_push_locked (client->mailbox, UDG_MAILBOX_CLOSED);
        udg_mailbox_unlock (client->mailbox);
      }
}

/* The first step of a stop, the reader being off: every invocation waiting
 * in udg_client_recv() on an empty mailbox is ended (nothing comes any
 * more), and the tasks go on running what was read until none is left.
 * Returns TRUE when all was handled, FALSE when @deadline (monotonic)
 * passed first. */
gboolean
udg_scheduler_drain (UdgServer *server, gint64 deadline)
{
  UdgScheduler *s = &server->scheduler;
  gboolean drained;

  pthread_mutex_lock (&s->lock);
  g_atomic_int_set (&s->draining, TRUE);
  wake_waiters_locked (s);
  while (g_atomic_int_get (&s->tasks) > 0)
    {
      struct timespec ts;

      if (deadline == G_MAXINT64)
        {
          pthread_cond_wait (&s->drained, &s->lock);
          continue;
        }
      if (g_get_monotonic_time () >= deadline)
        break;
      udg_timespec_from_usec (deadline, &ts);
      pthread_cond_timedwait (&s->drained, &s->lock, &ts);
    }
  drained = g_atomic_int_get (&s->tasks) == 0;
  pthread_mutex_unlock (&s->lock);
  return drained;
}

/* Ends the waits still in udg_client_recv() and waits for all invocations
 * to return; what is still queued is dropped, counted. */
void
udg_scheduler_stop (UdgServer *server)
{
  UdgScheduler *s = &server->scheduler;
  GThreadPool *pool;

  pthread_mutex_lock (&s->lock);
  s->closing = TRUE;
  pool = g_steal_pointer (&s->pool);
  wake_waiters_locked (s);
  pthread_mutex_unlock (&s->lock);

  if (pool != NULL)
    {
      /* Runs what is queued (each task drops its client's mail, since the
       * server is closing) and joins the threads.  GThreadPool wakes its
       * idle threads with markers pushed through the sort function, which
       * is meant for clients: it goes first. */
      UDG_TSAN_IGNORE_BEGIN ();
      g_thread_pool_set_sort_function (pool, NULL, NULL);
      g_thread_pool_free (pool, FALSE, TRUE);
      UDG_TSAN_IGNORE_END ();
      UDG_TSAN_ACQUIRE (server);
    }
}
