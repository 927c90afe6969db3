/* udgram - the scheduler: which task runs, on how many threads; see
 * udg-scheduler.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

G_BEGIN_DECLS

/* What the scheduler keeps of a task (a client with mail): embedded in it,
 * pushed to the pool, handed back to the run function.  Guarded by the
 * scheduler's lock. */
typedef struct
{
  GAsyncQueue *mailbox;     /* (unowned): where a wait's end marker goes */
  GList waiting_link;       /* data: the task; in a list of waiting_in */
  gpointer waiting_in;      /* (nullable): its uid's waits, while it waits
                             * in udg_client_recv() */
  gboolean evicted;         /* the scheduler ended its wait */
  gboolean over_share;      /* the run queue's keys, set at the push */
  guint64 seq;
} UdgSchedulerTask;

/* Runs @task on a pool thread; handed by the server. */
typedef void (*UdgSchedulerRunFunc) (UdgSchedulerTask *task, gpointer user_data);

typedef struct
{
  pthread_mutex_t lock;             /* guards what follows, but for the
                                     * atomics, which it orders */
  pthread_cond_t drained;           /* tasks reached 0 while draining */
  UdgSchedulerRunFunc run;          /* immutable after init */
  gpointer run_data;
  guint64 *waits_ended;             /* (unowned): the statistic */
  guint n_cores;
  guint max_threads;                /* fixed for a run */
  GThreadPool *pool;                /* (owned) (nullable): while serving */
  gint draining;                    /* atomic, set under the lock: no wait
                                     * begins, mail is still handled */
  gboolean woken;                   /* the waits were ended (markers) */
  gboolean closing;                 /* no new work */
  gint tasks;                       /* atomic: pushed and not finished */
  gint queued;                      /* atomic: pushed and not started */
  guint blocked;                    /* tasks waiting for a peer */
  guint peer_waits;                 /* threads waiting for a peer's room */
  GHashTable *uids;                 /* (owned): uid -> its tasks waiting in
                                     * udg_client_recv(), longest first */
  guint waiting;                    /* tasks in udg_client_recv() */
  guint uids_waiting;               /* uids with one at least */
  guint64 seq;                      /* tasks pushed, for the run queue */
  gint64 last_saturation_warning;
} UdgScheduler;

G_GNUC_INTERNAL void udg_scheduler_init (UdgScheduler *s, UdgSchedulerRunFunc run, gpointer run_data,
                                         guint64 *waits_ended);
G_GNUC_INTERNAL void udg_scheduler_clear (UdgScheduler *s);
G_GNUC_INTERNAL void udg_scheduler_start (UdgScheduler *s, guint max_threads);
G_GNUC_INTERNAL gboolean udg_scheduler_push (UdgScheduler *s, UdgSchedulerTask *task, uid_t owner);
G_GNUC_INTERNAL gboolean udg_scheduler_wait_begin (UdgScheduler *s, UdgSchedulerTask *task, uid_t owner);
G_GNUC_INTERNAL gboolean udg_scheduler_wait_end (UdgScheduler *s, UdgSchedulerTask *task);
G_GNUC_INTERNAL gboolean udg_scheduler_peer_wait_begin (UdgScheduler *s);
G_GNUC_INTERNAL void udg_scheduler_peer_wait_end (UdgScheduler *s);
G_GNUC_INTERNAL gboolean udg_scheduler_drain (UdgScheduler *s, gint64 deadline);
G_GNUC_INTERNAL void udg_scheduler_stop (UdgScheduler *s);
G_GNUC_INTERNAL gboolean udg_scheduler_others_queued (UdgScheduler *s);
G_GNUC_INTERNAL void udg_scheduler_counts (UdgScheduler *s, guint64 *active, guint64 *running, guint64 *waiting);

G_END_DECLS
