/* udgram - the server's socket: bound, adopted, closed
 *
 * A server serves one AF_UNIX datagram socket: one the service manager
 * passed for its address (socket activation, or the fd store of a previous
 * run), one the caller handed over (udg_server_new_from_fd()), or one it
 * binds itself, its mode set before bind() so that the file never exists
 * more open than asked.  A stale file at the path is replaced only when
 * asked (reuse_stale), or when the fd store is wanted (the file a stored
 * socket left), and never while someone holds the socket.  Closing removes
 * the file the server created, if it is still the same inode, and never
 * one the manager holds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>

/* Serves @fd, bound to @bound (taken over): a socket someone else bound,
 * whose file the server never removes and whose mode it leaves alone. */
void
udg_server_adopt_socket (UdgServer *server, gint fd, UdgAddress *bound)
{
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  if (server->options.pass_credentials)
    {
      int one = 1;

      setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    }
  udg_sender_setup (&server->sender, fd, server->options.send_timeout);
  server->fd = fd;
  server->adopted = TRUE;
  server->unlink_on_close = FALSE;
  g_clear_pointer (&server->bound, udg_address_unref);
  server->bound = bound;
}

/* What is at @path: a socket nobody listens on (TRUE), or not (FALSE, with
 * the reason). */
static gboolean
is_stale_socket (const gchar *path, GError **error)
{
  struct sockaddr_un sa;
  struct stat st;
  socklen_t len;
  int probe, rc, errsv;

  if (lstat (path, &st) < 0)
    return TRUE; /* gone meanwhile: bind again */
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE,
                   _("error while attempting to bind on address '%s': the file there is not a socket (left alone)"), path);
      return FALSE;
    }
  probe = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  memset (&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  g_strlcpy (sa.sun_path, path, sizeof sa.sun_path);
  len = sizeof sa;
  rc = connect (probe, (struct sockaddr *) &sa, len);
  errsv = errno;
  close (probe);
  if (rc < 0 && errsv == ECONNREFUSED)
    return TRUE;
  g_set_error (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE,
               rc == 0 ? _("error while attempting to bind on address '%s': a server is listening there")
                       : _("error while attempting to bind on address '%s': a socket of another kind is there"),
               path);
  return FALSE;
}

/* With the lock held. */
static gboolean
bind_socket_unlocked (UdgServer *server, GError **error)
{
  struct sockaddr_un sa;
  socklen_t len;
  gint fd;
  const gchar *path;

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to create a Unix datagram socket"));
      return FALSE;
    }
  /* Linux creates the socket file with the socket inode's mode (less the
   * umask): set it first, and the file never exists more open than asked.
   * The chmod() after bind then adds what the umask took away. */
  if (server->options.mode_set)
    fchmod (fd, server->options.mode);
  /* Before bind: a datagram queued before SO_PASSCRED carries placeholder
   * credentials (pid 0, uid 65534). */
  if (server->options.pass_credentials)
    {
      int one = 1;

      setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    }
  len = udg_address_to_sockaddr (server->requested, &sa);
  path = udg_address_get_path (server->requested);
  if (bind (fd, (struct sockaddr *) &sa, len) < 0)
    {
      int errsv = errno;
      g_autofree gchar *where = udg_address_to_string (server->requested);

      /* A file left by a run whose socket went to the fd store, which the
       * service manager dropped since (a stop for good): nobody holds the
       * socket any more, and the path is bound again. */
      if (errsv == EADDRINUSE && path != NULL &&
          (server->options.reuse_stale || udg_notify_fd_store_wanted (server->options.fd_store)))
        {
          /* Another starter may be probing the same path: one at a time. */
          g_autofree gchar *lock_path = g_strconcat (path, ".lock", NULL);
          int lock = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
          gboolean bound = FALSE;

          if (lock >= 0)
            flock (lock, LOCK_EX);
          if (is_stale_socket (path, error))
            {
              unlink (path);
              bound = bind (fd, (struct sockaddr *) &sa, len) == 0;
              errsv = errno;
              if (!bound)
                udg_set_error_from_errno (error, errsv, _("error while attempting to bind on address '%s'"), where);
            }
          if (lock >= 0)
            close (lock);
          if (!bound)
            {
              close (fd);
              return FALSE;
            }
        }
      else
        {
          close (fd);
          if (errsv == EADDRINUSE && path != NULL)
            g_set_error (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE,
                         _("error while attempting to bind on address '%s': %s (a stale socket file from an "
                           "earlier run? udg_server_options_set_reuse_stale() replaces it)"),
                         where, g_strerror (errsv));
          else
            udg_set_error_from_errno (error, errsv, _("error while attempting to bind on address '%s'"), where);
          return FALSE;
        }
    }
  if (path != NULL && server->options.mode_set && chmod (path, server->options.mode) < 0)
    {
      int errsv = errno;

      unlink (path);
      close (fd);
      udg_set_error_from_errno (error, errsv, _("Unable to set the mode of '%s'"), path);
      return FALSE;
    }

  memset (&sa, 0, sizeof sa);
  len = sizeof sa;
  getsockname (fd, (struct sockaddr *) &sa, &len);
  g_clear_pointer (&server->bound, udg_address_unref);
  server->bound = udg_address_new_from_sockaddr (&sa, len, NULL);
  if (server->bound == NULL)
    server->bound = udg_address_ref (server->requested);

  server->unlink_on_close = FALSE;
  if (path != NULL)
    {
      struct stat st;

      if (stat (path, &st) == 0)
        {
          server->unlink_on_close = TRUE;
          server->dev = st.st_dev;
          server->ino = st.st_ino;
        }
    }
  udg_sender_setup (&server->sender, fd, server->options.send_timeout);
  server->fd = fd;
  return TRUE;
}

/* With the lock held: serves the socket the service manager passed for the
 * server's name or address, if there is one. */
static gboolean
adopt_inherited_unlocked (UdgServer *server)
{
  g_autofree gchar *where = NULL;
  UdgAddress *bound = NULL;
  gint fd;

  if (!server->options.inherit || udg_address_is_unnamed (server->requested))
    return FALSE;
  fd = udg_listen_fds_take (server->requested, server->options.fd_name_set ? server->options.fd_name : NULL, &bound);
  if (fd < 0)
    return FALSE;
  udg_server_adopt_socket (server, fd, bound);
  where = udg_address_to_string (bound);
  udg_log (G_LOG_LEVEL_INFO, NULL, "Serving the socket the service manager passed for %s (descriptor %d)",
           where, fd);
  return TRUE;
}

/**
 * udg_server_activate:
 * @server: a #UdgServer
 * @error: return location for a #GError
 *
 * Binds the socket, if not done yet (EasyNetwork's `server_activate`),
 * unless the service manager passed one for the server's address, which it
 * then serves (udg_server_options_set_inherit()).  An existing file at the
 * path is never removed (but for udg_server_options_set_reuse_stale(), and
 * the fd store's own file, see udg_server_options_set_fd_store()): binding
 * then fails with %UDG_ERROR_ADDRESS_IN_USE.
 *
 * Returns: %TRUE when listening; %FALSE with %UDG_ERROR_SERVER_CLOSED after
 *   udg_server_close(), or the bind error
 *
 * Since: 0.1
 */
gboolean
udg_server_activate (UdgServer *server,
                     GError   **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  pthread_mutex_lock (&server->lock);
  if (server->phase == UDG_PHASE_CLOSED)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED, _("Closed server"));
      ok = FALSE;
    }
  else if (server->fd < 0)
    ok = adopt_inherited_unlocked (server) || bind_socket_unlocked (server, error);
  pthread_mutex_unlock (&server->lock);
  return ok;
}

/* Closes the socket and removes the file we created, if it is still ours. */
void
udg_server_close_socket (UdgServer *server)
{
  const gchar *path;
  struct stat st;
  gint fd;
  gboolean remove;

  pthread_mutex_lock (&server->lock);
  fd = server->fd;
  server->fd = -1;
  /* A socket in the fd store lives on in the service manager, which hands
   * it to the next process: its file stays. */
  remove = server->unlink_on_close && !server->adopted && !server->stored;
  server->unlink_on_close = FALSE;
  pthread_mutex_unlock (&server->lock);

  if (fd < 0)
    return;
  close (fd);
  path = server->bound != NULL ? udg_address_get_path (server->bound) : NULL;
  if (!remove || path == NULL)
    return;
  if (stat (path, &st) < 0)
    {
      if (errno != ENOENT)
        udg_log (G_LOG_LEVEL_CRITICAL, NULL, "Unable to clean up listening Unix socket '%s': [Errno %d] %s",
                 path, errno, g_strerror (errno));
      return;
    }
  if (st.st_dev != server->dev || st.st_ino != server->ino)
    return; /* someone else's file now */
  if (unlink (path) < 0 && errno != ENOENT)
    udg_log (G_LOG_LEVEL_CRITICAL, NULL, "Unable to clean up listening Unix socket '%s': [Errno %d] %s",
             path, errno, g_strerror (errno));
}
