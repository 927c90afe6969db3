/* udgram - the scheduler: which client runs, on how many threads
 *
 * A client with mail and no invocation is one task of the server's
 * GThreadPool; the pool's own queue is the run queue, first come first
 * served.  A task runs one invocation (udg_client_run_invocation()); a
 * client with mail left when it returns is pushed again, behind the
 * others, so that none is starved.  Each push hands the client's
 * reference to the pool.
 *
 * How many pool threads run is decided by one function, resize_locked():
 * as many as there are cores, plus one for each invocation that waits for
 * a peer (in udg_client_recv(), or for a slow peer's queue), up to
 * max_threads.  A waiting handler costs a thread, never the service, and
 * runnable threads stay near the core count.
 *
 * A stop first drains (udg_scheduler_drain()): it pushes
 * UDG_MAILBOX_CLOSED to the mailbox of every invocation waiting in
 * udg_client_recv() (the waiting list, which the scheduler's lock guards
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

/* Between two warnings that max_threads is reached. */
#define SATURATION_WARNING_USEC (10 * G_USEC_PER_SEC)

void
udg_scheduler_init (UdgScheduler *scheduler)
{
  pthread_mutex_init (&scheduler->lock, NULL);
  udg_cond_init_monotonic (&scheduler->drained);
  g_queue_init (&scheduler->waiting);
  scheduler->n_cores = MAX (1, g_get_num_processors ());
}

void
udg_scheduler_clear (UdgScheduler *scheduler)
{
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

/* THE decision of how many pool threads may run, with the lock held. */
static void
resize_locked (UdgServer *server)
{
  UdgScheduler *s = &server->scheduler;
  guint wanted = s->n_cores + s->blocked;
  guint max = MIN (wanted, server->options.max_threads);

  if (s->pool == NULL || s->closing)
    return;
  UDG_TSAN_IGNORE_BEGIN ();
  g_thread_pool_set_max_threads (s->pool, (gint) max, NULL);
  UDG_TSAN_IGNORE_END ();
  if (wanted > server->options.max_threads)
    {
      gint64 now = g_get_monotonic_time ();

      if (now - s->last_saturation_warning > SATURATION_WARNING_USEC)
        {
          s->last_saturation_warning = now;
          udg_log (G_LOG_LEVEL_WARNING, NULL,
                   "All %u handler threads are taken by invocations waiting in udg_client_recv(); "
                   "new datagrams wait in their mailboxes until one returns (raise max_threads)",
                   server->options.max_threads);
        }
    }
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
  g_atomic_int_set (&s->queued, 0);
  g_atomic_int_set (&s->tasks, 0);
  UDG_TSAN_IGNORE_BEGIN ();
  s->pool = g_thread_pool_new (run_task, server, 1, FALSE, NULL);
  UDG_TSAN_IGNORE_END ();
  resize_locked (server);
  pthread_mutex_unlock (&s->lock);
}

/* Queues an invocation of @client (CLIENT_PENDING), whose reference it
 * takes; when the run is stopping, drops the client's mail instead. */
void
udg_scheduler_run (UdgServer *server, UdgClient *client)
{
  UdgScheduler *s = &server->scheduler;
  gboolean pushed = FALSE;

  pthread_mutex_lock (&s->lock);
  if (s->pool != NULL && !s->closing)
    {
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
    }
  pthread_mutex_unlock (&s->lock);
  if (!pushed)
    {
      udg_client_drop_mailbox (client, &server->stats.dropped_shutdown);
      udg_client_unref (client);
    }
}

/* The invocation of @client begins to wait in udg_client_recv(): one more
 * thread for the others.  FALSE when the run is stopping (do not wait: no
 * datagram comes any more). */
gboolean
udg_scheduler_wait_begin (UdgServer *server, UdgClient *client)
{
  UdgScheduler *s = &server->scheduler;
  gboolean ok;

  pthread_mutex_lock (&s->lock);
  ok = !s->closing && !g_atomic_int_get (&s->draining);
  if (ok)
    {
      g_queue_push_tail_link (&s->waiting, &client->waiting_link);
      s->blocked++;
      UDG_STAT_ADD (server, blocked_in_recv, 1);
      resize_locked (server);
    }
  pthread_mutex_unlock (&s->lock);
  return ok;
}

void
udg_scheduler_wait_end (UdgServer *server, UdgClient *client)
{
  UdgScheduler *s = &server->scheduler;

  pthread_mutex_lock (&s->lock);
  g_queue_unlink (&s->waiting, &client->waiting_link);
  s->blocked--;
  UDG_STAT_SUB (server, blocked_in_recv, 1);
  resize_locked (server);
  pthread_mutex_unlock (&s->lock);
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
  if (s->woken)
    return;
  s->woken = TRUE;
  for (GList *l = s->waiting.head; l != NULL; l = l->next)
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
       * server is closing) and joins the threads. */
      UDG_TSAN_IGNORE_BEGIN ();
      g_thread_pool_free (pool, FALSE, TRUE);
      UDG_TSAN_IGNORE_END ();
      UDG_TSAN_ACQUIRE (server);
    }
}
