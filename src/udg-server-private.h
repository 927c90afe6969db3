/* udgram - the server's internals, shared by the server's files
 * (udg-server*.c) and the two layers just below them that live with a
 * server: its clients (udg-client.c) and its reader (udg-reader.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"
#include "udg-datagram.h"
#include "udg-mailbox.h"
#include "udg-notify.h"
#include "udg-scheduler.h"
#include "udg-send.h"
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

/* The phase of the server's life and of its run, one value, written under
 * the lock (and read atomically where a lock would cost: a client asking
 * whether the service is available, an invocation whether it may still
 * handle mail).  docs/design.md draws the transitions:
 *   IDLE -> SETUP           udg_server_serve_forever() begins
 *   SETUP -> SERVING        bound, signals in place, service_init done, the
 *                           pool and the reader started, no stop asked
 *   SETUP|SERVING -> DRAINING   the run tears down: the reader stops, what
 *                           was read is handled (udg_scheduler_drain())
 *   DRAINING -> CLOSING     the drain is over: no mail is handled any more,
 *                           the cancellable is cancelled, the pool joined
 *   CLOSING -> IDLE         the run is over (the server may serve again)
 *   CLOSING -> CLOSED       ... and a close was asked during it
 *   IDLE -> CLOSED          udg_server_close()
 * The service is available (sends go) in SETUP, SERVING and DRAINING. */
typedef enum
{
  UDG_PHASE_IDLE,
  UDG_PHASE_SETUP,
  UDG_PHASE_SERVING,
  UDG_PHASE_DRAINING,
  UDG_PHASE_CLOSING,
  UDG_PHASE_CLOSED,
} UdgPhase;

/* The reader: the dispatcher thread and the pool tasks that read
 * (udg-reader.c). */
typedef struct
{
  pthread_t thread;                 /* the serving thread's: start and stop */
  gboolean started;
  gint wake_fd;                     /* eventfd: stop */
  gint stop;                        /* atomic */
  /* Fixed from the reader's start to its stop: the socket gives every
   * datagram's credentials (SO_PASSCRED), set by udgram itself when
   * passcred_ours, for the scheduler's fairness between uids; a handler
   * sees them only when credentials_visible (pass_credentials, or
   * SO_PASSCRED set before, in service_init or by whoever bound it). */
  gboolean credentials_visible;
  gboolean passcred_ours;
  gsize control_size;               /* per datagram of a batch */
  /* The socket has one reader at a time, so that a peer's datagrams enter
   * its mailbox in order: the thread, or a pool task
   * (udg_reader_run_task()). */
  pthread_mutex_t read_lock;
  gpointer batch;                   /* (nullable): buffers; read_lock */
} UdgReader;

struct _UdgServer
{
  gatomicrefcount ref_count;
  /* The last reference's work, handed over by udg-server.c at
   * construction: a client (below it) holds a reference too. */
  void (*finalize) (UdgServer *server);

  /* Immutable after construction. */
  UdgAddress *requested;            /* (owned) */
  UdgProtocol *protocol;            /* (owned) */
  UdgHandlerFuncs funcs;
  gpointer user_data;
  GDestroyNotify destroy;
  UdgServerOptions options;
  gsize ancillary_bufsize;
  GMainContext *context;            /* (owned) */
  GCancellable *cancellable;        /* (owned): cancelled at a run's
                                     * teardown, reset at the next start */
  UdgLogLimiter *log_limiter;       /* (owned): its own lock */
  UdgServerStats stats;             /* counters: atomic */

  /* Guarded by lock, signalled on cond. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  gint phase;                       /* UdgPhase; atomic reads allowed */
  gboolean stop_requested;          /* a stop was asked of this run */
  gboolean close_requested;         /* a close was asked during the run */
  guint generation;                 /* runs finished so far */
  GThread *serve_thread;            /* (unowned) (nullable) */
  GMainLoop *loop;                  /* (owned) (nullable): the run's */
  GSource *stop_source;             /* (owned) (nullable): quits the loop */
  GSList *sources;                  /* (element-type GSource) (owned): timers */
  gint fd;                          /* -1 when not listening; set once per
                                     * binding, read by the run's threads */
  UdgAddress *bound;                /* (owned) (nullable) */
  gboolean adopted;                 /* fd given by the caller or inherited */
  gboolean stored;                  /* fd in the service manager's store */
  gboolean unlink_on_close;
  dev_t dev;
  ino_t ino;

  /* Clients: a weak table, address -> client (udg-client.c), under
   * clients_lock.  A client lives while something holds it: a queued task,
   * its invocation, the user. */
  pthread_mutex_t clients_lock;
  GHashTable *clients;

  /* Their own locks. */
  UdgReader reader;
  UdgScheduler scheduler;
  UdgSender sender;

  /* The serving thread's only. */
  UdgContext *base_context;         /* (owned) (nullable): service_init's */
  UdgNotifier notifier;
};

/* The counters, updated where they happen. */
#define UDG_STAT_ADD(server, field, n) \
  __atomic_fetch_add (&(server)->stats.field, (guint64) (n), __ATOMIC_RELAXED)

static inline UdgPhase
udg_server_phase (UdgServer *server)
{
  return (UdgPhase) g_atomic_int_get (&server->phase);
}

/* A reference held by a client: the last one runs the server's
 * finalization, which the server file handed over at construction. */
static inline void
udg_server_hold (UdgServer *server)
{
  g_atomic_ref_count_inc (&server->ref_count);
}

static inline void
udg_server_release (UdgServer *server)
{
  if (g_atomic_ref_count_dec (&server->ref_count))
    server->finalize (server);
}

/* udg-server-options.c */
G_GNUC_INTERNAL gboolean udg_server_options_validate (const UdgServerOptions *options, GError **error);

/* udg-client.c: the clients of a server. */
G_GNUC_INTERNAL UdgServer *udg_client_current_server (void);
G_GNUC_INTERNAL UdgClient *udg_client_get_unlocked (UdgServer *server, const UdgAddress *peer);
G_GNUC_INTERNAL gboolean udg_client_deliver (UdgClient *client, UdgDatagram *dg, gboolean *schedule);
G_GNUC_INTERNAL void udg_client_schedule (UdgClient *client, uid_t owner);
G_GNUC_INTERNAL void udg_client_run_invocation (UdgSchedulerTask *task);
G_GNUC_INTERNAL void udg_clients_count (UdgServer *server, guint64 *queued_datagrams);

/* udg-reader.c */
G_GNUC_INTERNAL void udg_reader_init (UdgReader *reader);
G_GNUC_INTERNAL void udg_reader_clear (UdgReader *reader);
G_GNUC_INTERNAL gboolean udg_reader_start (UdgServer *server, GError **error);
G_GNUC_INTERNAL void udg_reader_stop (UdgServer *server);
G_GNUC_INTERNAL void udg_reader_run_task (UdgSchedulerTask *task, gpointer server);

/* udg-server-socket.c */
G_GNUC_INTERNAL void udg_server_adopt_socket (UdgServer *server, gint fd, UdgAddress *bound);
G_GNUC_INTERNAL void udg_server_close_socket (UdgServer *server);

/* udg-server-timers.c */
G_GNUC_INTERNAL void udg_server_destroy_sources (UdgServer *server);

G_END_DECLS
