/* udgram - internal declarations shared by the library's files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <udgram/udgram.h>

G_BEGIN_DECLS

/* One convention for locks, GLib's: a function whose name ends in
 * _unlocked is called with the lock it needs already held by its caller
 * (g_async_queue_push_unlocked()); every other takes what it needs.  Each
 * struct says which lock guards which field. */

/* Per-thread state on the way of a request (the current invocation, the
 * context, the scheduler a pool thread works for) is a _Thread_local
 * variable: a GPrivate costs a call into GLib and pthread_getspecific(),
 * about 7 of them a request (docs/design.md, "What one request costs").
 * GPrivate stays where a value must be freed when its thread exits. */

/* Translations: the library binds its own text domain on first use, so
 * applications need do nothing (GLib's ensure_gettext_initialized()). */
G_GNUC_INTERNAL const gchar *udg_gettext (const gchar *msgid) G_GNUC_FORMAT (1);
#define _(s) udg_gettext (s)
#define N_(s) (s)

/* ThreadSanitizer cannot see GLib's futex-based GMutex/GCond, so every
 * hand-off of our data through a GLib queue or pool is marked with a
 * release before the push and an acquire after the pop (docs/design.md,
 * "What ThreadSanitizer is told"; the mailbox's in udg-mailbox.h). */
#if defined(__SANITIZE_THREAD__)
#define UDG_HAVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UDG_HAVE_TSAN 1
#endif
#endif
/* GLib's own bookkeeping in those calls (the pool's queue nodes, malloc'd
 * by the pushing thread and freed by the popping one after a futex wait)
 * is invisible to TSan too; the calls into GThreadPool run with this
 * thread's accesses ignored, which resets the shadow of what they allocate
 * instead of recording it.  Only GLib's code runs inside those brackets. */
#ifdef UDG_HAVE_TSAN
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
void __tsan_ignore_thread_begin (void);
void __tsan_ignore_thread_end (void);
#define UDG_TSAN_RELEASE(p) __tsan_release ((void *) (p))
#define UDG_TSAN_ACQUIRE(p) __tsan_acquire ((void *) (p))
#define UDG_TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin ()
#define UDG_TSAN_IGNORE_END() __tsan_ignore_thread_end ()
#else
#define UDG_TSAN_RELEASE(p) ((void) 0)
#define UDG_TSAN_ACQUIRE(p) ((void) 0)
#define UDG_TSAN_IGNORE_BEGIN() ((void) 0)
#define UDG_TSAN_IGNORE_END() ((void) 0)
#endif

/* Logging: every record goes through udg_log() (udg-log.c), structured, in
 * the "udgram" domain.  EasyNetwork's ERROR records are GLib criticals. */
#define UDG_LOG_DOMAIN "udgram"
G_GNUC_INTERNAL void udg_log (GLogLevelFlags level,
                              const GError  *error,
                              const gchar   *format,
                              ...) G_GNUC_PRINTF (3, 4);

/* Records a peer can cause, rate-limited (udg-log.c): at most one record
 * per key (a peer's address) every UDG_LOG_INTERVAL_USEC, and at most
 * UDG_LOG_BURST records in all per interval; those held back are counted
 * and the count is said with the key's next record. */
typedef struct _UdgLogLimiter UdgLogLimiter;
G_GNUC_INTERNAL UdgLogLimiter *udg_log_limiter_new (void);
G_GNUC_INTERNAL void udg_log_limiter_free (UdgLogLimiter *limiter);
G_GNUC_INTERNAL void udg_log_limited (UdgLogLimiter  *limiter,
                                      const gchar    *key,
                                      GLogLevelFlags  level,
                                      const GError   *error,
                                      const gchar    *format,
                                      ...) G_GNUC_PRINTF (5, 6);

/* errno -> GError, in one place (gio/gsocket.c's socket_io_error_from_errno). */
G_GNUC_INTERNAL void udg_set_error_from_errno (GError     **error,
                                               int          errsv,
                                               const gchar *format,
                                               ...) G_GNUC_PRINTF (3, 4);

G_GNUC_INTERNAL void udg_glib_warm_up (void);

G_GNUC_INTERNAL gboolean udg_validate_timeout (gdouble   timeout,
                                               GError  **error);

/* Monotonic deadlines for waits with a timeout in seconds. */
G_GNUC_INTERNAL gint64 udg_deadline_from_timeout (gdouble timeout);

/* Microseconds (of g_get_monotonic_time(), or of g_get_real_time()) as a
 * struct timespec for the pthread and poll calls. */
G_GNUC_INTERNAL void udg_timespec_from_usec (gint64 usec, struct timespec *ts);
/* A condition variable whose timed waits count on CLOCK_MONOTONIC, the
 * clock of g_get_monotonic_time(). */
G_GNUC_INTERNAL void udg_cond_init_monotonic (pthread_cond_t *cond);
/* An eventfd used as a wake-up: a new one (-1 with errno set), one more
 * wake-up (never blocks: a full counter is awake enough), and the counter
 * emptied. */
G_GNUC_INTERNAL gint udg_eventfd_new (void);
G_GNUC_INTERNAL void udg_eventfd_signal (gint fd);
G_GNUC_INTERNAL void udg_eventfd_drain (gint fd);

/* The calling thread's scheduling policy becomes SCHED_BATCH if it is
 * SCHED_OTHER (UDG_SCHED_BATCH, src/udg-tuning.h); once per thread. */
G_GNUC_INTERNAL void udg_thread_use_batch_policy (void);

/* Address internals: the raw name is kept inline so that the dispatcher can
 * build a lookup key on the stack without allocating. */
#define UDG_ADDRESS_MAX 108 /* sizeof (((struct sockaddr_un *) 0)->sun_path) */
struct _UdgAddress
{
  gatomicrefcount ref_count;
  guint8 kind;                       /* UdgAddressKind */
  guint8 len;                        /* bytes of name in raw */
  guint hash;
  guint8 raw[UDG_ADDRESS_MAX + 1];   /* path (NUL-terminated) or abstract name */
};

G_GNUC_INTERNAL void udg_address_init_from_sockaddr (UdgAddress               *address,
                                                     const struct sockaddr_un *sa,
                                                     socklen_t                 len);
G_GNUC_INTERNAL UdgAddress *udg_address_dup (const UdgAddress *address);

/* Context variables: the current context of this thread. */
typedef struct _UdgContext UdgContext;
struct _UdgContext
{
  UdgContext *parent;   /* (unowned) (nullable): outlives this context */
  GHashTable *slots;    /* (owned) (nullable): created on first set */
};
G_GNUC_INTERNAL UdgContext *udg_context_new (UdgContext *parent);
G_GNUC_INTERNAL void udg_context_free (UdgContext *context);
/* A context on the caller's stack: nothing allocated until a value is set. */
G_GNUC_INTERNAL void udg_context_clear (UdgContext *context);
G_GNUC_INTERNAL UdgContext *udg_context_push (UdgContext *context);
G_GNUC_INTERNAL void udg_context_pop (UdgContext *previous);

/* A sender whose uid the kernel did not say. */
#define UDG_UID_UNKNOWN ((uid_t) -1)

/* The sockets the service manager passed (udg-listen-fds.c): the one named
 * @name, or else bound to @address, handed out once; -1 when none. */
G_GNUC_INTERNAL gint udg_listen_fds_take (const UdgAddress *address,
                                          const gchar      *name,
                                          UdgAddress      **bound);

/* Ancillary internals. */
G_GNUC_INTERNAL gboolean udg_ancillary_find_credentials (gconstpointer   control,
                                                         gsize           control_len,
                                                         UdgCredentials *credentials);
G_GNUC_INTERNAL void udg_ancillary_strip_credentials (guint8 *control, gsize *control_len);

G_END_DECLS
