/* udgram - the client endpoint (EasyNetwork's UnixDatagramClient)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

/**
 * SECTION:udg-endpoint
 * @title: UdgEndpoint
 * @short_description: the client side of a Unix datagram server
 *
 * A #UdgEndpoint is a socket connected to one server (EasyNetwork's
 * `UnixDatagramClient`), speaking a #UdgProtocol.  It is bound to a local
 * address so that replies can reach it: a path you give, or by default an
 * abstract name the kernel picks (autobind).
 *
 * It is thread-safe: sends and receives each take their own lock, and the
 * time spent waiting for a lock counts against the call's timeout.
 * Timeouts follow the library's one convention (%UDG_TIMEOUT_INFINITE):
 * seconds, 0 to try once, %UDG_TIMEOUT_INFINITE to wait for ever; a
 * negative or NaN timeout is %UDG_ERROR_INVALID_ARGUMENT.  udg_endpoint_close() wakes every blocked call, which fails with
 * %UDG_ERROR_CLOSED.  The endpoint removes the socket file it created when
 * it closes, and never one it did not create.
 */

/**
 * UdgEndpoint:
 *
 * A client socket connected to one server; reference-counted and thread-safe.
 */

#define MAX_DATAGRAM (64 * 1024)

struct _UdgEndpoint
{
  gatomicrefcount ref_count;
  UdgProtocol *protocol;        /* (owned) */
  UdgAddress *local;            /* (owned) */
  UdgAddress *peer;             /* (owned) */
  gchar *created_path;          /* (owned) (nullable): ours to remove */
  dev_t dev;
  ino_t ino;

  gint fd;
  gint wake_fd;                 /* signalled for ever once closed */
  gint closed;                  /* atomic */

  pthread_mutex_t send_lock;
  pthread_mutex_t recv_lock;
  pthread_mutex_t state_lock;   /* protects users, and the fd's closing */
  pthread_cond_t idle;
  guint users;                  /* calls using fd */
};

static void
set_closed_error (GError **error)
{
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_CLOSED, _("Closed client"));
}

static UdgEndpoint *
endpoint_alloc (UdgProtocol *protocol, gint fd)
{
  UdgEndpoint *endpoint = g_new0 (UdgEndpoint, 1);

  g_atomic_ref_count_init (&endpoint->ref_count);
  if (protocol != NULL)
    endpoint->protocol = udg_protocol_ref (protocol);
  else
    {
      g_autoptr(UdgSerializer) bytes = udg_bytes_serializer_new ();

      endpoint->protocol = udg_protocol_new (bytes);
    }
  endpoint->fd = fd;
  endpoint->wake_fd = -1;
  pthread_mutex_init (&endpoint->send_lock, NULL);
  pthread_mutex_init (&endpoint->recv_lock, NULL);
  pthread_mutex_init (&endpoint->state_lock, NULL);
  pthread_cond_init (&endpoint->idle, NULL);
  return endpoint;
}

/* Names, non-blocking mode and the wake-up fd of a connected socket. */
static gboolean
endpoint_setup (UdgEndpoint *endpoint, GError **error)
{
  struct sockaddr_un sa;
  socklen_t len = sizeof sa;

  if (getpeername (endpoint->fd, (struct sockaddr *) &sa, &len) < 0)
    {
      udg_set_error_from_errno (error, errno, _("The socket is not connected"));
      return FALSE;
    }
  endpoint->peer = udg_address_new_from_sockaddr (&sa, len, error);
  if (endpoint->peer == NULL)
    return FALSE;
  len = sizeof sa;
  if (getsockname (endpoint->fd, (struct sockaddr *) &sa, &len) < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to read the socket's name"));
      return FALSE;
    }
  endpoint->local = udg_address_new_from_sockaddr (&sa, len, error);
  if (endpoint->local == NULL)
    return FALSE;
  if (udg_address_is_unnamed (endpoint->local))
    {
      /* An unnamed socket can send, but no reply can come back. */
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("UnixDatagramClient requires the socket to be named."));
      return FALSE;
    }
  fcntl (endpoint->fd, F_SETFL, fcntl (endpoint->fd, F_GETFL) | O_NONBLOCK);
  fcntl (endpoint->fd, F_SETFD, FD_CLOEXEC);
  endpoint->wake_fd = udg_eventfd_new ();
  if (endpoint->wake_fd < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to create the endpoint's wake-up descriptor"));
      return FALSE;
    }
  return TRUE;
}

static void endpoint_close_fd (UdgEndpoint *endpoint);

static void
endpoint_free (UdgEndpoint *endpoint)
{
  endpoint_close_fd (endpoint);
  if (endpoint->wake_fd >= 0)
    close (endpoint->wake_fd);
  g_clear_pointer (&endpoint->local, udg_address_unref);
  g_clear_pointer (&endpoint->peer, udg_address_unref);
  g_free (endpoint->created_path);
  udg_protocol_unref (endpoint->protocol);
  pthread_cond_destroy (&endpoint->idle);
  pthread_mutex_destroy (&endpoint->state_lock);
  pthread_mutex_destroy (&endpoint->recv_lock);
  pthread_mutex_destroy (&endpoint->send_lock);
  g_free (endpoint);
}

/**
 * udg_endpoint_new_for_address:
 * @server: the server's address
 * @local: (nullable): where to bind the endpoint: a path or an abstract
 *   name; %NULL or the unnamed address to let the kernel autobind an
 *   abstract name
 * @protocol: (nullable): the protocol, a reference is taken; %NULL for
 *   the datagrams as they are (packets are #GBytes)
 * @error: return location for a #GError
 *
 * Creates a socket, binds it and connects it to @server.
 *
 * Returns: (transfer full) (nullable): a new #UdgEndpoint, or %NULL with the
 *   bind or connect error (%G_IO_ERROR_NOT_FOUND when nothing is at
 *   @server, %G_IO_ERROR_CONNECTION_REFUSED when nobody listens there)
 *
 * Since: 0.1
 */
UdgEndpoint *
udg_endpoint_new_for_address (UdgAddress  *server,
                              UdgAddress  *local,
                              UdgProtocol *protocol,
                              GError     **error)
{
  UdgEndpoint *endpoint;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  socklen_t len;
  gint fd;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  udg_glib_warm_up ();
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      udg_set_error_from_errno (error, errno, _("Unable to create a Unix datagram socket"));
      return NULL;
    }
  endpoint = endpoint_alloc (protocol, fd);
  len = local != NULL ? udg_address_to_sockaddr (local, &sa) : (sa.sun_family = AF_UNIX, sizeof (sa_family_t));
  if (bind (fd, (struct sockaddr *) &sa, len) < 0)
    {
      g_autofree gchar *where = local != NULL ? udg_address_to_string (local) : g_strdup ("<autobind>");

      udg_set_error_from_errno (error, errno, _("error while attempting to bind on address '%s'"), where);
      endpoint_free (endpoint);
      return NULL;
    }
  if (local != NULL && udg_address_get_path (local) != NULL)
    {
      struct stat st;

      if (stat (udg_address_get_path (local), &st) == 0)
        {
          endpoint->created_path = g_strdup (udg_address_get_path (local));
          endpoint->dev = st.st_dev;
          endpoint->ino = st.st_ino;
        }
    }
  len = udg_address_to_sockaddr (server, &sa);
  if (connect (fd, (struct sockaddr *) &sa, len) < 0)
    {
      g_autofree gchar *where = udg_address_to_string (server);

      udg_set_error_from_errno (error, errno, _("Unable to connect to '%s'"), where);
      endpoint_free (endpoint);
      return NULL;
    }
  if (!endpoint_setup (endpoint, error))
    {
      endpoint_free (endpoint);
      return NULL;
    }
  return endpoint;
}

/**
 * udg_endpoint_new:
 * @server_path: the server: a path, or `@name` for an abstract name
 * @local_path: (nullable): where to bind the endpoint (a path or `@name`);
 *   %NULL or "" to autobind an abstract name
 * @protocol: (nullable): the protocol, a reference is taken; %NULL for
 *   the datagrams as they are (packets are #GBytes)
 * @error: return location for a #GError
 *
 * Creates an endpoint connected to a server; see
 * udg_endpoint_new_for_address().
 *
 * Returns: (transfer full) (nullable): a new #UdgEndpoint, or %NULL
 *
 * Since: 0.1
 */
UdgEndpoint *
udg_endpoint_new (const gchar *server_path,
                  const gchar *local_path,
                  UdgProtocol *protocol,
                  GError     **error)
{
  g_autoptr(UdgAddress) server = NULL;
  g_autoptr(UdgAddress) local = NULL;

  g_return_val_if_fail (server_path != NULL, NULL);
  server = udg_address_new_from_string (server_path, error);
  if (server == NULL)
    return NULL;
  if (udg_address_is_unnamed (server))
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT, _("The server's address is empty"));
      return NULL;
    }
  if (local_path != NULL && local_path[0] != '\0')
    {
      local = udg_address_new_from_string (local_path, error);
      if (local == NULL)
        return NULL;
    }
  return udg_endpoint_new_for_address (server, local, protocol, error);
}

/**
 * udg_endpoint_new_from_fd:
 * @fd: a connected, named AF_UNIX datagram socket, owned by the endpoint
 *   from now on
 * @protocol: (nullable): the protocol, a reference is taken; %NULL for
 *   the datagrams as they are (packets are #GBytes)
 * @error: return location for a #GError
 *
 * Adopts an existing socket, which the endpoint then owns (it is closed on
 * error too).  It is made non-blocking and close-on-exec.
 *
 * Returns: (transfer full) (nullable): a new #UdgEndpoint, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT for a socket of another kind or an unnamed
 *   one ("UnixDatagramClient requires the socket to be named."), or the
 *   system's error for one that is not connected
 *
 * Since: 0.1
 */
UdgEndpoint *
udg_endpoint_new_from_fd (gint         fd,
                          UdgProtocol *protocol,
                          GError     **error)
{
  UdgEndpoint *endpoint;
  int domain = 0, type = 0;
  socklen_t len = sizeof domain;

  g_return_val_if_fail (fd >= 0, NULL);

  udg_glib_warm_up ();
  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX ||
      (len = sizeof type, getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) || type != SOCK_DGRAM)
    {
      close (fd);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("The descriptor is not an AF_UNIX datagram socket"));
      return NULL;
    }
  endpoint = endpoint_alloc (protocol, fd);
  if (!endpoint_setup (endpoint, error))
    {
      endpoint_free (endpoint);
      return NULL;
    }
  return endpoint;
}

/**
 * udg_endpoint_ref:
 * @endpoint: a #UdgEndpoint
 *
 * Takes a reference on @endpoint.
 *
 * Returns: (transfer full): @endpoint
 *
 * Since: 0.1
 */
UdgEndpoint *
udg_endpoint_ref (UdgEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  g_atomic_ref_count_inc (&endpoint->ref_count);
  return endpoint;
}

/**
 * udg_endpoint_unref:
 * @endpoint: (transfer full): a #UdgEndpoint
 *
 * Drops a reference; the last one closes the endpoint and frees it.
 *
 * Since: 0.1
 */
void
udg_endpoint_unref (UdgEndpoint *endpoint)
{
  g_return_if_fail (endpoint != NULL);
  if (g_atomic_ref_count_dec (&endpoint->ref_count))
    endpoint_free (endpoint);
}

/* Closes the socket once no call uses it, and removes our socket file. */
static void
endpoint_close_fd (UdgEndpoint *endpoint)
{
  gint fd;

  pthread_mutex_lock (&endpoint->state_lock);
  while (endpoint->users > 0)
    pthread_cond_wait (&endpoint->idle, &endpoint->state_lock);
  fd = endpoint->fd;
  endpoint->fd = -1;
  pthread_mutex_unlock (&endpoint->state_lock);
  if (fd < 0)
    return;
  close (fd);
  if (endpoint->created_path != NULL)
    {
      struct stat st;

      if (stat (endpoint->created_path, &st) == 0 && st.st_dev == endpoint->dev && st.st_ino == endpoint->ino)
        unlink (endpoint->created_path);
    }
}

/**
 * udg_endpoint_close:
 * @endpoint: a #UdgEndpoint
 *
 * Closes the endpoint: calls blocked in it wake with %UDG_ERROR_CLOSED, the
 * socket is closed once they have returned, and the socket file the
 * endpoint created is removed.  Idempotent; safe from any thread.
 *
 * Since: 0.1
 */
void
udg_endpoint_close (UdgEndpoint *endpoint)
{
  g_return_if_fail (endpoint != NULL);
  if (!g_atomic_int_compare_and_exchange (&endpoint->closed, FALSE, TRUE))
    return;
  if (endpoint->wake_fd >= 0)
    udg_eventfd_signal (endpoint->wake_fd);
  endpoint_close_fd (endpoint);
}

/**
 * udg_endpoint_is_closed:
 * @endpoint: a #UdgEndpoint
 *
 * Tells whether @endpoint was closed.
 *
 * Returns: whether udg_endpoint_close() was called
 *
 * Since: 0.1
 */
gboolean
udg_endpoint_is_closed (UdgEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, TRUE);
  return g_atomic_int_get (&endpoint->closed);
}

/**
 * udg_endpoint_get_fd:
 * @endpoint: a #UdgEndpoint
 *
 * Gets the endpoint's socket, to read or set socket options on it. Do not
 * read from it, send on it or close it: the endpoint owns it.
 *
 * Returns: the socket, for getsockopt() and setsockopt() only; -1 once
 *   closed
 *
 * Since: 0.1
 */
gint
udg_endpoint_get_fd (UdgEndpoint *endpoint)
{
  gint fd;

  g_return_val_if_fail (endpoint != NULL, -1);
  pthread_mutex_lock (&endpoint->state_lock);
  fd = g_atomic_int_get (&endpoint->closed) ? -1 : endpoint->fd;
  pthread_mutex_unlock (&endpoint->state_lock);
  return fd;
}

/**
 * udg_endpoint_get_local_name:
 * @endpoint: a #UdgEndpoint
 *
 * Gets the address the endpoint's socket is bound to (an autobound abstract
 * name unless the endpoint was given one), which the server sees as the
 * client's address.
 *
 * Returns: (transfer none): the endpoint's own address
 *
 * Since: 0.1
 */
UdgAddress *
udg_endpoint_get_local_name (UdgEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  return endpoint->local;
}

/**
 * udg_endpoint_get_peer_name:
 * @endpoint: a #UdgEndpoint
 *
 * Gets the address of the server the endpoint talks to.
 *
 * Returns: (transfer none): the server's address
 *
 * Since: 0.1
 */
UdgAddress *
udg_endpoint_get_peer_name (UdgEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  return endpoint->peer;
}

/**
 * udg_endpoint_get_protocol:
 * @endpoint: a #UdgEndpoint
 *
 * Gets the protocol the endpoint sends and receives packets with.
 *
 * Returns: (transfer none): the endpoint's protocol
 *
 * Since: 0.1
 */
UdgProtocol *
udg_endpoint_get_protocol (UdgEndpoint *endpoint)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  return endpoint->protocol;
}

/**
 * udg_endpoint_free_packet:
 * @endpoint: a #UdgEndpoint
 * @packet: (nullable) (transfer full): a packet from udg_endpoint_recv_packet()
 *
 * Frees a received packet with the endpoint's protocol.
 *
 * Since: 0.1
 */
void
udg_endpoint_free_packet (UdgEndpoint *endpoint,
                          gpointer     packet)
{
  g_return_if_fail (endpoint != NULL);
  udg_protocol_free_packet (endpoint->protocol, packet);
}

/* --- the blocking calls --------------------------------------------------- */

static gint64
deadline_of (gdouble timeout)
{
  return timeout < 0 || isnan (timeout) ? 0 : udg_deadline_from_timeout (timeout);
}

/* Takes @lock before @deadline, and marks the endpoint in use. */
static gboolean
enter (UdgEndpoint *endpoint, pthread_mutex_t *lock, gint64 deadline, GError **error)
{
  int rc;

  if (g_atomic_int_get (&endpoint->closed))
    {
      set_closed_error (error);
      return FALSE;
    }
  if (deadline == G_MAXINT64)
    rc = pthread_mutex_lock (lock);
  else
    {
      /* pthread_mutex_timedlock() takes CLOCK_REALTIME; not
       * pthread_mutex_clocklock(), which ThreadSanitizer does not know. */
      gint64 wall = g_get_real_time () + MAX (0, deadline - g_get_monotonic_time ());
      struct timespec ts;

      udg_timespec_from_usec (wall, &ts);
      rc = pthread_mutex_timedlock (lock, &ts);
    }
  if (rc != 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_TIMED_OUT,
                           _("Timed out waiting for another thread using the endpoint"));
      return FALSE;
    }
  pthread_mutex_lock (&endpoint->state_lock);
  if (g_atomic_int_get (&endpoint->closed) || endpoint->fd < 0)
    {
      pthread_mutex_unlock (&endpoint->state_lock);
      pthread_mutex_unlock (lock);
      set_closed_error (error);
      return FALSE;
    }
  endpoint->users++;
  pthread_mutex_unlock (&endpoint->state_lock);
  return TRUE;
}

static void
leave (UdgEndpoint *endpoint, pthread_mutex_t *lock)
{
  pthread_mutex_lock (&endpoint->state_lock);
  if (--endpoint->users == 0)
    pthread_cond_broadcast (&endpoint->idle);
  pthread_mutex_unlock (&endpoint->state_lock);
  pthread_mutex_unlock (lock);
}

/* The timeout errors, worded as udg_client_recv() and the server's sends
 * word them. */
static void
set_timed_out (GError **error, short events)
{
  if (events & POLLIN)
    g_set_error_literal (error, UDG_ERROR, UDG_ERROR_TIMED_OUT, _("No datagram arrived before the timeout"));
  else
    g_set_error_literal (error, UDG_ERROR, UDG_ERROR_TIMED_OUT,
                         _("The server's queue stayed full until the timeout: the datagram was not sent"));
}

/* Waits for @events on the socket until @deadline; FALSE with an error on
 * timeout, close or cancellation. */
static gboolean
wait_socket (UdgEndpoint *endpoint, short events, gint64 deadline, GCancellable *cancellable, GError **error)
{
  GPollFD cancel_fd = { -1, 0, 0 };
  gboolean has_cancel = cancellable != NULL && g_cancellable_make_pollfd (cancellable, &cancel_fd);
  struct pollfd fds[3] = {
    { endpoint->fd, events, 0 },
    { endpoint->wake_fd, POLLIN, 0 },
    { has_cancel ? cancel_fd.fd : -1, POLLIN, 0 },
  };
  gboolean ok = FALSE;

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      int ms, r;

      if (now >= deadline)
        {
          set_timed_out (error, events);
          break;
        }
      ms = deadline == G_MAXINT64 ? -1 : (int) MIN ((deadline - now + 999) / 1000, G_MAXINT);
      r = poll (fds, 3, ms);
      if (r < 0 && errno == EINTR)
        continue;
      if (g_atomic_int_get (&endpoint->closed))
        {
          set_closed_error (error);
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (r > 0 && fds[0].revents != 0)
        {
          ok = TRUE;
          break;
        }
    }
  if (has_cancel)
    g_cancellable_release_fd (cancellable);
  return ok;
}

/* Connects the socket to the server's address again, with the send lock
 * held. */
static gboolean
reconnect (UdgEndpoint *endpoint, GError **error)
{
  struct sockaddr_un sa;
  socklen_t len = udg_address_to_sockaddr (endpoint->peer, &sa);

  if (connect (endpoint->fd, (struct sockaddr *) &sa, len) == 0)
    return TRUE;
  {
    int errsv = errno;
    g_autofree gchar *who = udg_address_to_string (endpoint->peer);

    udg_set_error_from_errno (error, errsv, _("Unable to send a datagram to %s"), who);
  }
  return FALSE;
}

/* Sends @raw as it is, or else @packet serialized by the protocol. */
static gboolean
send_datagram (UdgEndpoint  *endpoint,
               gconstpointer packet,
               GBytes       *raw,
               UdgAncillary *ancillary,
               gdouble       timeout,
               GCancellable *cancellable,
               GError      **error)
{
  g_autoptr(GBytes) datagram = NULL;
  g_autofree guint8 *control = NULL;
  struct iovec iov;
  struct msghdr msg = { 0 };
  gint64 deadline = deadline_of (timeout);
  gsize len, control_len = 0;
  gboolean ok = FALSE;

  if (!udg_validate_timeout (timeout, error))
    return FALSE;
  if (!enter (endpoint, &endpoint->send_lock, deadline, error))
    return FALSE;
  datagram = raw != NULL ? g_bytes_ref (raw) : udg_protocol_make_datagram (endpoint->protocol, packet, error);
  if (datagram == NULL)
    goto out;
  if (ancillary != NULL)
    control = udg_ancillary_to_control (ancillary, &control_len);
  iov.iov_base = (gpointer) g_bytes_get_data (datagram, &len);
  iov.iov_len = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = control_len;
  for (gboolean reconnected = FALSE;;)
    {
      int errsv;

      if (sendmsg (endpoint->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
        {
          ok = TRUE;
          break;
        }
      errsv = errno;
      if (errsv == EINTR)
        continue;
      /* The server's socket was closed (a restart): the kernel disconnects
       * ours at the first send after (ECONNREFUSED), and refuses the next
       * ones (ENOTCONN).  Connecting again reaches the socket bound at the
       * server's address now, if there is one; else that error is this
       * send's, and the next send tries again. */
      if ((errsv == ECONNREFUSED || errsv == ENOTCONN) && !reconnected)
        {
          reconnected = TRUE;
          if (reconnect (endpoint, error))
            continue;
          break;
        }
      if (errsv != EAGAIN)
        {
          g_autofree gchar *who = udg_address_to_string (endpoint->peer);

          udg_set_error_from_errno (error, errsv, _("Unable to send a datagram to %s"), who);
          break;
        }
      if (timeout == 0)
        {
          set_timed_out (error, POLLOUT);
          break;
        }
      /* A connected datagram socket does wait for room in the peer's queue. */
      if (!wait_socket (endpoint, POLLOUT, deadline, cancellable, error))
        break;
    }
out:
  leave (endpoint, &endpoint->send_lock);
  return ok;
}

/**
 * udg_endpoint_send_packet_with_ancillary:
 * @endpoint: a #UdgEndpoint
 * @packet: the packet
 * @ancillary: (nullable): descriptors and credentials to send with it
 * @timeout: seconds to wait for the send lock and for room in the server's
 *   queue; 0 to try once, %UDG_TIMEOUT_INFINITE to wait for ever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Serializes @packet and sends it to the server with sendmsg().
 *
 * The endpoint survives a restart of the server: when the server's socket
 * was closed and its address bound again by a new one, the send connects
 * to the new socket and goes.  While nobody is bound there, the send fails
 * (%G_IO_ERROR_CONNECTION_REFUSED or %G_IO_ERROR_NOT_FOUND) and the next
 * one tries again.  A reply lost with the old socket is the caller's
 * timeout, as for any datagram.
 *
 * Returns: %TRUE when sent; %FALSE with %UDG_ERROR_CLOSED,
 *   %UDG_ERROR_TIMED_OUT, %UDG_ERROR_INVALID_ARGUMENT (a negative or NaN
 *   @timeout), %UDG_ERROR_FAILED (the protocol could not
 *   serialize it), %G_IO_ERROR_CONNECTION_REFUSED or %G_IO_ERROR_NOT_FOUND
 *   (no server at its address now), or another system error
 *
 * Since: 0.1
 */
gboolean
udg_endpoint_send_packet_with_ancillary (UdgEndpoint  *endpoint,
                                         gconstpointer packet,
                                         UdgAncillary *ancillary,
                                         gdouble       timeout,
                                         GCancellable *cancellable,
                                         GError      **error)
{
  g_return_val_if_fail (endpoint != NULL, FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return send_datagram (endpoint, packet, NULL, ancillary, timeout, cancellable, error);
}

/**
 * udg_endpoint_send_bytes:
 * @endpoint: a #UdgEndpoint
 * @datagram: the datagram's bytes
 * @timeout: as for udg_endpoint_send_packet_with_ancillary()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @datagram to the server as it is, without the endpoint's
 * protocol: the call for bindings, which serialize in their own language.
 * Errors are those of udg_endpoint_send_packet_with_ancillary(), but for
 * the protocol's.
 *
 * Returns: %TRUE when sent
 *
 * Since: 0.1
 */
gboolean
udg_endpoint_send_bytes (UdgEndpoint  *endpoint,
                         GBytes       *datagram,
                         gdouble       timeout,
                         GCancellable *cancellable,
                         GError      **error)
{
  g_return_val_if_fail (endpoint != NULL, FALSE);
  g_return_val_if_fail (datagram != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return send_datagram (endpoint, NULL, datagram, NULL, timeout, cancellable, error);
}

/**
 * udg_endpoint_send_packet:
 * @endpoint: a #UdgEndpoint
 * @packet: the packet
 * @timeout: as for udg_endpoint_send_packet_with_ancillary()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @packet to the server.
 *
 * Returns: %TRUE when sent
 *
 * Since: 0.1
 */
gboolean
udg_endpoint_send_packet (UdgEndpoint  *endpoint,
                          gconstpointer packet,
                          gdouble       timeout,
                          GCancellable *cancellable,
                          GError      **error)
{
  g_return_val_if_fail (endpoint != NULL, FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return send_datagram (endpoint, packet, NULL, NULL, timeout, cancellable, error);
}

/* Receives the next datagram: parsed by the protocol, or its bytes. */
static gpointer
recv_datagram (UdgEndpoint          *endpoint,
               UdgRecvAncillaryFunc  func,
               gpointer              user_data,
               gsize                 bufsize,
               gdouble               timeout,
               GCancellable         *cancellable,
               gboolean              parse,
               GError              **error)
{
  g_autofree guint8 *buffer = NULL;
  g_autofree guint8 *control = NULL;
  g_autoptr(GBytes) datagram = NULL;
  g_autoptr(GError) cause = NULL;
  struct iovec iov;
  struct msghdr msg = { 0 };
  gint64 deadline = deadline_of (timeout);
  gpointer packet = NULL;
  gssize n;

  if (!udg_validate_timeout (timeout, error))
    return NULL;
  if (!enter (endpoint, &endpoint->recv_lock, deadline, error))
    return NULL;
  buffer = g_malloc (MAX_DATAGRAM);
  if (func != NULL)
    {
      bufsize = bufsize > 0 ? bufsize : CMSG_SPACE (8192);
      control = g_malloc0 (bufsize);
    }
  for (;;)
    {
      iov.iov_base = buffer;
      iov.iov_len = MAX_DATAGRAM;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = control != NULL ? bufsize : 0;
      n = recvmsg (endpoint->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n >= 0)
        break;
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        {
          g_autofree gchar *who = udg_address_to_string (endpoint->peer);

          udg_set_error_from_errno (error, errno, _("Unable to receive from %s"), who);
          goto out;
        }
      if (timeout == 0)
        {
          set_timed_out (error, POLLIN);
          goto out;
        }
      if (!wait_socket (endpoint, POLLIN, deadline, cancellable, error))
        goto out;
    }

  if (msg.msg_flags & MSG_TRUNC)
    {
      udg_ancillary_close_control_fds (control, msg.msg_controllen);
      g_set_error (error, UDG_ERROR, UDG_ERROR_TRUNCATED,
                   _("The datagram was longer than %d bytes and was cut"), MAX_DATAGRAM);
      goto out;
    }
  if (func != NULL && !func (control, msg.msg_controllen, msg.msg_flags, user_data, &cause))
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED,
                   _("The recv_with_ancillary callback crashed (caused by: %s)"),
                   cause != NULL ? cause->message : _("no error was given"));
      goto out;
    }
  datagram = g_bytes_new (buffer, n);
  packet = parse ? udg_protocol_build_packet_from_datagram (endpoint->protocol, datagram, error)
                 : g_steal_pointer (&datagram);
out:
  leave (endpoint, &endpoint->recv_lock);
  return packet;
}

/**
 * udg_endpoint_recv_packet_with_ancillary:
 * @endpoint: a #UdgEndpoint
 * @func: (nullable) (scope call): receives the datagram's control data
 *   (and owns its descriptors) before the datagram is parsed; %NULL to
 *   receive none (the kernel then discards any descriptor sent)
 * @user_data: (closure func): data for @func
 * @bufsize: the control buffer's size; 0 for CMSG_SPACE(8192); meaningful
 *   only with @func
 * @timeout: seconds to wait for the receive lock and a datagram; 0 to take
 *   only what is there, %UDG_TIMEOUT_INFINITE to wait for ever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next datagram from the server and parses it.  Datagrams of
 * up to 64 KiB are received; a longer one is %UDG_ERROR_TRUNCATED.  A
 * malformed one is %UDG_ERROR_PARSE; the callback failing is
 * %UDG_ERROR_FAILED.  In those cases the datagram is consumed.  A negative
 * or NaN @timeout is %UDG_ERROR_INVALID_ARGUMENT.
 *
 * Returns: (transfer full) (nullable): the packet, to free with
 *   udg_endpoint_free_packet(), or %NULL with @error set
 *
 * Since: 0.1
 */
gpointer
udg_endpoint_recv_packet_with_ancillary (UdgEndpoint          *endpoint,
                                         UdgRecvAncillaryFunc  func,
                                         gpointer              user_data,
                                         gsize                 bufsize,
                                         gdouble               timeout,
                                         GCancellable         *cancellable,
                                         GError              **error)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return recv_datagram (endpoint, func, user_data, bufsize, timeout, cancellable, TRUE, error);
}

/**
 * udg_endpoint_recv_bytes:
 * @endpoint: a #UdgEndpoint
 * @timeout: as for udg_endpoint_recv_packet_with_ancillary()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next datagram from the server as it came, without the
 * endpoint's protocol: the call for bindings.  Errors are those of
 * udg_endpoint_recv_packet_with_ancillary(), but for the protocol's.
 *
 * Returns: (transfer full) (nullable): the datagram, or %NULL with @error
 *   set
 *
 * Since: 0.1
 */
GBytes *
udg_endpoint_recv_bytes (UdgEndpoint  *endpoint,
                         gdouble       timeout,
                         GCancellable *cancellable,
                         GError      **error)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return recv_datagram (endpoint, NULL, NULL, 0, timeout, cancellable, FALSE, error);
}

/**
 * udg_endpoint_recv_packet:
 * @endpoint: a #UdgEndpoint
 * @timeout: as for udg_endpoint_recv_packet_with_ancillary()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next packet from the server.
 *
 * Returns: (transfer full) (nullable): the packet, or %NULL with @error set
 *
 * Since: 0.1
 */
gpointer
udg_endpoint_recv_packet (UdgEndpoint  *endpoint,
                          gdouble       timeout,
                          GCancellable *cancellable,
                          GError      **error)
{
  g_return_val_if_fail (endpoint != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return recv_datagram (endpoint, NULL, NULL, 0, timeout, cancellable, TRUE, error);
}

/**
 * udg_endpoint_get_type:
 *
 * The #GType of #UdgEndpoint, a boxed type: bindings and #GValue copy it with
 * udg_endpoint_ref() and free it with udg_endpoint_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgEndpoint, udg_endpoint, udg_endpoint_ref, udg_endpoint_unref)
