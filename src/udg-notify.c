/* udgram - the service manager's notification protocol (sd_notify),
 * without libsystemd
 *
 * When $NOTIFY_SOCKET names an AF_UNIX socket (a path, or @ for the
 * abstract namespace), the server sends, from an unbound datagram socket of
 * its own:
 *   FDSTORE=1, FDNAME=           with the socket it bound (SCM_RIGHTS), once
 *                                it serves, when the fd store is wanted
 *                                (udg_notify_fd_store_wanted());
 * and when the server's notify option is on:
 *   READY=1, STATUS=, MAINPID=   once it serves (the socket exists, the
 *                                signal handling is in place);
 *   STATUS=<statistics>          every UDG_NOTIFY_STATUS_SECONDS;
 *   WATCHDOG=1                   at half of $WATCHDOG_USEC, from the main
 *                                loop, when $WATCHDOG_USEC is set for this
 *                                process ($WATCHDOG_PID unset or ours);
 *   STOPPING=1                   when the run begins to tear down.
 * The service manager learns the sender's pid from the kernel (it receives
 * with SO_PASSCRED).  The notifier knows the server only through what it is
 * handed: the main context for its timers, the socket to store, a function
 * for the STATUS= text.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-notify.h"
#include "udg-tuning.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

void
udg_notifier_init (UdgNotifier *n)
{
  memset (n, 0, sizeof *n);
  n->fd = -1;
}

static gboolean
notify_send (UdgNotifier *n, const gchar *text)
{
  struct sockaddr_un sa;
  socklen_t len;

  if (n->fd < 0 || n->address == NULL)
    return FALSE;
  len = udg_address_to_sockaddr (n->address, &sa);
  if (sendto (n->fd, text, strlen (text), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *) &sa, len) < 0)
    {
      int errsv = errno;
      g_autoptr(GError) error = NULL;
      g_autofree gchar *where = udg_address_to_string (n->address);

      udg_set_error_from_errno (&error, errsv, _("Unable to notify the service manager at %s"), where);
      udg_log (G_LOG_LEVEL_WARNING, error, _("The service manager is not told the server's state"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
send_status (gpointer data)
{
  UdgNotifier *n = data;
  g_autofree gchar *status = n->status_func (n->status_data);
  g_autofree gchar *text = g_strconcat ("STATUS=", status, NULL);

  notify_send (n, text);
  return G_SOURCE_CONTINUE;
}

static gboolean
send_watchdog (gpointer data)
{
  notify_send (data, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

/* The watchdog interval asked for this process, in microseconds, or 0. */
static guint64
watchdog_usec (void)
{
  const gchar *usec = g_getenv ("WATCHDOG_USEC");
  const gchar *pid = g_getenv ("WATCHDOG_PID");
  guint64 value;

  if (usec == NULL || !g_ascii_string_to_unsigned (usec, 10, 1, G_MAXUINT64, &value, NULL))
    return 0;
  if (pid != NULL && (guint64) getpid () != g_ascii_strtoull (pid, NULL, 10))
    return 0;
  return value;
}

/* Whether a server stores the socket it binds in the service manager's fd
 * store: always, or when $FDSTORE (systemd 254 and later, for a unit with
 * FileDescriptorStoreMax=) says the manager keeps one; and $NOTIFY_SOCKET
 * is set. */
gboolean
udg_notify_fd_store_wanted (UdgFdStore mode)
{
  const gchar *where = g_getenv ("NOTIFY_SOCKET");
  const gchar *max = g_getenv ("FDSTORE");
  guint64 n;

  if (mode == UDG_FD_STORE_NEVER || where == NULL || where[0] == '\0')
    return FALSE;
  return mode == UDG_FD_STORE_ALWAYS || (max != NULL && g_ascii_string_to_unsigned (max, 10, 1, G_MAXUINT64, &n, NULL));
}

/* FDSTORE=1 with @fd under @name: the service manager keeps it, and passes
 * it to the next process (LISTEN_FDS, LISTEN_FDNAMES). */
static gboolean
store_socket (UdgNotifier *n, gint fd, const gchar *name)
{
  g_autofree gchar *text = g_strdup_printf ("FDSTORE=1\nFDNAME=%s", name);
  union
  {
    struct cmsghdr align;
    guint8 buf[CMSG_SPACE (sizeof (int))];
  } control = { 0 };
  struct iovec iov = { text, strlen (text) };
  struct sockaddr_un sa;
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;

  msg.msg_name = &sa;
  msg.msg_namelen = udg_address_to_sockaddr (n->address, &sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &fd, sizeof (int));
  if (sendmsg (n->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *where = udg_address_to_string (n->address);

      udg_set_error_from_errno (&error, errno, _("Unable to store the socket in the service manager at %s"), where);
      udg_log (G_LOG_LEVEL_WARNING, error,
               "The socket is not in the service manager's fd store: a restart loses what is queued in it");
      return FALSE;
    }
  udg_log (G_LOG_LEVEL_INFO, NULL, "The socket is in the service manager's fd store (FDNAME=%s): "
           "a restart serves it again", name);
  return TRUE;
}

static GSource *
attach_timer (GMainContext *context, guint ms, GSourceFunc func, gpointer data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, context);
  return source;
}

/* Called by the serving thread once the server serves: stores @store_fd
 * (>= 0) under @store_name first, then, when @ready, says READY=1 and
 * starts the STATUS= and WATCHDOG=1 timers on @context.  Returns whether
 * the socket was stored. */
gboolean
udg_notifier_ready (UdgNotifier        *n,
                    gboolean            ready,
                    gint                store_fd,
                    const gchar        *store_name,
                    GMainContext       *context,
                    UdgNotifyStatusFunc status,
                    gpointer            status_data)
{
  const gchar *where = g_getenv ("NOTIFY_SOCKET");
  g_autofree gchar *status_now = NULL;
  g_autofree gchar *text = NULL;
  gboolean stored = FALSE;
  guint64 usec;

  if ((!ready && store_fd < 0) || where == NULL || where[0] == '\0')
    return FALSE;
  if (where[0] != '/' && where[0] != '@')
    {
      udg_log (G_LOG_LEVEL_INFO, NULL, "NOTIFY_SOCKET=%s is not an AF_UNIX socket: not notifying", where);
      return FALSE;
    }
  n->address = udg_address_new_from_string (where, NULL);
  n->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (n->address == NULL || n->fd < 0)
    {
      udg_notifier_close (n);
      return FALSE;
    }
  /* Before READY=1: once the manager thinks us started, it has the socket. */
  if (store_fd >= 0)
    stored = store_socket (n, store_fd, store_name);
  if (!ready)
    {
      udg_notifier_close (n);
      return stored;
    }
  n->status_func = status;
  n->status_data = status_data;
  status_now = status (status_data);
  text = g_strdup_printf ("READY=1\nSTATUS=%s\nMAINPID=%ld", status_now, (long) getpid ());
  if (!notify_send (n, text))
    {
      udg_notifier_close (n);
      return stored;
    }
  n->status = attach_timer (context, UDG_NOTIFY_STATUS_SECONDS * 1000, send_status, n);
  usec = watchdog_usec ();
  if (usec > 0)
    n->watchdog = attach_timer (context, (guint) CLAMP (usec / 2000, 1, 86400000), send_watchdog, n);
  return stored;
}

/* Called by the serving thread when the run begins to tear down. */
void
udg_notifier_stopping (UdgNotifier *n)
{
  notify_send (n, "STOPPING=1");
}

void
udg_notifier_close (UdgNotifier *n)
{
  if (n->status != NULL)
    g_source_destroy (n->status);
  if (n->watchdog != NULL)
    g_source_destroy (n->watchdog);
  g_clear_pointer (&n->status, g_source_unref);
  g_clear_pointer (&n->watchdog, g_source_unref);
  if (n->fd >= 0)
    close (n->fd);
  n->fd = -1;
  g_clear_pointer (&n->address, udg_address_unref);
}
