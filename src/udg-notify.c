/* udg-notify.c: the service manager's readiness protocol (sd_notify), without
 * libsystemd.
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
 * with SO_PASSCRED).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

/* Between two STATUS= lines with the statistics. */
#define UDG_NOTIFY_STATUS_SECONDS 5

static gboolean
notify_send (UdgServer *server, const gchar *text)
{
  struct sockaddr_un sa;
  socklen_t len;

  if (server->notify_fd < 0 || server->notify_address == NULL)
    return FALSE;
  len = udg_address_to_sockaddr (server->notify_address, &sa);
  if (sendto (server->notify_fd, text, strlen (text), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *) &sa, len) < 0)
    {
      int errsv = errno;
      g_autoptr(GError) error = NULL;
      g_autofree gchar *where = udg_address_to_string (server->notify_address);

      udg_set_error_from_errno (&error, errsv, _("Unable to notify the service manager at %s"), where);
      udg_log (G_LOG_LEVEL_WARNING, error, _("The service manager is not told the server's state"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
send_status (gpointer data)
{
  UdgServer *server = data;
  UdgServerStats st;
  g_autofree gchar *where = udg_address_to_string (server->bound);
  g_autofree gchar *text = NULL;

  udg_server_get_stats (server, &st);
  text = g_strdup_printf ("STATUS=Serving at %s: %" G_GUINT64_FORMAT " datagrams received, %" G_GUINT64_FORMAT
                          " handled, %" G_GUINT64_FORMAT " active clients, %" G_GUINT64_FORMAT
                          " send errors (%" G_GUINT64_FORMAT " to peers not reading), %" G_GUINT64_FORMAT
                          " waits ended under pressure",
                          where, st.received, st.handled, st.active_clients, st.send_errors, st.not_reading,
                          st.waits_ended);
  notify_send (server, text);
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

/* Whether the server stores the socket it binds in the service manager's
 * fd store: always, or when $FDSTORE (systemd 254 and later, for a unit
 * with FileDescriptorStoreMax=) says the manager keeps one; and
 * $NOTIFY_SOCKET is set. */
gboolean
udg_notify_fd_store_wanted (const UdgServerOptions *options)
{
  const gchar *where = g_getenv ("NOTIFY_SOCKET");
  const gchar *max = g_getenv ("FDSTORE");
  guint64 n;

  if (options->fd_store == UDG_FD_STORE_NEVER || where == NULL || where[0] == '\0')
    return FALSE;
  return options->fd_store == UDG_FD_STORE_ALWAYS ||
         (max != NULL && g_ascii_string_to_unsigned (max, 10, 1, G_MAXUINT64, &n, NULL));
}

/* FDSTORE=1 with the server's socket: the service manager keeps it, and
 * passes it to the next process (LISTEN_FDS, LISTEN_FDNAMES). */
static void
store_socket (UdgServer *server)
{
  const gchar *name = server->options.fd_name_set ? server->options.fd_name : "udgram";
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
  g_autofree gchar *where = udg_address_to_string (server->notify_address);

  msg.msg_name = &sa;
  msg.msg_namelen = udg_address_to_sockaddr (server->notify_address, &sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &server->fd, sizeof (int));
  if (sendmsg (server->notify_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    {
      g_autoptr(GError) error = NULL;

      udg_set_error_from_errno (&error, errno, _("Unable to store the socket in the service manager at %s"), where);
      udg_log (G_LOG_LEVEL_WARNING, error,
               "The socket is not in the service manager's fd store: a restart loses what is queued in it");
      return;
    }
  pthread_mutex_lock (&server->lock);
  server->stored = TRUE;
  pthread_mutex_unlock (&server->lock);
  udg_log (G_LOG_LEVEL_INFO, NULL, "The socket is in the service manager's fd store (FDNAME=%s): "
           "a restart serves it again", name);
}

/* Called by the serving thread once the server serves. */
void
udg_notify_ready (UdgServer *server)
{
  const gchar *where = g_getenv ("NOTIFY_SOCKET");
  gboolean store;
  g_autofree gchar *bound = NULL;
  g_autofree gchar *text = NULL;
  guint64 usec;

  /* Only a socket this process bound: the others' owners keep them. */
  pthread_mutex_lock (&server->lock);
  store = !server->adopted && !server->stored && udg_notify_fd_store_wanted (&server->options);
  pthread_mutex_unlock (&server->lock);
  if ((!server->options.notify && !store) || where == NULL || where[0] == '\0')
    return;
  if (where[0] != '/' && where[0] != '@')
    {
      udg_log (G_LOG_LEVEL_INFO, NULL, "NOTIFY_SOCKET=%s is not an AF_UNIX socket: not notifying", where);
      return;
    }
  server->notify_address = udg_address_new_from_string (where, NULL);
  server->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (server->notify_address == NULL || server->notify_fd < 0)
    {
      udg_notify_close (server);
      return;
    }
  /* Before READY=1: once the manager thinks us started, it has the socket. */
  if (store)
    store_socket (server);
  if (!server->options.notify)
    {
      udg_notify_close (server);
      return;
    }
  bound = udg_address_to_string (server->bound);
  text = g_strdup_printf ("READY=1\nSTATUS=Serving at %s\nMAINPID=%ld", bound, (long) getpid ());
  if (!notify_send (server, text))
    {
      udg_notify_close (server);
      return;
    }
  udg_server_add_timeout_seconds (server, UDG_NOTIFY_STATUS_SECONDS, send_status, server, NULL);
  usec = watchdog_usec ();
  if (usec > 0)
    udg_server_add_timeout (server, CLAMP ((gdouble) usec / 2e6, 0.001, 86400.0), send_watchdog, server, NULL);
}

/* Called by the serving thread when the run begins to tear down. */
void
udg_notify_stopping (UdgServer *server)
{
  notify_send (server, "STOPPING=1");
}

void
udg_notify_close (UdgServer *server)
{
  if (server->notify_fd >= 0)
    close (server->notify_fd);
  server->notify_fd = -1;
  g_clear_pointer (&server->notify_address, udg_address_unref);
}
