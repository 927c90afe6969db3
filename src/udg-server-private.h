/* udgram - the server's internals, shared by the server, the dispatcher
 * thread and the client objects
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"
#include "udg-mailbox.h"
#include "udg-tuning.h"

#include <pthread.h>
#include <sys/stat.h>

G_BEGIN_DECLS

struct _UdgServerOptions
{
  guint mode;
  gboolean mode_set;
  UdgUnnamedAddressesBehavior unnamed;
  gboolean receive_ancillary_data;
  gssize ancillary_bufsize;
  gboolean ancillary_bufsize_set;
  gsize max_datagram_size;
  guint max_threads;
  guint mailbox_limit;
  gboolean handle_signals;
  gdouble send_timeout;
  gdouble drain_timeout;
  gboolean pass_credentials;
  gboolean reuse_stale;
  gboolean notify;
  guint64 mailbox_bytes_limit;
  uid_t allowed_uids[32];
  guint n_allowed_uids;
  gboolean inherit;
  UdgFdStore fd_store;
  gchar fd_name[256];              /* empty: "udgram" */
  gboolean fd_name_set;
};

/* One received datagram waiting in a mailbox. */
typedef struct
{
  GBytes *data;        /* (owned) */
  guint8 *control;     /* (owned) (nullable): raw control data; owns its fds */
  gsize control_len;
  gint flags;          /* recvmsg() flags */
  gboolean has_credentials;    /* for the handler: when it asked for them */
  UdgCredentials credentials;  /* the kernel's, when SO_PASSCRED is on */
  gboolean has_uid;            /* for the server: the sender's uid */
  uid_t uid;
} UdgDatagram;

/* A sender whose uid the kernel did not say. */
#define UDG_UID_UNKNOWN ((uid_t) -1)

G_GNUC_INTERNAL void udg_datagram_free (UdgDatagram *dg);
G_GNUC_INTERNAL void udg_datagram_release_ancillary (UdgServer   *server,
                                                     UdgClient   *client,
                                                     UdgDatagram *dg);

/* A client's state, guarded by its mailbox's lock:
 *   IDLE     no invocation; the mailbox is empty
 *   PENDING  an invocation is queued in the pool (the pool holds a reference)
 *   RUNNING  an invocation runs on a pool thread
 * IDLE -> PENDING when the reader queues a datagram; PENDING -> RUNNING
 * when a pool thread takes the first datagram; RUNNING -> IDLE or PENDING
 * (mail left: queued again, behind the other clients) when it returns. */
typedef enum
{
  CLIENT_IDLE,
  CLIENT_PENDING,
  CLIENT_RUNNING,
} ClientState;

struct _UdgClient
{
  gint ref_count;          /* atomic; the server's table holds no reference */
  UdgServer *server;       /* (owned) */
  UdgAddress *peer;        /* (owned): also the key in server->clients */

  /* (owned) (element-type UdgDatagram): the mailbox, used through
   * udg-mailbox.h only.  Its lock guards the three fields after it. */
  GAsyncQueue *mailbox;
  ClientState state;
  guint queued;            /* datagrams in the mailbox */
  guint64 queued_bytes;

  /* Guarded by server->scheduler.lock: in a list of waiting_in, the
   * scheduler's waiters of one uid, while the invocation waits in
   * udg_client_recv() (data is the client); evicted when the scheduler
   * ended the wait; the run queue's keys while a task is queued. */
  GList waiting_link;
  gpointer waiting_in;
  gboolean evicted;
  gboolean queue_over_share;
  guint64 queue_seq;
};

/* The handler invocation running on this thread, if any. */
typedef struct
{
  UdgClient *client;       /* (unowned): the worker holds a reference */
  UdgDatagram *first;      /* (owned) (nullable): not yet consumed */
  GBytes *current;         /* (owned) (nullable): last datagram consumed */
  gboolean has_credentials;
  UdgCredentials credentials; /* of the last datagram consumed */
  uid_t uid;               /* its sender's, or UDG_UID_UNKNOWN */
  gboolean closed;         /* a wait met UDG_MAILBOX_CLOSED */
} UdgInvocation;

G_GNUC_INTERNAL UdgInvocation *udg_invocation_get_current (void);
G_GNUC_INTERNAL UdgClient *udg_client_new (UdgServer *server, const UdgAddress *peer);
G_GNUC_INTERNAL gboolean udg_client_try_ref (UdgClient *client);
G_GNUC_INTERNAL void udg_client_run_invocation (UdgClient *client);
G_GNUC_INTERNAL void udg_client_drop_mailbox (UdgClient *client, guint64 *counter);

typedef struct
{
  guint64 received, handled, refused, dropped_mailbox, dropped_shutdown, truncated,
      unnamed, denied, parse_errors, handler_errors, send_errors, ancillary_truncated, not_reading,
      active_clients, running_invocations, blocked_in_recv, queued_datagrams, waits_ended;
} UdgStatsCounters;

#define UDG_STAT_ADD(server, field, n) \
  __atomic_fetch_add (&(server)->stats.field, (guint64) (n), __ATOMIC_RELAXED)
#define UDG_STAT_SUB(server, field, n) \
  __atomic_fetch_sub (&(server)->stats.field, (guint64) (n), __ATOMIC_RELAXED)

/* The reader: the dispatcher thread (udg-reader.c), the socket's only
 * reader while the server serves. */
typedef struct
{
  pthread_t thread;
  gboolean started;
  /* Fixed from the reader's start to its stop: the socket gives every
   * datagram's credentials (SO_PASSCRED), set by udgram itself when
   * passcred_ours, for the scheduler's fairness between uids; a handler
   * sees them only when credentials_visible (pass_credentials, or
   * SO_PASSCRED set before, in service_init or by whoever bound it). */
  gboolean credentials_visible;
  gboolean passcred_ours;
  gsize control_size;               /* per datagram of a batch */
  gint wake_fd;                     /* eventfd: stop */
  gint stop;                        /* atomic */
  /* The socket has one reader at a time, so that a peer's datagrams enter
   * its mailbox in order: the thread, or a pool task (udg_reader_after_invocation()). */
  pthread_mutex_t read_lock;
  gpointer batch;                   /* (nullable): buffers; read_lock */
} UdgReader;

G_GNUC_INTERNAL void udg_reader_init (UdgReader *reader);
G_GNUC_INTERNAL void udg_reader_clear (UdgReader *reader);
G_GNUC_INTERNAL gboolean udg_reader_start (UdgServer *server, GError **error);
G_GNUC_INTERNAL void udg_reader_stop (UdgServer *server);
G_GNUC_INTERNAL void udg_reader_after_invocation (UdgServer *server);

/* The scheduler (udg-scheduler.c): runs the clients' invocations on a
 * GThreadPool whose size one function decides. */
typedef struct
{
  pthread_mutex_t lock;             /* guards what follows */
  pthread_cond_t drained;           /* tasks reached 0 while draining */
  GThreadPool *pool;                /* (owned) (nullable): while serving */
  gint draining;                    /* atomic, set under the lock: the run
                                     * stops; no wait begins, mail is
                                     * still handled */
  gboolean woken;                   /* the waits were ended (markers) */
  gboolean closing;                 /* the run tears down: no new work */
  gint tasks;                       /* atomic: pushed and not finished */
  guint n_cores;
  guint blocked;                    /* invocations waiting for a peer */
  gint queued;                      /* atomic: tasks pushed and not started */
  GHashTable *uids;                 /* (owned): uid -> its invocations in
                                     * udg_client_recv(), longest first */
  guint waiting;                    /* invocations in udg_client_recv() */
  guint uids_waiting;               /* uids with one at least */
  guint64 seq;                      /* tasks pushed, for the run queue */
  gint64 last_saturation_warning;
} UdgScheduler;

G_GNUC_INTERNAL void udg_scheduler_init (UdgScheduler *scheduler);
G_GNUC_INTERNAL void udg_scheduler_clear (UdgScheduler *scheduler);
G_GNUC_INTERNAL void udg_scheduler_start (UdgServer *server);
G_GNUC_INTERNAL gboolean udg_scheduler_drain (UdgServer *server, gint64 deadline);
G_GNUC_INTERNAL void udg_scheduler_stop (UdgServer *server);
G_GNUC_INTERNAL void udg_scheduler_run (UdgServer *server, UdgClient *client, uid_t owner);
G_GNUC_INTERNAL gboolean udg_scheduler_wait_begin (UdgServer *server, UdgClient *client, uid_t owner);
G_GNUC_INTERNAL gboolean udg_scheduler_wait_end (UdgServer *server, UdgClient *client);
G_GNUC_INTERNAL void udg_scheduler_blocked (UdgServer *server, gint delta);

/* The send budget (udg-send-budget.c): how much of the socket's send
 * buffer each peer may hold unread. */
typedef struct
{
  pthread_mutex_t lock;             /* guards what follows */
  GHashTable *peers;                /* (owned): UdgAddress -> PeerDebt */
  guint64 sndbuf;                   /* SO_SNDBUF as the kernel applies it */
  gint fd;
  gint diag;                        /* sock_diag: 1 works, -1 not, 0 untried */
  guint gen;                        /* snapshots begun */
  gboolean snapshotting;
  gint64 snapshot_time;
  gint64 snapshot_cost;             /* how long the last one took, us */
  guint prune_at;
  guint senders_waiting;            /* threads waiting for a peer: in a
                                     * blocking sendmsg(), or watching it */
  gint64 last_warning;
} UdgSendBudget;

G_GNUC_INTERNAL void udg_send_budget_init (UdgSendBudget *budget);
G_GNUC_INTERNAL void udg_send_budget_clear (UdgSendBudget *budget);
G_GNUC_INTERNAL void udg_send_budget_setup (UdgServer *server, gint fd);
G_GNUC_INTERNAL gboolean udg_send_budget_charge (UdgServer        *server,
                                                 const UdgAddress *peer,
                                                 gsize             len,
                                                 GError          **error);
G_GNUC_INTERNAL void udg_send_budget_refund (UdgServer *server, const UdgAddress *peer, gsize len);
G_GNUC_INTERNAL gboolean udg_send_budget_buffer_full (UdgServer *server, gsize len);
G_GNUC_INTERNAL gboolean udg_send_budget_wait (UdgServer *server, gint delta);
G_GNUC_INTERNAL gboolean udg_send_budget_wait_locked (UdgServer *server, gint delta);

struct _UdgServer
{
  gatomicrefcount ref_count;
  UdgAddress *requested;            /* (owned) */
  UdgProtocol *protocol;            /* (owned) */
  UdgHandlerFuncs funcs;
  gpointer user_data;
  GDestroyNotify destroy;
  UdgServerOptions options;
  gsize ancillary_bufsize;
  GMainContext *context;            /* (owned) */

  /* Lifecycle, protected by lock and signalled on cond. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  gint fd;                          /* -1 when not listening */
  gboolean adopted;                 /* fd given by the caller or inherited */
  gboolean stored;                  /* fd in the service manager's store */
  UdgAddress *bound;                /* (owned) (nullable) */
  gboolean unlink_on_close;
  dev_t dev;
  ino_t ino;
  gboolean closed;
  gboolean close_pending;           /* close asked from inside the run */
  gboolean running;
  gboolean in_setup;
  gboolean serving;
  guint generation;                 /* runs finished so far */
  GThread *serve_thread;
  GSList *sources;                  /* (element-type GSource) (owned) */
  GMainLoop *loop;                  /* (owned) (nullable): the run's */
  GSource *stop_source;             /* (owned) (nullable): quits the loop */
  gint stop_requested;              /* atomic */

  gint service_available;           /* atomic */
  gint closing;                     /* atomic: teardown started */
  GCancellable *cancellable;        /* (owned): cancelled at teardown */

  /* Clients: a weak table, address -> client.  A client lives while
   * something holds it: a queued task, its invocation, the user. */
  pthread_mutex_t clients_lock;
  GHashTable *clients;

  UdgReader reader;
  UdgScheduler scheduler;
  UdgSendBudget budget;

  UdgContext *base_context;         /* (owned) (nullable): service_init's */
  UdgLogLimiter *log_limiter;       /* (owned): handler errors, per peer */

  /* The service manager's socket while a run notifies it (udg-notify.c);
   * the serving thread's only. */
  gint notify_fd;                   /* -1 when not notifying */
  UdgAddress *notify_address;       /* (owned) (nullable) */
  UdgStatsCounters stats;
};

#define UDG_DATAGRAM_SIZE(dg) ((guint64) g_bytes_get_size ((dg)->data))

G_GNUC_INTERNAL gboolean udg_notify_fd_store_wanted (const UdgServerOptions *options);
G_GNUC_INTERNAL void udg_notify_ready (UdgServer *server);
G_GNUC_INTERNAL void udg_notify_stopping (UdgServer *server);
G_GNUC_INTERNAL void udg_notify_close (UdgServer *server);

G_GNUC_INTERNAL gboolean udg_server_send (UdgServer    *server,
                                          UdgAddress   *peer,
                                          GBytes       *datagram,
                                          const guint8 *control,
                                          gsize         control_len,
                                          GError      **error);

G_END_DECLS
