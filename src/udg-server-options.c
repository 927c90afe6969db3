/* udgram - server options
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <math.h>
#include <string.h>
#include <sys/socket.h>

/**
 * SECTION:udg-server-options
 * @title: UdgServerOptions
 * @short_description: how a server is built
 *
 * The keyword arguments of EasyNetwork's `AsyncUnixDatagramServer`, plus
 * the limits a C daemon needs.  Create with udg_server_options_new(), set
 * what differs from the defaults, pass to udg_server_new() (which copies
 * it and validates it), free.
 */

/**
 * UdgServerOptions:
 *
 * How a server is built; copied by udg_server_new().
 */

/**
 * udg_server_options_new:
 *
 * Creates options with the defaults: socket file mode left as bind()
 * creates it, unnamed senders ignored, no ancillary data, datagrams up to
 * 64 KiB, at most 4096 handler threads, 1024 datagrams per mailbox, SIGINT
 * and SIGTERM handled when serving in the main thread, 1 second of waiting
 * for a peer whose queue is full, 5 seconds to handle what was read when
 * the server stops, a socket the service manager passed for the server's
 * address served rather than a new one bound, and the socket stored in the
 * service manager's fd store when it keeps one.
 *
 * Returns: (transfer full): new options
 *
 * Since: 0.1
 */
UdgServerOptions *
udg_server_options_new (void)
{
  UdgServerOptions *options = g_new0 (UdgServerOptions, 1);

  options->unnamed = UDG_UNNAMED_ADDRESSES_IGNORE;
  options->max_datagram_size = 64 * 1024;
  options->max_threads = 4096;
  options->mailbox_limit = 1024;
  options->handle_signals = TRUE;
  options->send_timeout = 1.0;
  options->drain_timeout = 5.0;
  options->inherit = TRUE;
  options->fd_store = UDG_FD_STORE_AUTO;
  options->mailbox_bytes_limit = 1024 * 1024;
  return options;
}

/**
 * udg_server_options_copy:
 * @options: options
 *
 * Copies @options, to keep them or change a copy.
 *
 * Returns: (transfer full): a copy of @options
 *
 * Since: 0.1
 */
UdgServerOptions *
udg_server_options_copy (const UdgServerOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return g_memdup2 (options, sizeof *options);
}

/**
 * udg_server_options_free:
 * @options: (transfer full): options
 *
 * Frees @options.
 *
 * Since: 0.1
 */
void
udg_server_options_free (UdgServerOptions *options)
{
  g_free (options);
}

/**
 * udg_server_options_set_mode:
 * @options: options
 * @mode: permission bits for the socket file, such as 0660
 *
 * The socket file is created with @mode (less the process umask: the mode
 * is set on the socket before bind(), so the file never exists more open
 * than asked), then chmod()ed to exactly @mode.  Who may send is decided by
 * this mode and by the directory's: keep the socket in a directory only the
 * intended senders can enter.
 *
 * Since: 0.1
 */
void
udg_server_options_set_mode (UdgServerOptions *options,
                             guint             mode)
{
  g_return_if_fail (options != NULL);
  options->mode = mode;
  options->mode_set = TRUE;
}

/**
 * udg_server_options_set_unnamed_addresses_behavior:
 * @options: options
 * @behavior: what to do with datagrams from unbound senders
 *
 * Sets what the server does with datagrams from unnamed senders, which it
 * cannot answer; the default is %UDG_UNNAMED_ADDRESSES_IGNORE.
 *
 * Since: 0.1
 */
void
udg_server_options_set_unnamed_addresses_behavior (UdgServerOptions           *options,
                                                   UdgUnnamedAddressesBehavior behavior)
{
  g_return_if_fail (options != NULL);
  options->unnamed = behavior;
}

/**
 * udg_server_options_set_receive_ancillary_data:
 * @options: options
 * @receive: whether to receive control messages with recvmsg()
 *
 * Without it, descriptors sent to the server are discarded by the kernel
 * and #UdgRecvParams.recv_with_ancillary is refused.
 *
 * Since: 0.1
 */
void
udg_server_options_set_receive_ancillary_data (UdgServerOptions *options,
                                               gboolean          receive)
{
  g_return_if_fail (options != NULL);
  options->receive_ancillary_data = receive;
}

/**
 * udg_server_options_set_ancillary_bufsize:
 * @options: options
 * @bufsize: bytes of control data per datagram; CMSG_SPACE(8192) by default
 *
 * Only meaningful with receive_ancillary_data: udg_server_new() refuses it
 * otherwise, and refuses a value that is not strictly positive.  Control
 * data beyond it is cut by the kernel (MSG_CTRUNC): see
 * udg_ancillary_is_truncated().
 *
 * Since: 0.1
 */
void
udg_server_options_set_ancillary_bufsize (UdgServerOptions *options,
                                          gssize            bufsize)
{
  g_return_if_fail (options != NULL);
  options->ancillary_bufsize = bufsize;
  options->ancillary_bufsize_set = TRUE;
}

/**
 * udg_server_options_set_max_datagram_size:
 * @options: options
 * @size: the largest datagram accepted, in bytes (64 KiB by default)
 *
 * A longer datagram is never parsed: it is dropped and counted in
 * #UdgServerStats.truncated, with a DEBUG log record.
 *
 * Since: 0.1
 */
void
udg_server_options_set_max_datagram_size (UdgServerOptions *options,
                                          gsize             size)
{
  g_return_if_fail (options != NULL);
  options->max_datagram_size = size;
}

/**
 * udg_server_options_set_max_threads:
 * @options: options
 * @max_threads: the most pool threads (4096 by default)
 *
 * The pool keeps as many runnable threads as there are cores, plus one for
 * each invocation waiting in udg_client_recv() (or for a slow peer), up to
 * @max_threads.  A waiting invocation costs its thread's stack, about
 * 12 KiB of memory once touched (4096 waiting sessions: some 48 MiB), and a
 * thread to wake for each datagram.
 *
 * When every thread is taken by invocations waiting in udg_client_recv()
 * and a client with mail has none, the server ends the wait of the
 * invocation that has waited longest among those of the uid that holds the
 * most (its udg_client_recv() fails with %UDG_ERROR_TIMED_OUT, as if its
 * timeout had passed), counted in #UdgServerStats.waits_ended, with one
 * WARNING naming that uid at most every 10 seconds; and the clients of uids
 * that hold less than their share of the waits are served first.  No local
 * peer can take the service down by waiting: a new client is answered in
 * about a millisecond beside 5000 sessions of one user waiting for ever.
 *
 * Size it to the number of sessions that must be able to wait at once for
 * their next datagram without being cut short: a service whose handlers
 * answer one request and return needs few (the cores are enough); one that
 * keeps long-lived sessions needs one per session, and its memory.  Under a
 * flood of waiting sessions, a smaller value also keeps the machine's
 * threads few (measured on 2 cores: a client of another user answered in
 * 18 ms with 64, in 320 ms with 4096, while 5000 sessions of one user kept
 * asking).
 *
 * Since: 0.1
 */
void
udg_server_options_set_max_threads (UdgServerOptions *options,
                                    guint             max_threads)
{
  g_return_if_fail (options != NULL);
  options->max_threads = max_threads;
}

/**
 * udg_server_options_set_mailbox_limit:
 * @options: options
 * @limit: the most datagrams queued for one client (1024 by default)
 *
 * Beyond it the dispatcher drops the client's datagrams and counts them in
 * #UdgServerStats.dropped_mailbox: a flooding client cannot take the
 * server's memory.
 *
 * Since: 0.1
 */
void
udg_server_options_set_mailbox_limit (UdgServerOptions *options,
                                      guint             limit)
{
  g_return_if_fail (options != NULL);
  options->mailbox_limit = limit;
}

/**
 * udg_server_options_set_handle_signals:
 * @options: options
 * @handle: whether udg_server_serve_forever(), when called in the main
 *   thread, turns SIGINT and SIGTERM into a graceful shutdown (default on)
 *
 * Sets whether the server stops gracefully on SIGINT and SIGTERM.
 *
 * Since: 0.1
 */
void
udg_server_options_set_handle_signals (UdgServerOptions *options,
                                       gboolean          handle)
{
  g_return_if_fail (options != NULL);
  options->handle_signals = handle;
}

/**
 * udg_server_options_set_notify:
 * @options: options
 * @notify: whether udg_server_serve_forever() tells the service manager
 *   (systemd) the server's state when `$NOTIFY_SOCKET` is set (default off;
 *   on in `udgram serve`)
 *
 * With it on and `$NOTIFY_SOCKET` naming an AF_UNIX socket, a run sends
 * `READY=1` (with `STATUS=` and `MAINPID=`) once it serves: after the
 * socket exists and SIGINT/SIGTERM handling is in place, so a unit of
 * `Type=notify` can rely on both.  Then `STATUS=` with the statistics
 * every 5 seconds, `WATCHDOG=1` at half of `$WATCHDOG_USEC` from the main
 * loop when the service manager asks for a watchdog (`WatchdogSec=`), and
 * `STOPPING=1` when the run begins to stop.  No libsystemd is needed.
 *
 * Since: 0.1
 */
void
udg_server_options_set_notify (UdgServerOptions *options,
                               gboolean          notify)
{
  g_return_if_fail (options != NULL);
  options->notify = notify;
}

/**
 * udg_server_options_set_pass_credentials:
 * @options: options
 * @pass: whether to set `SO_PASSCRED` on the socket before it is bound
 *
 * With it, every datagram carries its sender's kernel-verified pid, uid
 * and gid: udg_client_get_credentials() reads them, and so does a
 * #UdgRecvAncillaryFunc (as SCM_CREDENTIALS).  Setting `SO_PASSCRED` here
 * rather than in `service_init` means no datagram arrives without them.
 *
 * Since: 0.1
 */
void
udg_server_options_set_pass_credentials (UdgServerOptions *options,
                                         gboolean          pass)
{
  g_return_if_fail (options != NULL);
  options->pass_credentials = pass;
}

/**
 * udg_server_options_set_mailbox_bytes_limit:
 * @options: options
 * @bytes: the most bytes of datagrams waiting in one client's mailbox
 *   (1 MiB by default)
 *
 * Beyond it the dispatcher drops that client's new datagrams and counts
 * them in #UdgServerStats.dropped_mailbox.  With mailbox_limit it bounds
 * what one sender that outpaces its handler makes the server hold, without
 * touching the other clients (a server-wide budget would let one sender
 * starve the others).
 *
 * Since: 0.1
 */
void
udg_server_options_set_mailbox_bytes_limit (UdgServerOptions *options,
                                            guint64           bytes)
{
  g_return_if_fail (options != NULL);
  options->mailbox_bytes_limit = bytes;
}

/**
 * udg_server_options_set_reuse_stale:
 * @options: options
 * @reuse: whether to replace a stale socket file at the path
 *
 * By default a file at the socket path makes binding fail with
 * %UDG_ERROR_ADDRESS_IN_USE.  With this option, a socket file nobody listens
 * on any more (a previous run that did not clean up: connecting to it is
 * refused) is removed and the path bound again.  A live server's socket is
 * never taken, and a file that is not a socket is never removed.  Two
 * servers starting at once are kept apart by an flock() on PATH.lock.
 *
 * Since: 0.1
 */
void
udg_server_options_set_reuse_stale (UdgServerOptions *options,
                                    gboolean          reuse)
{
  g_return_if_fail (options != NULL);
  options->reuse_stale = reuse;
}

/**
 * udg_server_options_set_allowed_uids:
 * @options: options
 * @uids: (array length=n_uids) (nullable): the user ids allowed to send
 * @n_uids: how many (at most 32); 0 allows everyone
 *
 * Refuses datagrams from any other user, checked by the dispatcher on the
 * kernel-supplied credentials before any handler runs: a refused datagram
 * is dropped (its descriptors closed) and counted in #UdgServerStats.denied.
 * It turns on udg_server_options_set_pass_credentials().  Abstract sockets
 * have no file permissions: this is their access control.
 *
 * Since: 0.1
 */
void
udg_server_options_set_allowed_uids (UdgServerOptions *options,
                                     const uid_t      *uids,
                                     guint             n_uids)
{
  g_return_if_fail (options != NULL);
  g_return_if_fail (uids != NULL || n_uids == 0);
  g_return_if_fail (n_uids <= G_N_ELEMENTS (options->allowed_uids));
  memcpy (options->allowed_uids, uids, n_uids * sizeof (uid_t));
  options->n_allowed_uids = n_uids;
  if (n_uids > 0)
    options->pass_credentials = TRUE;
}

/**
 * udg_server_options_set_send_timeout:
 * @options: options
 * @seconds: how long a reply waits for room in a peer's full queue (1 s by
 *   default) before failing with %UDG_ERROR_WOULD_BLOCK; 0 fails at once
 *
 * The kernel does the waiting (the socket's SO_SNDTIMEO), woken when the
 * peer reads.  At most a quarter of max_threads (at least one, at most 16)
 * wait so at once; a reply that finds them all taken fails at once.  A
 * reply to a peer found not reading its replies at all never waits.
 *
 * Since: 0.1
 */
void
udg_server_options_set_send_timeout (UdgServerOptions *options,
                                     gdouble           seconds)
{
  g_return_if_fail (options != NULL);
  options->send_timeout = seconds;
}

/**
 * udg_server_options_set_drain_timeout:
 * @options: options
 * @seconds: how long a stop may take to handle what was already read (5 s
 *   by default); 0 drops it at once, %UDG_TIMEOUT_INFINITE waits until it
 *   is all handled
 *
 * A stop (udg_server_shutdown(), SIGTERM, a restart by the service
 * manager) is a drain: the server stops reading (what is still in the
 * socket's queue stays there, for the next process to serve when the socket
 * outlives this one), the invocations go on until their clients' mailboxes
 * are empty, and an invocation waiting in udg_client_recv() on an empty
 * mailbox fails at once with %UDG_ERROR_CLOSED.  When all have returned, or
 * when @seconds have passed, udg_client_get_cancellable() is cancelled and
 * what is still queued is dropped, counted in
 * #UdgServerStats.dropped_shutdown.  A handler that neither returns nor
 * waits in udg_client_recv() holds the stop until then.  A negative or NaN
 * value is refused by udg_server_new().
 *
 * Since: 0.1
 */
void
udg_server_options_set_drain_timeout (UdgServerOptions *options,
                                      gdouble           seconds)
{
  g_return_if_fail (options != NULL);
  options->drain_timeout = seconds;
}

/**
 * udg_server_options_set_inherit:
 * @options: options
 * @inherit: whether to serve a socket the service manager passed (on by
 *   default)
 *
 * With it, udg_server_activate() first looks among the sockets the service
 * manager passed to this process (`LISTEN_FDS`, see udg_listen_fds()) for
 * one named as udg_server_options_set_fd_name() says, or else bound to the
 * server's address, and serves it instead of binding a new one: the socket
 * of a `.socket` unit, or the one a previous run stored in the fd store
 * (udg_server_options_set_fd_store()).  Such a socket is the service
 * manager's: its mode is left as it is and its file is never removed.  The
 * environment is read, not changed.
 *
 * Since: 0.1
 */
void
udg_server_options_set_inherit (UdgServerOptions *options,
                                gboolean          inherit)
{
  g_return_if_fail (options != NULL);
  options->inherit = inherit;
}

/**
 * udg_server_options_set_fd_store:
 * @options: options
 * @mode: whether the server stores its socket in the service manager's
 *   file descriptor store; %UDG_FD_STORE_AUTO by default
 *
 * A daemon is restarted on every upgrade.  Without a `.socket` unit, its
 * socket dies with the old process, and with it the datagrams queued there.
 * With the fd store, the server hands the socket it bound to the service
 * manager once it serves (`FDSTORE=1` and `FDNAME=` over `$NOTIFY_SOCKET`,
 * the descriptor passed with SCM_RIGHTS, before `READY=1`); the manager
 * passes it back to the next process in `LISTEN_FDS` and
 * `LISTEN_FDNAMES`, which serves it (udg_server_options_set_inherit()), and
 * what was queued in it is served then.  A stored socket's file is not
 * removed when the server closes.  A later fresh start (the manager
 * dropped the store when the unit stopped for good) finds that file with
 * nobody behind it and binds the path again, as
 * udg_server_options_set_reuse_stale() does; a socket that someone still
 * holds is never taken over.  With systemd, a unit asks for it with
 * `FileDescriptorStoreMax=1` (and `NotifyAccess=main`, the default for
 * `Type=notify`).  Sockets the server did not bind itself (a `.socket`
 * unit's, udg_server_new_from_fd()) are not stored: their owner keeps them.
 *
 * Since: 0.1
 */
void
udg_server_options_set_fd_store (UdgServerOptions *options,
                                 UdgFdStore        mode)
{
  g_return_if_fail (options != NULL);
  options->fd_store = mode;
}

/**
 * udg_server_options_set_fd_name:
 * @options: options
 * @name: the socket's name for the service manager: 1 to 255 printable
 *   ASCII characters, no colon
 *
 * The name the socket is stored under in the fd store (`FDNAME=`; "udgram"
 * by default), and the name of an inherited socket to serve before one
 * bound to the server's address (`LISTEN_FDNAMES`, which also carries a
 * `.socket` unit's `FileDescriptorName=`).  udg_server_new() refuses an
 * invalid name.
 *
 * Since: 0.1
 */
void
udg_server_options_set_fd_name (UdgServerOptions *options,
                                const gchar      *name)
{
  g_return_if_fail (options != NULL);
  g_return_if_fail (name != NULL);
  g_strlcpy (options->fd_name, name, sizeof options->fd_name);
  /* Too long to keep whole: refused by udg_server_new(). */
  options->fd_name_set = strlen (name) < sizeof options->fd_name ? 1 : 2;
}

/* The options' values: what udg_server_new() refuses with
 * UDG_ERROR_INVALID_ARGUMENT. */
gboolean
udg_server_options_validate (const UdgServerOptions *o, GError **error)
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
 * udg_server_options_get_type:
 *
 * The #GType of #UdgServerOptions, a boxed type: bindings and #GValue copy it with
 * udg_server_options_copy() and free it with udg_server_options_free().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgServerOptions, udg_server_options, udg_server_options_copy, udg_server_options_free)
