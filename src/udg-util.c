/* udgram - translations, errors and small helpers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"
#include "udg-tuning.h"

#include <math.h>
#include <libintl.h>
#include <gio/gio.h>
#include <sched.h>
#include <unistd.h>
#include <sys/eventfd.h>

const gchar *
udg_gettext (const gchar *msgid)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      /* UDGRAM_LOCALEDIR: for a relocated install, and for the tests. */
      const gchar *dir = g_getenv ("UDGRAM_LOCALEDIR");

      bindtextdomain (GETTEXT_PACKAGE, dir != NULL && dir[0] != '\0' ? dir : LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&initialised, 1);
    }
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}

/**
 * SECTION:udg-error
 * @title: UdgError
 * @short_description: the error domain
 *
 * Every #GError udgram reports itself is in the %UDG_ERROR domain, with a
 * #UdgError code and a translated message; errors of the system on a
 * socket operation that GIO already names use %G_IO_ERROR.
 */

/**
 * udg_error_quark:
 *
 * The quark of the %UDG_ERROR domain.
 *
 * Returns: the error domain of udgram
 *
 * Since: 0.1
 */
GQuark
udg_error_quark (void)
{
  /* Not G_DEFINE_QUARK: its unsynchronised cache is a data race for TSan. */
  static GQuark quark = 0;
  GQuark q = __atomic_load_n (&quark, __ATOMIC_ACQUIRE);

  if (G_UNLIKELY (q == 0))
    {
      q = g_quark_from_static_string ("udg-error-quark");
      __atomic_store_n (&quark, q, __ATOMIC_RELEASE);
    }
  return q;
}

void
udg_set_error_from_errno (GError     **error,
                          int          errsv,
                          const gchar *format,
                          ...)
{
  g_autofree gchar *what = NULL;
  GQuark domain;
  gint code;
  va_list ap;

  if (error == NULL)
    return;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);

  switch (errsv)
    {
    case EAGAIN:
    case ENOBUFS:
      domain = UDG_ERROR;
      code = UDG_ERROR_WOULD_BLOCK;
      break;
    case EADDRINUSE:
      domain = UDG_ERROR;
      code = UDG_ERROR_ADDRESS_IN_USE;
      break;
    case ETIMEDOUT:
      domain = UDG_ERROR;
      code = UDG_ERROR_TIMED_OUT;
      break;
    case ENAMETOOLONG:
      domain = UDG_ERROR;
      code = UDG_ERROR_INVALID_ARGUMENT;
      break;
    default:
      domain = G_IO_ERROR;
      code = g_io_error_from_errno (errsv);
      break;
    }
  if (errsv == EACCES || errsv == EPERM)
    /* The path is in @what; say what decides. */
    g_set_error (error, domain, code, "%s: %s (%s)", what, g_strerror (errsv),
                 _("binding needs write and search permission on the socket's directory, sending "
                   "needs write permission on the socket file and search permission on every "
                   "directory above it: check their modes and owners with ls -ld"));
  else
    g_set_error (error, domain, code, "%s: %s", what, g_strerror (errsv));
}

gboolean
udg_validate_timeout (gdouble timeout, GError **error)
{
  if (isnan (timeout))
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("Invalid delay: NaN (not a number)"));
      return FALSE;
    }
  if (timeout < 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("Invalid delay: negative value"));
      return FALSE;
    }
  return TRUE;
}

gint64
udg_deadline_from_timeout (gdouble timeout)
{
  if (isinf (timeout) || timeout > (gdouble) (G_MAXINT64 / G_USEC_PER_SEC / 2))
    return G_MAXINT64;
  return g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC);
}

void
udg_timespec_from_usec (gint64 usec, struct timespec *ts)
{
  ts->tv_sec = usec / G_USEC_PER_SEC;
  ts->tv_nsec = (usec % G_USEC_PER_SEC) * 1000;
}

void
udg_cond_init_monotonic (pthread_cond_t *cond)
{
  pthread_condattr_t attr;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (cond, &attr);
  pthread_condattr_destroy (&attr);
}

gint
udg_eventfd_new (void)
{
  return eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
}

void
udg_eventfd_signal (gint fd)
{
  guint64 one = 1;

  while (write (fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

void
udg_eventfd_drain (gint fd)
{
  guint64 count;

  while (read (fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
}

/* Set once the calling thread's policy was looked at. */
static _Thread_local gboolean batch_policy_done;

void
udg_thread_use_batch_policy (void)
{
  struct sched_param param = { 0 };

  if (!UDG_SCHED_BATCH || batch_policy_done)
    return;
  batch_policy_done = TRUE;
  /* The kernel's word, not glibc's cached one: GLib gives a new pool thread
   * the settings of the thread that made the pool with sched_setattr(),
   * behind glibc's back.  A real-time or idle policy chosen by the
   * application is kept.  (On Linux, 0 is the calling thread.) */
  if (sched_getscheduler (0) == SCHED_OTHER)
    sched_setscheduler (0, SCHED_BATCH, &param);
}

/* GLib creates some of its locks on first use and publishes them with
 * atomics that ThreadSanitizer cannot see (the GRWLock behind error domains,
 * taken by every g_set_error()).  Creating them here, before the server
 * starts any thread, orders that creation before every use. */
void
udg_glib_warm_up (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      g_error_free (g_error_new_literal (UDG_ERROR, UDG_ERROR_FAILED, ""));
      g_once_init_leave (&done, 1);
    }
}
