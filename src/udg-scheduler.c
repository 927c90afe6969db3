/* udgram - the scheduler: which task runs, on how many threads
 *
 * A client with mail and no invocation is one task of a GThreadPool; the
 * pool's own queue is the run queue.  The scheduler knows a task only by
 * what it keeps of it (UdgSchedulerTask, embedded in the client) and runs
 * it through the function the server handed it (one invocation, and the
 * reading that follows); a client with mail left when it returns is pushed
 * again by its owner, behind the others, so that none is starved.
 *
 * How many pool threads run is decided by one function, resize_unlocked():
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
#include "udg-scheduler.h"
#include "udg-mailbox.h"
#include "udg-tuning.h"

const gint udg_mailbox_closed_marker = 0;
const gint udg_mailbox_evicted_marker = 0;

/* The tasks of one uid waiting in udg_client_recv(). */
typedef struct
{
  uid_t uid;
  GQueue waiters;           /* (element-type UdgSchedulerTask) (unowned):
                             * the longest waiting first */
} UidWaiters;

/* The scheduler whose task this thread runs, if any. */
static _Thread_local UdgScheduler *current_scheduler;

static void
uid_waiters_free (gpointer data)
{
  g_free (data);
}

void
udg_scheduler_init (UdgScheduler *s, UdgSchedulerRunFunc run, gpointer run_data, guint64 *waits_ended)
{
  pthread_mutex_init (&s->lock, NULL);
  udg_cond_init_monotonic (&s->drained);
  s->run = run;
  s->run_data = run_data;
  s->waits_ended = waits_ended;
  s->uids = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, uid_waiters_free);
  s->n_cores = MAX (1, g_get_num_processors ());
}

void
udg_scheduler_clear (UdgScheduler *s)
{
  g_hash_table_unref (s->uids);
  pthread_cond_destroy (&s->drained);
  pthread_mutex_destroy (&s->lock);
}

/* The pool's function: one task, then one less. */
static void
run_task (gpointer data, gpointer user_data)
{
  UdgScheduler *s = user_data;

  /* Ordered after the push by the release in udg_scheduler_push(). */
  UDG_TSAN_ACQUIRE (data);
  udg_thread_use_batch_policy ();
  current_scheduler = s;
  g_atomic_int_add (&s->queued, -1);
  s->run (data, s->run_data);
  current_scheduler = NULL;
  /* A task pushed again counted itself first: no false zero.  Both are
   * sequentially consistent, so the drain sees the zero or we see it
   * draining. */
  if (g_atomic_int_dec_and_test (&s->tasks) && g_atomic_int_get (&s->draining))
    {
      pthread_mutex_lock (&s->lock);
      pthread_cond_broadcast (&s->drained);
      pthread_mutex_unlock (&s->lock);
    }
  /* The stop acquires it after g_thread_pool_free() joined the threads. */
  UDG_TSAN_RELEASE (s);
}

/* The run queue's order (GThreadPool's sort function): the tasks of uids
 * within their share first, then first come first served.  Both keys are
 * set under the scheduler's lock at the push, which the push holds. */
static gint
compare_tasks (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const UdgSchedulerTask *x = a, *y = b;

  if (x->over_share != y->over_share)
    return x->over_share ? 1 : -1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* With the lock held: the uid with the most tasks waiting. */
static UidWaiters *
most_waiting_unlocked (UdgScheduler *s)
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

/* With the lock held: whether @owner's tasks waiting are past its share,
 * max_threads split evenly among the uids waiting and one more. */
static gboolean
over_share_unlocked (UdgScheduler *s, uid_t owner)
{
  UidWaiters *w = g_hash_table_lookup (s->uids, GUINT_TO_POINTER (owner));
  guint share = s->max_threads / (s->uids_waiting + 1);

  return w != NULL && w->waiters.length >= MAX (1, share);
}

/* With the lock held: @task stops waiting (its wait returned, or was
 * ended). */
static void
forget_waiter_unlocked (UdgScheduler *s, UdgSchedulerTask *task)
{
  UidWaiters *w = task->waiting_in;

  /* An empty list stays, for the uid's next wait (a run knows few uids). */
  g_queue_unlink (&w->waiters, &task->waiting_link);
  if (w->waiters.length == 0)
    s->uids_waiting--;
  task->waiting_in = NULL;
  s->waiting--;
  s->blocked--;
}

/* With the lock held: ends the wait of the task that has waited longest
 * among those of the uid that holds the most. */
static void
end_longest_wait_unlocked (UdgScheduler *s)
{
  UidWaiters *top = most_waiting_unlocked (s);
  UdgSchedulerTask *victim = top->waiters.head->data;
  uid_t uid = top->uid;
  guint held = top->waiters.length;
  gint64 now = g_get_monotonic_time ();

  forget_waiter_unlocked (s, victim);
  victim->evicted = TRUE;
  /* In front: the wait ends at once, whatever is queued behind. */
  udg_mailbox_lock (victim->mailbox);
  udg_mailbox_push_front_unlocked (victim->mailbox, UDG_MAILBOX_EVICTED);
  udg_mailbox_unlock (victim->mailbox);
  __atomic_fetch_add (s->waits_ended, 1, __ATOMIC_RELAXED);
  if (now - s->last_saturation_warning > UDG_SATURATION_WARNING_USEC)
    {
      s->last_saturation_warning = now;
      if (uid == UDG_UID_UNKNOWN)
        udg_log (G_LOG_LEVEL_WARNING, NULL,
                 "All %u handler threads are taken by invocations waiting for their client's next datagram: the longest "
                 "waits are ended to serve new clients (senders of unknown uid hold %u of them; raise "
                 "max_threads)", s->max_threads, held);
      else
        udg_log (G_LOG_LEVEL_WARNING, NULL,
                 "All %u handler threads are taken by invocations waiting for their client's next datagram: the longest "
                 "waits are ended to serve new clients (uid %u holds %u of them; raise max_threads)",
                 s->max_threads, (guint) uid, held);
    }
}

/* THE decision of how many pool threads may run, with the lock held; and,
 * when every thread waits for a peer while tasks wait for a thread, which
 * waits to end. */
static void
resize_unlocked (UdgScheduler *s)
{
  gint queued = g_atomic_int_get (&s->queued);

  if (s->pool == NULL || s->closing)
    return;
  for (gint ended = 0; ended < queued && s->blocked >= s->max_threads && s->waiting > 0; ended++)
    end_longest_wait_unlocked (s);
  UDG_TSAN_IGNORE_BEGIN ();
  g_thread_pool_set_max_threads (s->pool, (gint) MIN (s->n_cores + s->blocked, s->max_threads), NULL);
  UDG_TSAN_IGNORE_END ();
}

/* Creates the pool for a run of at most @max_threads threads. */
void
udg_scheduler_start (UdgScheduler *s, guint max_threads)
{
  pthread_mutex_lock (&s->lock);
  s->max_threads = max_threads;
  s->closing = FALSE;
  g_atomic_int_set (&s->draining, FALSE);
  s->woken = FALSE;
  s->blocked = 0;
  s->peer_waits = 0;
  s->waiting = 0;
  s->uids_waiting = 0;
  g_hash_table_remove_all (s->uids);
  g_atomic_int_set (&s->queued, 0);
  g_atomic_int_set (&s->tasks, 0);
  UDG_TSAN_IGNORE_BEGIN ();
  s->pool = g_thread_pool_new (run_task, s, 1, FALSE, NULL);
  g_thread_pool_set_sort_function (s->pool, compare_tasks, NULL);
  UDG_TSAN_IGNORE_END ();
  resize_unlocked (s);
  pthread_mutex_unlock (&s->lock);
}

/* Queues @task, for a sender of uid @owner (UDG_UID_UNKNOWN: without
 * credentials).  FALSE when the run is stopping: the caller drops the
 * task's mail. */
gboolean
udg_scheduler_push (UdgScheduler *s, UdgSchedulerTask *task, uid_t owner)
{
  gboolean pushed = FALSE;

  pthread_mutex_lock (&s->lock);
  if (s->pool != NULL && !s->closing)
    {
      task->over_share = s->waiting > 0 && over_share_unlocked (s, owner);
      task->seq = ++s->seq;
      UDG_TSAN_RELEASE (task);
      g_atomic_int_inc (&s->tasks);
      g_atomic_int_inc (&s->queued);
      UDG_TSAN_IGNORE_BEGIN ();
      pushed = g_thread_pool_push (s->pool, task, NULL);
      UDG_TSAN_IGNORE_END ();
      if (!pushed)
        {
          g_atomic_int_add (&s->queued, -1);
          g_atomic_int_add (&s->tasks, -1);
        }
      else if (s->blocked >= s->max_threads)
        resize_unlocked (s);
    }
  pthread_mutex_unlock (&s->lock);
  return pushed;
}

/* @task begins to wait in udg_client_recv() for a datagram of uid @owner's:
 * one more thread for the others.  FALSE when the run is stopping (do not
 * wait: no datagram comes any more). */
gboolean
udg_scheduler_wait_begin (UdgScheduler *s, UdgSchedulerTask *task, uid_t owner)
{
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
      task->waiting_link.data = task;
      g_queue_push_tail_link (&w->waiters, &task->waiting_link);
      task->waiting_in = w;
      task->evicted = FALSE;
      s->waiting++;
      s->blocked++;
      resize_unlocked (s);
    }
  pthread_mutex_unlock (&s->lock);
  return ok;
}

/* The wait of @task is over.  TRUE when the scheduler ended it (its
 * UDG_MAILBOX_EVICTED is in the mailbox, unless the wait took it). */
gboolean
udg_scheduler_wait_end (UdgScheduler *s, UdgSchedulerTask *task)
{
  gboolean evicted;

  pthread_mutex_lock (&s->lock);
  evicted = task->evicted;
  if (!evicted)
    forget_waiter_unlocked (s, task);
  task->evicted = FALSE;
  resize_unlocked (s);
  pthread_mutex_unlock (&s->lock);
  return evicted;
}

/* A thread begins to wait for a peer (room in a slow peer's queue, or a
 * watch of a peer that may not read): TRUE when it may, FALSE when a
 * quarter of max_threads (at least one, at most UDG_PEER_WAITS_MAX)
 * already wait so.  A pool thread waiting so counts as blocked: the pool
 * grows meanwhile. */
gboolean
udg_scheduler_peer_wait_begin (UdgScheduler *s)
{
  gboolean granted;

  pthread_mutex_lock (&s->lock);
  granted = s->peer_waits < CLAMP (s->max_threads / 4, 1, UDG_PEER_WAITS_MAX);
  if (granted)
    {
      s->peer_waits++;
      if (current_scheduler == s)
        {
          s->blocked++;
          resize_unlocked (s);
        }
    }
  pthread_mutex_unlock (&s->lock);
  return granted;
}

void
udg_scheduler_peer_wait_end (UdgScheduler *s)
{
  pthread_mutex_lock (&s->lock);
  s->peer_waits--;
  if (current_scheduler == s)
    {
      s->blocked--;
      resize_unlocked (s);
    }
  pthread_mutex_unlock (&s->lock);
}

/* Whether tasks wait in the run queue: the reader's hint. */
gboolean
udg_scheduler_others_queued (UdgScheduler *s)
{
  return g_atomic_int_get (&s->queued) > 0;
}

/* The statistics the scheduler knows: tasks pushed and not finished (the
 * clients with mail or an invocation), those running, those waiting in
 * udg_client_recv(). */
void
udg_scheduler_counts (UdgScheduler *s, guint64 *active, guint64 *running, guint64 *waiting)
{
  gint tasks = g_atomic_int_get (&s->tasks), queued = g_atomic_int_get (&s->queued);

  *active = (guint64) MAX (tasks, 0);
  *running = (guint64) MAX (tasks - queued, 0);
  pthread_mutex_lock (&s->lock);
  *waiting = s->waiting;
  pthread_mutex_unlock (&s->lock);
}

/* With the lock held: ends every wait in udg_client_recv() with
 * UDG_MAILBOX_CLOSED, once per run. */
static void
wake_waiters_unlocked (UdgScheduler *s)
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
        UdgSchedulerTask *task = l->data;

        udg_mailbox_lock (task->mailbox);
        udg_mailbox_push_unlocked (task->mailbox, UDG_MAILBOX_CLOSED);
        udg_mailbox_unlock (task->mailbox);
      }
}

/* The first step of a stop, the reader being off: every task waiting in
 * udg_client_recv() on an empty mailbox is ended (nothing comes any more),
 * and the tasks go on running what was read until none is left.  Returns
 * TRUE when all was handled, FALSE when @deadline (monotonic) passed
 * first. */
gboolean
udg_scheduler_drain (UdgScheduler *s, gint64 deadline)
{
  gboolean drained;

  pthread_mutex_lock (&s->lock);
  g_atomic_int_set (&s->draining, TRUE);
  wake_waiters_unlocked (s);
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

/* Ends the waits still in udg_client_recv() and waits for all tasks to
 * return; those still queued run with the run closing (their owners drop
 * their mail). */
void
udg_scheduler_stop (UdgScheduler *s)
{
  GThreadPool *pool;

  pthread_mutex_lock (&s->lock);
  s->closing = TRUE;
  pool = g_steal_pointer (&s->pool);
  wake_waiters_unlocked (s);
  pthread_mutex_unlock (&s->lock);

  if (pool != NULL)
    {
      /* Runs what is queued and joins the threads.  GThreadPool wakes its
       * idle threads with markers pushed through the sort function, which
       * is meant for tasks: it goes first. */
      UDG_TSAN_IGNORE_BEGIN ();
      g_thread_pool_set_sort_function (pool, NULL, NULL);
      g_thread_pool_free (pool, FALSE, TRUE);
      UDG_TSAN_IGNORE_END ();
      UDG_TSAN_ACQUIRE (s);
    }
}
