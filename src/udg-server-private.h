/* udgram - the server's internals, shared by the server, the dispatcher
 * thread and the client objects
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

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
  gboolean pass_credentials;
  gboolean reuse_stale;
  guint64 mailbox_bytes_limit;
  uid_t allowed_uids[32];
  guint n_allowed_uids;
};

/* One received datagram waiting in a mailbox. */
typedef struct
{
  GBytes *data;        /* (owned) */
  guint8 *control;     /* (owned) (nullable): raw control data; owns its fds */
  gsize control_len;
  gint flags;          /* recvmsg() flags */
  gboolean has_credentials;
  UdgCredentials credentials;  /* the kernel's, when SO_PASSCRED is on */
} UdgDatagram;

G_GNUC_INTERNAL void udg_datagram_free (UdgDatagram *dg);
G_GNUC_INTERNAL void udg_datagram_release_ancillary (UdgServer   *server,
                                                     UdgClient   *client,
                                                     UdgDatagram *dg);

typedef enum
{
  CLIENT_IDLE,     /* no invocation; the mailbox is empty */
  CLIENT_PENDING,  /* an invocation is queued in the pool */
  CLIENT_RUNNING,  /* an invocation runs on a pool thread */
} ClientState;

struct _UdgClient
{
  gint ref_count;          /* atomic; the server's table holds no reference */
  UdgServer *server;       /* (owned) */
  UdgAddress *peer;        /* (owned): also the key in server->clients */

  pthread_mutex_t lock;    /* protects what follows */
  pthread_cond_t cond;     /* signalled when mail arrives or the server stops */
  GQueue mailbox;          /* (element-type UdgDatagram) (owned) */
  ClientState state;
  gboolean waiting;        /* an invocation waits in udg_client_recv() */
  guint64 queued_bytes;    /* in the mailbox */

  GList run_link;          /* in server->run_queue while CLIENT_PENDING; data
                            * is the client; protected by server->pool_lock */
  gint64 queued_at;        /* when it entered the run queue; pool_lock */

  /* Protected by server->clients_lock. */
  gboolean cached;         /* in server->idle_clients, which holds a reference */
  GList idle_link;         /* data is the client */
  gint64 idle_since;       /* monotonic, when it entered the cache */
};

/* The handler invocation running on this thread, if any. */
typedef struct
{
  UdgClient *client;       /* (unowned): the worker holds a reference */
  UdgDatagram *first;      /* (owned) (nullable): not yet consumed */
  GBytes *current;         /* (owned) (nullable): last datagram consumed */
  gboolean has_credentials;
  UdgCredentials credentials; /* of the last datagram consumed */
} UdgInvocation;

G_GNUC_INTERNAL UdgInvocation *udg_invocation_get_current (void);
G_GNUC_INTERNAL UdgClient *udg_client_new (UdgServer *server, const UdgAddress *peer);
G_GNUC_INTERNAL gboolean udg_client_try_ref (UdgClient *client);
G_GNUC_INTERNAL void udg_client_destroy_spare (gpointer client);
G_GNUC_INTERNAL void udg_client_drop_mailbox (UdgClient *client, guint64 *counter);
G_GNUC_INTERNAL void udg_client_release_idle (UdgClient *client);
G_GNUC_INTERNAL UdgClient *udg_client_take_cached (UdgClient *client);
G_GNUC_INTERNAL gboolean udg_server_expire_idle_clients (UdgServer *server, gboolean all);

/* The idle cache: at most this many clients, each for at most this long. */
#define UDG_IDLE_CLIENTS_MAX 256
#define UDG_IDLE_CLIENT_USEC (1 * G_USEC_PER_SEC)

typedef struct
{
  guint64 received, handled, refused, dropped_mailbox, dropped_shutdown, truncated,
      unnamed, denied, parse_errors, handler_errors, send_errors, ancillary_truncated,
      active_clients, running_invocations, blocked_in_recv, queued_datagrams;
} UdgStatsCounters;

#define UDG_STAT_ADD(server, field, n) \
  __atomic_fetch_add (&(server)->stats.field, (guint64) (n), __ATOMIC_RELAXED)
#define UDG_STAT_SUB(server, field, n) \
  __atomic_fetch_sub (&(server)->stats.field, (guint64) (n), __ATOMIC_RELAXED)

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
  gboolean adopted;                 /* fd given by the caller */
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
  gint stop_requested;              /* atomic */

  gint service_available;           /* atomic */
  gint closing;                     /* atomic: teardown started */
  GCancellable *cancellable;        /* (owned): cancelled at teardown */

  /* Clients: a weak table, address -> client.  A client whose invocation
   * ended with nothing queued stays a short while in idle_clients (bounded,
   * least recently used first), so that a peer sending request after
   * request does not create and free its state each time. */
  pthread_mutex_t clients_lock;
  GHashTable *clients;
  GQueue idle_clients;              /* (element-type UdgClient): a reference each */
  gboolean idle_watched;            /* the dispatcher expires idle_clients */

  /* The pool: runnable threads near the core count, raised by one for each
   * invocation blocked in udg_client_recv() (DESIGN.md).  Clients with
   * mail and no invocation wait in run_queue; a pool task drains it, so
   * that a thread already awake runs the next client instead of the
   * dispatcher waking one per datagram.  All protected by pool_lock. */
  pthread_mutex_t pool_lock;
  GThreadPool *pool;                /* (owned) (nullable) */
  GQueue run_queue;                 /* (element-type UdgClient): owns a reference each */
  guint tasks;                      /* drain tasks pushed and not finished */
  gint run_queue_length;            /* atomic copy, read without the lock */
  gint64 last_take;                 /* when a task last took a client or started */
  gboolean drain_spin;              /* a task with nothing to do spins first */
  gint64 last_drain_exit;           /* when a task last left */
  guint n_cores;
  guint blocked;
  gint64 last_saturation_warning;

  /* The dispatcher thread. */
  pthread_t dispatcher;
  gboolean dispatcher_started;
  gint wake_fd;                     /* eventfd: stop, or look at idle_clients */
  gint dispatcher_stop;             /* atomic */
  gint dispatcher_idle;             /* atomic: in poll() with no stall check due */
  gint64 last_help;                 /* atomic: when a drain task last read datagrams */
  gint dispatcher_deferred;         /* atomic: leaves the socket to the drain tasks */
  gint tasks_at_work;               /* atomic: tasks - blocked */

  /* The socket has one reader at a time, so that a peer's datagrams enter
   * its mailbox in the order they came: the dispatcher, or a drain task
   * that reads the next batch itself between invocations rather than wait
   * for the dispatcher to be scheduled. */
  pthread_mutex_t read_lock;
  gpointer reader;                  /* (nullable): the dispatcher's buffers while it
                                     * runs; protected by read_lock */

  UdgContext *base_context;         /* (owned) (nullable): service_init's */

  /* Freed clients kept for reuse (their locks initialised), so that a
   * client coming and going per request costs no malloc and no lock
   * initialisation.  Protected by clients_lock; bounded. */
  GQueue spare_clients;
  UdgStatsCounters stats;
};

#define UDG_DATAGRAM_SIZE(dg) ((guint64) g_bytes_get_size ((dg)->data))

G_GNUC_INTERNAL gboolean udg_dispatcher_start (UdgServer *server, GError **error);
G_GNUC_INTERNAL void udg_dispatcher_stop (UdgServer *server);
G_GNUC_INTERNAL void udg_dispatcher_wake (UdgServer *server);
G_GNUC_INTERNAL void udg_server_drain (gpointer data, gpointer server);
G_GNUC_INTERNAL void udg_server_schedule (UdgServer *server, UdgClient *client);
G_GNUC_INTERNAL void udg_server_drop_run_queue (UdgServer *server);
G_GNUC_INTERNAL gint64 udg_server_check_stalled (UdgServer *server);
G_GNUC_INTERNAL void udg_server_blocked_changed (UdgServer *server, gint delta);
G_GNUC_INTERNAL gboolean udg_server_send (UdgServer    *server,
                                          UdgAddress   *peer,
                                          GBytes       *datagram,
                                          const guint8 *control,
                                          gsize         control_len,
                                          GError      **error);

G_END_DECLS
