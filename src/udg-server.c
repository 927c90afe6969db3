/* udgram - the server object: its constructors, references and getters
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

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
 * The server's code is in layers, each file one concept (docs/design.md):
 * this file is the object; udg-server-socket.c binds and closes its socket,
 * udg-server-timers.c its background timers, udg-server-run.c runs it.
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


static void finalize (UdgServer *server);

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
  if (!udg_server_options_validate (options, error))
    return NULL;

  udg_glib_warm_up ();
  server = g_new0 (UdgServer, 1);
  g_atomic_ref_count_init (&server->ref_count);
  server->finalize = finalize;
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
  server->phase = UDG_PHASE_IDLE;
  server->fd = -1;
  udg_reader_init (&server->reader);
  udg_notifier_init (&server->notifier);
  server->cancellable = g_cancellable_new ();
  pthread_mutex_init (&server->clients_lock, NULL);
  server->clients = g_hash_table_new (udg_address_hash, udg_address_equal);
  /* The scheduler runs the clients' invocations through the reader, which
   * reads between them. */
  udg_scheduler_init (&server->scheduler, udg_reader_run_task, server, &server->stats.waits_ended);
  udg_sender_init (&server->sender, &server->scheduler, &server->stats.send_errors, &server->stats.not_reading);
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

/* udg_server_new_with_func(): the function, its data, and how to free it. */
typedef struct
{
  UdgHandleFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} FuncHandler;

static gboolean
func_handle (UdgClient *client, gpointer data, GError **error)
{
  FuncHandler *handler = data;

  return handler->func (client, handler->user_data, error);
}

static void
func_handler_free (gpointer data)
{
  FuncHandler *handler = data;

  if (handler->destroy != NULL)
    handler->destroy (handler->user_data);
  g_free (handler);
}

/**
 * udg_server_new_with_func:
 * @path: where to bind, as for udg_server_new()
 * @protocol: (nullable): the protocol, a reference is taken; %NULL for
 *   the datagrams as they are (packets are #GBytes)
 * @handle: (scope notified) (closure user_data) (destroy destroy): the
 *   request handler: #UdgHandlerFuncs.handle alone, called on the server's
 *   pool threads, one invocation per client at a time
 * @user_data: data for @handle
 * @destroy: (nullable): frees @user_data with the server
 * @options: (nullable): options, or %NULL for the defaults; copied
 * @error: return location for a #GError
 *
 * Creates a server whose handler is one function: the constructor for
 * bindings (a Python function, through GObject introspection), which pair
 * it with udg_client_recv_bytes() and udg_client_send_bytes().  Unlike
 * udg_server_new(), @destroy is called at once when the server cannot be
 * made.
 *
 * Returns: (transfer full) (nullable): a new #UdgServer, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
UdgServer *
udg_server_new_with_func (const gchar            *path,
                          UdgProtocol            *protocol,
                          UdgHandleFunc           handle,
                          gpointer                user_data,
                          GDestroyNotify          destroy,
                          const UdgServerOptions *options,
                          GError                **error)
{
  static const UdgHandlerFuncs funcs = { .handle = func_handle };
  g_autoptr(UdgProtocol) bytes = NULL;
  FuncHandler *handler;
  UdgServer *server;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (handle != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (protocol == NULL)
    {
      g_autoptr(UdgSerializer) serializer = udg_bytes_serializer_new ();

      protocol = bytes = udg_protocol_new (serializer);
    }
  handler = g_new0 (FuncHandler, 1);
  handler->func = handle;
  handler->user_data = user_data;
  handler->destroy = destroy;
  server = udg_server_new (path, protocol, &funcs, handler, func_handler_free, options, error);
  if (server == NULL)
    func_handler_free (handler);
  return server;
}

/**
 * udg_server_new_from_fd:
 * @fd: a bound AF_UNIX datagram socket, owned by the server from now
 *   on, such as one inherited from systemd (see udg_listen_fds())
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

  if (fcntl (fd, F_GETFD) < 0 && errno == EBADF)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Descriptor %d is not open (closed already, or never opened)"), fd);
      return NULL;
    }
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
  udg_server_adopt_socket (server, fd, g_steal_pointer (&address));
  return server;
}

/**
 * udg_server_ref:
 * @server: a #UdgServer
 *
 * Takes a reference on @server.
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
  udg_server_release (server);
}

/* The last reference is gone (the user's, a run's, or a client's). */
static void
finalize (UdgServer *server)
{
  udg_server_close_socket (server);
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
  udg_sender_clear (&server->sender);
  udg_scheduler_clear (&server->scheduler);
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

/**
 * udg_server_is_listening:
 * @server: a #UdgServer
 *
 * Tells whether the server has a socket to serve: bound by
 * udg_server_activate() (or passed by the service manager) and not yet
 * closed.
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
  pthread_mutex_lock (&server->lock);
  listening = server->fd >= 0 && server->phase != UDG_PHASE_CLOSED;
  pthread_mutex_unlock (&server->lock);
  return listening;
}

/**
 * udg_server_get_addresses:
 * @server: a #UdgServer
 *
 * Gets the addresses the server's socket is bound to.
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
  pthread_mutex_lock (&server->lock);
  if (server->fd >= 0 && server->phase != UDG_PHASE_CLOSED)
    g_ptr_array_add (addresses, udg_address_ref (server->bound));
  pthread_mutex_unlock (&server->lock);
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
  pthread_mutex_lock (&server->lock);
  if (server->fd >= 0 && server->phase != UDG_PHASE_CLOSED)
    g_array_append_val (fds, server->fd);
  pthread_mutex_unlock (&server->lock);
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
 * Gets the protocol the server reads requests and sends replies with.
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

  /* One list, the public struct's: each counter read atomically (they are
   * all guint64, padding included); the gauges are counted now. */
  for (gsize i = 0; i < sizeof *stats / sizeof (guint64); i++)
    ((guint64 *) stats)[i] = __atomic_load_n ((const guint64 *) &server->stats + i, __ATOMIC_RELAXED);
  udg_scheduler_counts (&server->scheduler, &stats->active_clients, &stats->running_invocations,
                        &stats->blocked_in_recv);
  udg_clients_count (server, &stats->queued_datagrams);
}

/**
 * udg_server_get_type:
 *
 * The #GType of #UdgServer, a boxed type: bindings and #GValue copy it with
 * udg_server_ref() and free it with udg_server_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgServer, udg_server, udg_server_ref, udg_server_unref)

static UdgServerStats *
stats_copy (const UdgServerStats *stats)
{
  return g_memdup2 (stats, sizeof *stats);
}

/**
 * udg_server_stats_get_type:
 *
 * The #GType of #UdgServerStats, a boxed type copied by value.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgServerStats, udg_server_stats, stats_copy, g_free)
