/* udgram - the server: lifecycle, socket, teardown
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <glib-unix.h>

/**
 * SECTION:udg-server
 * @title: UdgServer
 * @short_description: a Unix datagram server
 *
 * A #UdgServer (EasyNetwork's `AsyncUnixDatagramServer`) binds one
 * AF_UNIX/SOCK_DGRAM socket and gives every datagram to a request handler,
 * one invocation per client at a time.
 *
 * Threads: udg_server_serve_forever() runs `service_init`, then a #GMainLoop
 * on the server's #GMainContext (background timers, SIGINT/SIGTERM) until
 * udg_server_shutdown().  A dispatcher thread reads the socket with
 * recvmmsg() and pushes each datagram into its client's mailbox, a
 * #GAsyncQueue; a #GThreadPool runs the handler invocations.  The pool runs
 * as many threads as there are cores and adds one for each invocation that
 * waits in udg_client_recv(): a waiting handler costs a thread, up to
 * max_threads.
 *
 * Shutdown drains: the dispatcher stops reading (what is still in the
 * socket's queue stays there), every invocation waiting in
 * udg_client_recv() on an empty mailbox fails with %UDG_ERROR_CLOSED, and
 * the queued datagrams are handled, until none is left or the drain bound
 * passes (udg_server_options_set_drain_timeout()).  Then it cancels
 * udg_client_get_cancellable(), drops what is still queued (counted), waits
 * for the invocations to return, marks the service unavailable, and closes
 * the exit stack.  The socket stays open for another
 * udg_server_serve_forever() until udg_server_close().
 *
 * Log records (domain "udgram", structured): INFO "Start serving at …",
 * "Server loop break, waiting for remaining tasks...", "Server stopped";
 * a handler error as one record, a WARNING when the peer caused it (parse
 * error, timeout, vanished peer) and a CRITICAL otherwise, rate-limited per
 * peer and error; WARNING for closed-client
 * errors, unbound senders in warn mode and reception errors.
 */

/**
 * UdgServer:
 *
 * A Unix datagram server; reference-counted.
 */


static void
server_lock (UdgServer *server)
{
  pthread_mutex_lock (&server->lock);
}

static void
server_unlock (UdgServer *server)
{
  pthread_mutex_unlock (&server->lock);
}

static gboolean
validate_options (const UdgServerOptions *o, GError **error)
{
  if (o->ancillary_bufsize_set && !o->receive_ancillary_data)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("ancillary_bufsize is only meaningful with receive_ancillary_data set to TRUE"));
      return FALSE;
    }
  if (o->ancillary_bufsize_set && o->ancillary_bufsize <= 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("ancillary_bufsize must be a strictly positive integer"));
      return FALSE;
    }
  if (o->unnamed != UDG_UNNAMED_ADDRESSES_IGNORE && o->unnamed != UDG_UNNAMED_ADDRESSES_WARN &&
      o->unnamed != UDG_UNNAMED_ADDRESSES_HANDLE)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Invalid unnamed_addresses_behavior value, got %d"), (int) o->unnamed);
      return FALSE;
    }
  if (o->max_datagram_size == 0 || o->max_datagram_size > 16 * 1024 * 1024)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("max_datagram_size must be between 1 and 16 MiB, got %lu"),
                   (gulong) o->max_datagram_size);
      return FALSE;
    }
  if (o->max_threads == 0 || o->max_threads > G_MAXINT)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("max_threads must be at least 1"));
      return FALSE;
    }
  if (o->mailbox_limit == 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("mailbox_limit must be at least 1"));
      return FALSE;
    }
  if (isnan (o->send_timeout) || o->send_timeout < 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("send_timeout must be a positive number of seconds"));
      return FALSE;
    }
  if (isnan (o->drain_timeout) || o->drain_timeout < 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("drain_timeout must be a positive number of seconds"));
      return FALSE;
    }
  if (o->mode_set && o->mode > 07777)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Invalid socket file mode %o"), o->mode);
      return FALSE;
    }
  if (o->fd_store != UDG_FD_STORE_AUTO && o->fd_store != UDG_FD_STORE_ALWAYS && o->fd_store != UDG_FD_STORE_NEVER)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Invalid fd store mode, got %d"), (int) o->fd_store);
      return FALSE;
    }
  if (o->fd_name_set)
    {
      gboolean valid = o->fd_name_set == 1 && o->fd_name[0] != '\0';

      for (const gchar *c = o->fd_name; valid && *c != '\0'; c++)
        valid = g_ascii_isprint (*c) && *c != ':';
      if (!valid)
        {
          g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                               _("fd_name must be 1 to 255 printable ASCII characters, without a colon"));
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * udg_server_new_for_address:
 * @address: where to bind: a path, an abstract name, or the unnamed address
 *   to let the kernel autobind an abstract name
 * @protocol: the protocol; a reference is taken
 * @handler: the request handler; copied.  @handle is required.
 * @user_data: (closure): passed to the handler's functions
 * @destroy: (nullable): frees @user_data with the server
 * @options: (nullable): options, or %NULL for the defaults; copied
 * @error: return location for a #GError
 *
 * Creates a server.  Nothing is bound yet: udg_server_activate() or
 * udg_server_serve_forever() binds.
 *
 * Returns: (transfer full) (nullable): a new #UdgServer, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT for invalid options (@destroy is then not
 *   called)
 *
 * Since: 0.1
 */
UdgServer *
udg_server_new_for_address (UdgAddress             *address,
                            UdgProtocol            *protocol,
                            const UdgHandlerFuncs  *handler,
                            gpointer                user_data,
                            GDestroyNotify          destroy,
                            const UdgServerOptions *options,
                            GError                **error)
{
  g_autoptr(UdgServerOptions) defaults = NULL;
  UdgServer *server;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (protocol != NULL, NULL);
  g_return_val_if_fail (handler != NULL && handler->handle != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    options = defaults = udg_server_options_new ();
  if (!validate_options (options, error))
    return NULL;

  udg_glib_warm_up ();
  server = g_new0 (UdgServer, 1);
  g_atomic_ref_count_init (&server->ref_count);
  server->requested = udg_address_ref (address);
  server->protocol = udg_protocol_ref (protocol);
  server->funcs = *handler;
  server->user_data = user_data;
  server->destroy = destroy;
  server->options = *options;
  if (options->ancillary_bufsize_set)
    server->ancillary_bufsize = (gsize) options->ancillary_bufsize;
  else if (options->receive_ancillary_data)
    server->ancillary_bufsize = CMSG_SPACE (8192);
  else
    /* Credentials only; descriptors that come anyway are closed at once. */
    server->ancillary_bufsize = CMSG_SPACE (sizeof (struct ucred)) + CMSG_SPACE (16 * sizeof (int));
  server->context = g_main_context_new ();
  pthread_mutex_init (&server->lock, NULL);
  udg_cond_init_monotonic (&server->cond);
  server->fd = -1;
  server->notify_fd = -1;
  udg_reader_init (&server->reader);
  server->cancellable = g_cancellable_new ();
  pthread_mutex_init (&server->clients_lock, NULL);
  server->clients = g_hash_table_new (udg_address_hash, udg_address_equal);
  udg_scheduler_init (&server->scheduler);
  udg_send_budget_init (&server->budget);
  server->log_limiter = udg_log_limiter_new ();
  return server;
}

/**
 * udg_server_new:
 * @path: where to bind: a file system path, `@name` for an abstract name,
 *   or "" to let the kernel autobind an abstract name
 * @protocol: the protocol; a reference is taken
 * @handler: the request handler; copied
 * @user_data: (closure): passed to the handler's functions
 * @destroy: (nullable): frees @user_data with the server
 * @options: (nullable): options, or %NULL for the defaults; copied
 * @error: return location for a #GError
 *
 * Creates a server for a path given as text; see
 * udg_server_new_for_address().
 *
 * Returns: (transfer full) (nullable): a new #UdgServer, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
UdgServer *
udg_server_new (const gchar            *path,
                UdgProtocol            *protocol,
                const UdgHandlerFuncs  *handler,
                gpointer                user_data,
                GDestroyNotify          destroy,
                const UdgServerOptions *options,
                GError                **error)
{
  g_autoptr(UdgAddress) address = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  address = udg_address_new_from_string (path, error);
  if (address == NULL)
    return NULL;
  return udg_server_new_for_address (address, protocol, handler, user_data, destroy, options, error);
}

/* Serves @fd, bound to @bound (taken over): a socket someone else bound,
 * whose file the server never removes and whose mode it leaves alone. */
static void
adopt_socket (UdgServer *server, gint fd, UdgAddress *bound)
{
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  if (server->options.pass_credentials)
    {
      int one = 1;

      setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    }
  udg_send_budget_setup (server, fd);
  server->fd = fd;
  server->adopted = TRUE;
  server->unlink_on_close = FALSE;
  g_clear_pointer (&server->bound, udg_address_unref);
  server->bound = bound;
}

/**
 * udg_server_new_from_fd:
 * @fd: (transfer full): a bound AF_UNIX datagram socket, such as one
 *   inherited from systemd (see udg_listen_fds())
 * @protocol: the protocol; a reference is taken
 * @handler: the request handler; copied
 * @user_data: (closure): passed to the handler's functions
 * @destroy: (nullable): frees @user_data with the server
 * @options: (nullable): options, or %NULL for the defaults; copied.  The
 *   mode is not applied: the socket's owner set it.
 * @error: return location for a #GError
 *
 * Creates a server on an existing socket, which the server then owns (it
 * is closed on error too).  Its socket file, if any, belongs to whoever
 * bound it: the server never removes it.
 *
 * Returns: (transfer full) (nullable): a new #UdgServer, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT when @fd is not a bound AF_UNIX datagram
 *   socket
 *
 * Since: 0.1
 */
UdgServer *
udg_server_new_from_fd (gint                    fd,
                        UdgProtocol            *protocol,
                        const UdgHandlerFuncs  *handler,
                        gpointer                user_data,
                        GDestroyNotify          destroy,
                        const UdgServerOptions *options,
                        GError                **error)
{
  g_autoptr(UdgAddress) address = NULL;
  struct sockaddr_un sa;
  socklen_t len = sizeof sa;
  int domain = 0, type = 0;
  socklen_t optlen = sizeof domain;
  UdgServer *server;

  g_return_val_if_fail (fd >= 0, NULL);

  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &domain, &optlen) < 0 || domain != AF_UNIX ||
      (optlen = sizeof type, getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &optlen) < 0) || type != SOCK_DGRAM ||
      getsockname (fd, (struct sockaddr *) &sa, &len) < 0 ||
      (address = udg_address_new_from_sockaddr (&sa, len, NULL)) == NULL || udg_address_is_unnamed (address))
    {
      close (fd);
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Descriptor %d is not a bound AF_UNIX datagram socket"), fd);
      return NULL;
    }
  server = udg_server_new_for_address (address, protocol, handler, user_data, destroy, options, error);
  if (server == NULL)
    {
      close (fd);
      return NULL;
    }
  adopt_socket (server, fd, g_steal_pointer (&address));
  return server;
}

/**
 * udg_server_ref:
 * @server: a #UdgServer
 *
 * Returns: (transfer full): @server
 *
 * Since: 0.1
 */
UdgServer *
udg_server_ref (UdgServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  g_atomic_ref_count_inc (&server->ref_count);
  return server;
}

static void close_socket (UdgServer *server);

/**
 * udg_server_unref:
 * @server: (transfer full): a #UdgServer
 *
 * Drops a reference.  udg_server_serve_forever() holds one while it runs,
 * and so does every #UdgClient; with the last one the server is closed (as
 * udg_server_close()) and freed.
 *
 * Since: 0.1
 */
void
udg_server_unref (UdgServer *server)
{
  g_return_if_fail (server != NULL);
  if (!g_atomic_ref_count_dec (&server->ref_count))
    return;

  close_socket (server);
  udg_reader_clear (&server->reader);
  for (GSList *l = server->sources; l != NULL; l = l->next)
    {
      g_source_destroy (l->data);
      g_source_unref (l->data);
    }
  g_slist_free (server->sources);
  if (server->destroy != NULL)
    server->destroy (server->user_data);
  g_hash_table_unref (server->clients);
  pthread_mutex_destroy (&server->clients_lock);
  udg_scheduler_clear (&server->scheduler);
  udg_send_budget_clear (&server->budget);
  udg_log_limiter_free (server->log_limiter);
  pthread_cond_destroy (&server->cond);
  pthread_mutex_destroy (&server->lock);
  g_clear_pointer (&server->bound, udg_address_unref);
  g_object_unref (server->cancellable);
  /* GLib's signal thread may still have written to the context's wake-up
   * fd, which the unref closes: ordered by GLib's own lock, unseen by TSan. */
  UDG_TSAN_IGNORE_BEGIN ();
  g_main_context_unref (server->context);
  UDG_TSAN_IGNORE_END ();
  udg_protocol_unref (server->protocol);
  udg_address_unref (server->requested);
  g_free (server);
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
bind_socket_locked (UdgServer *server, GError **error)
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
          (server->options.reuse_stale || udg_notify_fd_store_wanted (&server->options)))
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
  udg_send_budget_setup (server, fd);
  server->fd = fd;
  return TRUE;
}

/* With the lock held: serves the socket the service manager passed for the
 * server's name or address, if there is one. */
static gboolean
adopt_inherited_locked (UdgServer *server)
{
  g_autofree gchar *where = NULL;
  UdgAddress *bound = NULL;
  gint fd;

  if (!server->options.inherit || udg_address_is_unnamed (server->requested))
    return FALSE;
  fd = udg_listen_fds_take (server->requested, server->options.fd_name_set ? server->options.fd_name : NULL, &bound);
  if (fd < 0)
    return FALSE;
  adopt_socket (server, fd, bound);
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

  server_lock (server);
  if (server->closed)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED, _("Closed server"));
      ok = FALSE;
    }
  else if (server->fd < 0)
    ok = adopt_inherited_locked (server) || bind_socket_locked (server, error);
  server_unlock (server);
  return ok;
}

static gboolean
on_stop_signal (gpointer data)
{
  udg_server_shutdown (data);
  return G_SOURCE_CONTINUE;
}

static GSource *
attach_signal (UdgServer *server, int signum)
{
  GSource *source = g_unix_signal_source_new (signum);

  g_source_set_callback (source, on_stop_signal, server, NULL);
  g_source_attach (source, server->context);
  return source;
}

static gboolean
in_main_thread (void)
{
  return getpid () == (pid_t) syscall (SYS_gettid);
}

static gboolean
in_own_thread (UdgServer *server)
{
  UdgInvocation *invocation = udg_invocation_get_current ();

  return server->serve_thread == g_thread_self () ||
         (invocation != NULL && invocation->client->server == server);
}

static void
destroy_sources (UdgServer *server)
{
  GSList *sources;

  server_lock (server);
  sources = g_steal_pointer (&server->sources);
  server_unlock (server);
  for (GSList *l = sources; l != NULL; l = l->next)
    {
      g_source_destroy (l->data);
      g_source_unref (l->data);
    }
  g_slist_free (sources);
}

static void
log_start (UdgServer *server)
{
  g_autofree gchar *where = udg_address_to_string (server->bound);

  udg_log (G_LOG_LEVEL_INFO, NULL, "Start serving at %s", where);
}

/* Stops what a run started, in EasyNetwork's order: serving off, the reader,
 * the invocations, the service (exit stack), then service_quit. */
static void
teardown (UdgServer *server, UdgExitStack *stack)
{
  udg_log (G_LOG_LEVEL_INFO, NULL, "Server loop break, waiting for remaining tasks...");
  udg_notify_stopping (server);
  server_lock (server);
  server->serving = FALSE;
  server_unlock (server);

  /* No datagram is routed after this: what is still in the socket stays
   * there, for the next run or the next process. */
  udg_reader_stop (server);
  /* What was read is handled, within the drain bound. */
  if (!udg_scheduler_drain (server, udg_deadline_from_timeout (server->options.drain_timeout)) &&
      server->options.drain_timeout > 0)
    udg_log (G_LOG_LEVEL_WARNING, NULL,
             "The drain bound (%g s) passed with invocations still running: what is still queued is dropped "
             "(see udg_server_options_set_drain_timeout())", server->options.drain_timeout);
  g_atomic_int_set (&server->closing, TRUE);
  g_cancellable_cancel (server->cancellable);
  /* Waits for all to return, drops what is still queued. */
  udg_scheduler_stop (server);

  g_atomic_int_set (&server->service_available, FALSE);
  destroy_sources (server);
  udg_exit_stack_close (stack);
  if (server->funcs.service_quit != NULL)
    server->funcs.service_quit (server, server->user_data);
  g_clear_pointer (&server->base_context, udg_context_free);
  udg_notify_close (server);
  udg_log (G_LOG_LEVEL_INFO, NULL, "Server stopped");
}

static void
finish_run (UdgServer *server)
{
  gboolean do_close;

  server_lock (server);
  server->running = FALSE;
  server->in_setup = FALSE;
  server->serving = FALSE;
  server->serve_thread = NULL;
  server->generation++;
  do_close = server->close_pending;
  server->close_pending = FALSE;
  pthread_cond_broadcast (&server->cond);
  server_unlock (server);
  if (do_close)
    close_socket (server);
}

/**
 * udg_server_serve_forever:
 * @server: a #UdgServer
 * @error: return location for a #GError
 *
 * Binds if needed, runs the handler's `service_init`, then serves until
 * udg_server_shutdown() or udg_server_close() (from any thread, a handler,
 * a timer, or SIGINT/SIGTERM when serving in the main thread with
 * handle_signals).  Meanwhile the calling thread runs a #GMainLoop on the
 * server's #GMainContext, where background timers run.  The server can serve again
 * after it returns.
 *
 * Returns: %TRUE after a shutdown; %FALSE with %UDG_ERROR_ALREADY_RUNNING,
 *   %UDG_ERROR_SERVER_CLOSED, a bind error, or the error of `service_init`
 *
 * Since: 0.1
 */
gboolean
udg_server_serve_forever (UdgServer *server,
                          GError   **error)
{
  g_autoptr(UdgExitStack) stack = NULL;
  GSource *signals[2] = { NULL, NULL };
  gboolean ok = TRUE;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  server_lock (server);
  if (server->running)
    {
      server_unlock (server);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_ALREADY_RUNNING, _("Server is already running"));
      return FALSE;
    }
  if (server->closed)
    {
      server_unlock (server);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED, _("Closed server"));
      return FALSE;
    }
  server->running = TRUE;
  server->in_setup = TRUE;
  server->serving = FALSE;
  server->serve_thread = g_thread_self ();
  server->loop = g_main_loop_new (server->context, FALSE);
  g_atomic_int_set (&server->stop_requested, FALSE);
  g_atomic_int_set (&server->closing, FALSE);
  if (g_cancellable_is_cancelled (server->cancellable))
    {
      g_object_unref (server->cancellable);
      server->cancellable = g_cancellable_new ();
    }
  server_unlock (server);

  udg_server_ref (server);
  if (!udg_server_activate (server, error))
    {
      finish_run (server);
      udg_server_unref (server);
      return FALSE;
    }

  g_main_context_push_thread_default (server->context);
  /* Before service_init, so that SIGTERM during it is a clean stop, not
   * the default action. */
  if (server->options.handle_signals && in_main_thread ())
    {
      signals[0] = attach_signal (server, SIGINT);
      signals[1] = attach_signal (server, SIGTERM);
    }
  stack = udg_exit_stack_new ();
  server->base_context = udg_context_new (NULL);
  if (server->funcs.service_init != NULL)
    {
      UdgContext *previous = udg_context_push (server->base_context);

      ok = server->funcs.service_init (stack, server, server->user_data, error);
      udg_context_pop (previous);
      if (!ok && error != NULL && *error == NULL)
        g_set_error_literal (error, UDG_ERROR, UDG_ERROR_FAILED,
                             _("service_init failed without saying why"));
    }

  if (ok && !g_atomic_int_get (&server->stop_requested))
    {
      g_atomic_int_set (&server->service_available, TRUE);
      udg_scheduler_start (server);
      ok = udg_reader_start (server, error);
    }

  if (ok && !g_atomic_int_get (&server->stop_requested))
    {
      log_start (server);
      server_lock (server);
      server->in_setup = FALSE;
      server->serving = TRUE;
      pthread_cond_broadcast (&server->cond);
      server_unlock (server);
      /* READY=1 after the socket, the signal handling and the reader. */
      udg_notify_ready (server);

      /* A stop asked at any time since the run began is the idle source
       * that request_stop_locked() attached: it quits the loop at its
       * first iteration if it came before. */
      g_main_loop_run (server->loop);
    }
  else
    {
      server_lock (server);
      server->in_setup = FALSE;
      server_unlock (server);
    }

  teardown (server, stack);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    if (signals[i] != NULL)
      {
        g_source_destroy (signals[i]);
        g_source_unref (signals[i]);
      }
  g_main_context_pop_thread_default (server->context);
  server_lock (server);
  if (server->stop_source != NULL)
    {
      /* Asked during setup, or not yet dispatched: nothing to quit now. */
      g_source_destroy (server->stop_source);
      g_clear_pointer (&server->stop_source, g_source_unref);
    }
  g_clear_pointer (&server->loop, g_main_loop_unref);
  server_unlock (server);
  finish_run (server);
  udg_server_unref (server);
  return ok;
}

/**
 * udg_server_wait_serving:
 * @server: a #UdgServer
 * @timeout: seconds to wait at most: 0 to look only, or
 *   %UDG_TIMEOUT_INFINITE; a negative or NaN timeout is a programming error
 *
 * Waits, from another thread, until udg_server_serve_forever() is serving:
 * EasyNetwork's `is_up_event`.  Serving means the socket exists, the
 * SIGINT/SIGTERM handling is in place and datagrams are read.  A run that
 * ends without ever serving (an error, or a shutdown during setup) makes it
 * return %FALSE at once.
 *
 * Returns: %TRUE when serving; %FALSE on timeout or when the run ended
 *
 * Since: 0.1
 */
gboolean
udg_server_wait_serving (UdgServer *server,
                         gdouble    timeout)
{
  gint64 deadline;
  guint generation;
  gboolean serving;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (timeout >= 0, FALSE); /* false for NaN too */
  deadline = udg_deadline_from_timeout (timeout);

  server_lock (server);
  generation = server->generation;
  while (!server->serving && server->generation == generation)
    {
      struct timespec ts;

      if (deadline == G_MAXINT64)
        {
          pthread_cond_wait (&server->cond, &server->lock);
          continue;
        }
      if (g_get_monotonic_time () >= deadline)
        break;
      udg_timespec_from_usec (deadline, &ts);
      pthread_cond_timedwait (&server->cond, &server->lock, &ts);
    }
  serving = server->serving;
  server_unlock (server);
  return serving;
}

static gboolean
on_stop_requested (gpointer data)
{
  UdgServer *server = data;

  server_lock (server);
  g_clear_pointer (&server->stop_source, g_source_unref);
  g_main_loop_quit (server->loop);
  server_unlock (server);
  return G_SOURCE_REMOVE;
}

/* With the lock held: asks the run to stop; TRUE if the caller may wait.
 * The stop is a high-priority idle source on the server's context, which
 * quits the loop whenever it runs: a stop asked before g_main_loop_run()
 * (from service_init, or another thread during setup) is not lost, as a
 * g_main_loop_quit() before the run would be.  The flag tells the setup
 * not to start serving at all. */
static gboolean
request_stop_locked (UdgServer *server)
{
  if (!server->running)
    return FALSE;
  g_atomic_int_set (&server->stop_requested, TRUE);
  if (server->stop_source == NULL)
    {
      server->stop_source = g_idle_source_new ();
      g_source_set_priority (server->stop_source, G_PRIORITY_HIGH);
      g_source_set_callback (server->stop_source, on_stop_requested, server, NULL);
      g_source_attach (server->stop_source, server->context);
    }
  return !in_own_thread (server);
}

static void
wait_run_end_locked (UdgServer *server)
{
  guint generation = server->generation;

  while (server->running && server->generation == generation)
    pthread_cond_wait (&server->cond, &server->lock);
}

/**
 * udg_server_shutdown:
 * @server: a #UdgServer
 *
 * Stops udg_server_serve_forever() and waits until its teardown is over.
 * Safe from any thread and idempotent; concurrent calls all return.  It
 * returns at once when the server is not running, and also, without
 * waiting, when called from the run itself (a handler, a timer or
 * `service_init`), since the run cannot end before it returns.  The socket
 * stays open.
 *
 * Since: 0.1
 */
void
udg_server_shutdown (UdgServer *server)
{
  g_return_if_fail (server != NULL);

  server_lock (server);
  if (request_stop_locked (server))
    wait_run_end_locked (server);
  server_unlock (server);
}

/* Closes the socket and removes the file we created, if it is still ours. */
static void
close_socket (UdgServer *server)
{
  const gchar *path;
  struct stat st;
  gint fd;
  gboolean remove;

  server_lock (server);
  fd = server->fd;
  server->fd = -1;
  /* A socket in the fd store lives on in the service manager, which hands
   * it to the next process: its file stays. */
  remove = server->unlink_on_close && !server->adopted && !server->stored;
  server->unlink_on_close = FALSE;
  server_unlock (server);

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

/**
 * udg_server_close:
 * @server: a #UdgServer
 * @error: return location for a #GError
 *
 * Stops serving (as udg_server_shutdown()), closes the socket and removes
 * the socket file, if it is still the one bind() created (same inode); a
 * file already gone or replaced is left alone silently, and another failure
 * is one CRITICAL log record.  Idempotent; the server cannot serve again.
 * Called from the run itself, the socket is closed when the run ends.
 *
 * Returns: %FALSE with %UDG_ERROR_BUSY while `service_init` runs
 *
 * Since: 0.1
 */
gboolean
udg_server_close (UdgServer *server,
                  GError   **error)
{
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  server_lock (server);
  if (server->in_setup && !in_own_thread (server))
    {
      server_unlock (server);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_BUSY,
                           _("Cannot close server during serve_forever() setup."));
      return FALSE;
    }
  server->closed = TRUE;
  if (server->running)
    {
      if (!request_stop_locked (server))
        {
          server->close_pending = TRUE;
          server_unlock (server);
          return TRUE;
        }
      wait_run_end_locked (server);
    }
  server_unlock (server);
  close_socket (server);
  return TRUE;
}

/**
 * udg_server_is_serving:
 * @server: a #UdgServer
 *
 * Returns: whether udg_server_serve_forever() is serving datagrams now
 *
 * Since: 0.1
 */
gboolean
udg_server_is_serving (UdgServer *server)
{
  gboolean serving;

  g_return_val_if_fail (server != NULL, FALSE);
  server_lock (server);
  serving = server->serving && server->fd >= 0;
  server_unlock (server);
  return serving;
}

/**
 * udg_server_is_listening:
 * @server: a #UdgServer
 *
 * Returns: whether the socket is bound and not closed
 *
 * Since: 0.1
 */
gboolean
udg_server_is_listening (UdgServer *server)
{
  gboolean listening;

  g_return_val_if_fail (server != NULL, FALSE);
  server_lock (server);
  listening = server->fd >= 0 && !server->closed;
  server_unlock (server);
  return listening;
}

/**
 * udg_server_get_addresses:
 * @server: a #UdgServer
 *
 * Returns: (transfer full) (element-type UdgAddress): the bound addresses:
 *   one while listening, none before udg_server_activate() or after
 *   udg_server_close()
 *
 * Since: 0.1
 */
GPtrArray *
udg_server_get_addresses (UdgServer *server)
{
  GPtrArray *addresses;

  g_return_val_if_fail (server != NULL, NULL);
  addresses = g_ptr_array_new_with_free_func ((GDestroyNotify) udg_address_unref);
  server_lock (server);
  if (server->fd >= 0 && !server->closed)
    g_ptr_array_add (addresses, udg_address_ref (server->bound));
  server_unlock (server);
  return addresses;
}

/**
 * udg_server_get_sockets:
 * @server: a #UdgServer
 *
 * The socket descriptors, for setsockopt() and getsockopt() (for instance
 * `SO_PASSCRED` in `service_init`).  They stay the server's: never close
 * them, and do not read from them.
 *
 * Returns: (transfer full) (element-type gint): the descriptors: one while
 *   listening, none otherwise
 *
 * Since: 0.1
 */
GArray *
udg_server_get_sockets (UdgServer *server)
{
  GArray *fds;

  g_return_val_if_fail (server != NULL, NULL);
  fds = g_array_new (FALSE, FALSE, sizeof (gint));
  server_lock (server);
  if (server->fd >= 0 && !server->closed)
    g_array_append_val (fds, server->fd);
  server_unlock (server);
  return fds;
}

/**
 * udg_server_get_main_context:
 * @server: a #UdgServer
 *
 * The context whose loop udg_server_serve_forever() runs: attach background
 * sources to it (see udg_server_add_timeout_seconds()).
 *
 * Returns: (transfer none): the server's #GMainContext
 *
 * Since: 0.1
 */
GMainContext *
udg_server_get_main_context (UdgServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->context;
}

/**
 * udg_server_get_protocol:
 * @server: a #UdgServer
 *
 * Returns: (transfer none): the server's protocol
 *
 * Since: 0.1
 */
UdgProtocol *
udg_server_get_protocol (UdgServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->protocol;
}

/**
 * udg_server_get_stats:
 * @server: a #UdgServer
 * @stats: (out caller-allocates): filled with the counters
 *
 * Reads the server's counters.  Each is read atomically; together they are
 * a near snapshot.
 *
 * Since: 0.1
 */
void
udg_server_get_stats (UdgServer      *server,
                      UdgServerStats *stats)
{
  g_return_if_fail (server != NULL);
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
#define READ(f) stats->f = __atomic_load_n (&server->stats.f, __ATOMIC_RELAXED)
  READ (received);
  READ (handled);
  READ (refused);
  READ (dropped_mailbox);
  READ (dropped_shutdown);
  READ (truncated);
  READ (unnamed);
  READ (denied);
  READ (parse_errors);
  READ (handler_errors);
  READ (send_errors);
  READ (ancillary_truncated);
  READ (active_clients);
  READ (running_invocations);
  READ (blocked_in_recv);
  READ (queued_datagrams);
  READ (not_reading);
  READ (waits_ended);
#undef READ
}

/* A timer's call, in the timer's own context: a child of service_init's,
 * kept from one call to the next (as a task created in service_init keeps
 * its copy of the context). */
typedef struct
{
  UdgServer *server;       /* (unowned): the source goes before the run ends */
  GSourceFunc function;
  gpointer data;
  GDestroyNotify notify;
  UdgContext *context;     /* (owned) (nullable): made at the first call */
} TimerCall;

static gboolean
timer_call (gpointer user_data)
{
  TimerCall *t = user_data;
  UdgContext *previous;
  gboolean again;

  if (t->context == NULL)
    t->context = udg_context_new (t->server->base_context);
  previous = udg_context_push (t->context);
  again = t->function (t->data);
  udg_context_pop (previous);
  return again;
}

static void
timer_call_free (gpointer user_data)
{
  TimerCall *t = user_data;

  if (t->notify != NULL)
    t->notify (t->data);
  g_clear_pointer (&t->context, udg_context_free);
  g_free (t);
}

static guint
add_source (UdgServer *server, GSource *source, GSourceFunc function, gpointer data, GDestroyNotify notify)
{
  TimerCall *t = g_new0 (TimerCall, 1);
  guint id;

  t->server = server;
  t->function = function;
  t->data = data;
  t->notify = notify;
  g_source_set_callback (source, timer_call, t, timer_call_free);
  id = g_source_attach (source, server->context);
  server_lock (server);
  server->sources = g_slist_prepend (server->sources, source);
  server_unlock (server);
  return id;
}

/**
 * udg_server_add_timeout_seconds:
 * @server: a #UdgServer
 * @interval: seconds between calls
 * @function: called on the serving thread while udg_server_serve_forever()
 *   runs; return %G_SOURCE_REMOVE to stop
 * @data: (closure function): its argument
 * @notify: (nullable): frees @data when the timer ends
 *
 * Starts a background timer on the server's main context: the C form of
 * a background task created in `service_init`.  It stops at the latest when
 * the run tears down.  Each call runs in the timer's own context: it sees
 * the #UdgContextVar values set in `service_init`, and what it sets stays
 * its own (kept from one call to the next, unseen by the handlers).
 *
 * Returns: the source id in the server's context
 *
 * Since: 0.1
 */
guint
udg_server_add_timeout_seconds (UdgServer     *server,
                                guint          interval,
                                GSourceFunc    function,
                                gpointer       data,
                                GDestroyNotify notify)
{
  g_return_val_if_fail (server != NULL, 0);
  g_return_val_if_fail (function != NULL, 0);
  return add_source (server, g_timeout_source_new_seconds (interval), function, data, notify);
}

/**
 * udg_server_add_timeout:
 * @server: a #UdgServer
 * @seconds: seconds between calls, fractions allowed (0.25 is 250 ms); 0
 *   calls it at each iteration of the loop until it returns
 *   %G_SOURCE_REMOVE
 * @function: as for udg_server_add_timeout_seconds()
 * @data: (closure function): its argument
 * @notify: (nullable): frees @data when the timer ends
 *
 * Like udg_server_add_timeout_seconds(), with a finer interval, in seconds
 * as every duration of the library.  A negative, NaN or infinite interval
 * is a programming error.
 *
 * Returns: the source id in the server's context, or 0 for a bad interval
 *
 * Since: 0.1
 */
guint
udg_server_add_timeout (UdgServer     *server,
                        gdouble        seconds,
                        GSourceFunc    function,
                        gpointer       data,
                        GDestroyNotify notify)
{
  g_return_val_if_fail (server != NULL, 0);
  g_return_val_if_fail (function != NULL, 0);
  g_return_val_if_fail (isfinite (seconds) && seconds >= 0 && seconds < G_MAXUINT / 1000.0, 0);
  return add_source (server, g_timeout_source_new ((guint) ceil (seconds * 1000)), function, data, notify);
}

/* Sends on the shared socket: sendmsg() is atomic per datagram, so no lock.
 *
 * A peer found not reading its replies is refused at once (the send budget,
 * udg-send-budget.c).  A peer whose queue is full for now (an unconnected
 * peer has net.unix.max_dgram_qlen datagrams unread) is waited for by the
 * kernel: sendmsg() without MSG_DONTWAIT sleeps until the peer reads, at most
 * the send timeout (SO_SNDTIMEO).  Such a thread is counted as blocked, so
 * the pool grows and the other clients are still served; at most a quarter
 * of the pool waits so, and beyond that a full queue fails at once. */
gboolean
udg_server_send (UdgServer    *server,
                 UdgAddress   *peer,
                 GBytes       *datagram,
                 const guint8 *control,
                 gsize         control_len,
                 GError      **error)
{
  struct sockaddr_un sa;
  struct iovec iov;
  struct msghdr msg = { 0 };
  gsize len;
  gint flags = MSG_DONTWAIT | MSG_NOSIGNAL;
  gboolean waiting = FALSE;
  gboolean sent = FALSE;
  int errsv;

  iov.iov_base = (gpointer) g_bytes_get_data (datagram, &len);
  iov.iov_len = len;
  msg.msg_name = &sa;
  msg.msg_namelen = udg_address_to_sockaddr (peer, &sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = (gpointer) control;
  msg.msg_controllen = control_len;

  if (!udg_send_budget_charge (server, peer, len, error))
    {
      UDG_STAT_ADD (server, send_errors, 1);
      return FALSE;
    }
  for (;;)
    {
      if (sendmsg (server->fd, &msg, flags) >= 0)
        {
          sent = TRUE;
          break;
        }
      errsv = errno;
      if (errsv == EINTR)
        continue;
      if ((errsv == EAGAIN || errsv == ENOBUFS) && !waiting && server->options.send_timeout > 0 &&
          !g_cancellable_is_cancelled (server->cancellable) && udg_send_budget_wait (server, +1))
        {
          waiting = TRUE;
          if (udg_invocation_get_current () != NULL)
            udg_scheduler_blocked (server, +1);
          flags = MSG_NOSIGNAL;
          continue;
        }
      break;
    }
  if (waiting)
    {
      if (udg_invocation_get_current () != NULL)
        udg_scheduler_blocked (server, -1);
      udg_send_budget_wait (server, -1);
    }
  if (!sent)
    {
      g_autofree gchar *who = udg_address_to_string (peer);

      udg_send_budget_refund (server, peer, len);
      UDG_STAT_ADD (server, send_errors, 1);
      if ((errsv == EAGAIN || errsv == ENOBUFS) && udg_send_budget_buffer_full (server, len))
        g_set_error (error, UDG_ERROR, UDG_ERROR_WOULD_BLOCK,
                     _("The server's send buffer is full of replies its peers have not read yet: "
                       "the datagram to %s was not sent"), who);
      else if (errsv == EAGAIN || errsv == ENOBUFS)
        g_set_error (error, UDG_ERROR, UDG_ERROR_WOULD_BLOCK,
                     _("The peer %s does not read its queue: the datagram was not sent"), who);
      else
        udg_set_error_from_errno (error, errsv, _("Unable to send a datagram to %s"), who);
    }
  return sent;
}
