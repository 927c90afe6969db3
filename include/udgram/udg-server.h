/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <gio/gio.h>
#include <udgram/udg-macros.h>
#include <udgram/udg-address.h>
#include <udgram/udg-client.h>
#include <udgram/udg-exit-stack.h>
#include <udgram/udg-protocol.h>

G_BEGIN_DECLS

/**
 * UdgUnnamedAddressesBehavior:
 * @UDG_UNNAMED_ADDRESSES_IGNORE: drop datagrams from unbound senders
 *   silently (counted in #UdgServerStats.unnamed)
 * @UDG_UNNAMED_ADDRESSES_WARN: drop them with one WARNING per datagram
 * @UDG_UNNAMED_ADDRESSES_HANDLE: give them to the handler through one client
 *   shared by every unbound sender; replies fail
 *
 * What the server does with datagrams from senders that have no address
 * (logger, systemd-notify, socat without bind=).
 */
typedef enum
{
  UDG_UNNAMED_ADDRESSES_IGNORE,
  UDG_UNNAMED_ADDRESSES_WARN,
  UDG_UNNAMED_ADDRESSES_HANDLE,
} UdgUnnamedAddressesBehavior;

/**
 * UdgFdStore:
 * @UDG_FD_STORE_AUTO: store the socket when the service manager says it
 *   keeps one (`$FDSTORE`, set by systemd 254 and later for a unit with
 *   `FileDescriptorStoreMax=`)
 * @UDG_FD_STORE_ALWAYS: store it whenever `$NOTIFY_SOCKET` is set (for
 *   service managers that do not set `$FDSTORE`)
 * @UDG_FD_STORE_NEVER: never store it
 *
 * Whether a server hands the socket it bound to the service manager's file
 * descriptor store (`FDSTORE=1`, see sd_notify(3)), so that the socket, and
 * the datagrams queued in it, outlive the process: a restart serves it
 * again.  See udg_server_options_set_fd_store().
 */
typedef enum
{
  UDG_FD_STORE_AUTO,
  UDG_FD_STORE_ALWAYS,
  UDG_FD_STORE_NEVER,
} UdgFdStore;

/**
 * UdgHandlerFuncs:
 * @service_init: (nullable): called once per udg_server_serve_forever() run
 *   in the serving thread, before any datagram is handled.  Callbacks pushed
 *   on @exit_stack run in reverse order at teardown.  Returning %FALSE aborts
 *   the run with that error, after unwinding what was pushed.
 * @handle: one invocation for one client, run on a pool thread; receives the
 *   client's datagrams with udg_client_recv().  Returning %FALSE with an error
 *   logs it; the server goes on serving.
 * @service_quit: (nullable): called at teardown, after the exit stack.
 *
 * The request handler: one for the whole service (EasyNetwork's
 * `AsyncDatagramRequestHandler`).
 */
typedef struct _UdgHandlerFuncs UdgHandlerFuncs;

struct _UdgHandlerFuncs
{
  gboolean (*service_init) (UdgExitStack  *exit_stack,
                            UdgServer     *server,
                            gpointer       user_data,
                            GError       **error);
  gboolean (*handle)       (UdgClient     *client,
                            gpointer       user_data,
                            GError       **error);
  void     (*service_quit) (UdgServer     *server,
                            gpointer       user_data);
  /*< private >*/
  gpointer padding[5];
};

/**
 * UdgServerStats:
 * @received: datagrams read from the socket
 * @handled: datagrams returned by udg_client_recv() as packets
 * @refused: datagrams discarded because the handler returned before reading
 *   them
 * @dropped_mailbox: datagrams dropped because the client's mailbox was full
 * @dropped_shutdown: datagrams still queued when the server stopped, past
 *   the drain bound (see udg_server_options_set_drain_timeout())
 * @truncated: datagrams longer than max_datagram_size, dropped unparsed
 * @unnamed: datagrams from unbound senders dropped by the unnamed policy
 * @denied: datagrams refused by the uid allow-list (see
 *   udg_server_options_set_allowed_uids())
 * @parse_errors: datagrams the protocol could not parse
 * @handler_errors: handler invocations that returned an error
 * @send_errors: replies that could not be sent
 * @ancillary_truncated: datagrams whose control data was cut (MSG_CTRUNC)
 * @not_reading: replies refused because their peer was found not reading
 *   its receive queue (also counted in @send_errors); see
 *   udg_client_send_packet()
 * @active_clients: clients with queued datagrams or a running invocation
 * @running_invocations: handler invocations running now
 * @blocked_in_recv: invocations waiting in udg_client_recv() now
 * @queued_datagrams: datagrams waiting in mailboxes now
 * @waits_ended: waits in udg_client_recv() the server ended under
 *   pressure (every pool thread held by a waiting invocation while clients
 *   with mail waited for one), which failed with %UDG_ERROR_TIMED_OUT; see
 *   udg_server_options_set_max_threads()
 *
 * Counters of a server, from udg_server_get_stats(): every datagram read is
 * handled, refused, or counted in one of the dropped counters.
 */
/**
 * UdgHandleFunc:
 * @client: the client whose datagram came
 * @user_data: the data given with the function
 * @error: return location for a #GError
 *
 * A request handler as one function, for udg_server_new_with_func(): what
 * #UdgHandlerFuncs.handle does.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
typedef gboolean (*UdgHandleFunc) (UdgClient *client,
                                   gpointer   user_data,
                                   GError   **error);

typedef struct _UdgServerStats UdgServerStats;

struct _UdgServerStats
{
  guint64 received;
  guint64 handled;
  guint64 refused;
  guint64 dropped_mailbox;
  guint64 dropped_shutdown;
  guint64 truncated;
  guint64 unnamed;
  guint64 denied;
  guint64 parse_errors;
  guint64 handler_errors;
  guint64 send_errors;
  guint64 ancillary_truncated;
  guint64 active_clients;
  guint64 running_invocations;
  guint64 blocked_in_recv;
  guint64 queued_datagrams;
  guint64 not_reading;
  guint64 waits_ended;
  /*< private >*/
  guint64 padding[5];
};

#define UDG_TYPE_SERVER_STATS (udg_server_stats_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_server_stats_get_type (void) G_GNUC_CONST;

typedef struct _UdgServerOptions UdgServerOptions;

#define UDG_TYPE_SERVER_OPTIONS (udg_server_options_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_server_options_get_type (void) G_GNUC_CONST;

UDG_AVAILABLE_IN_0_1
UdgServerOptions *udg_server_options_new                   (void);
UDG_AVAILABLE_IN_0_1
UdgServerOptions *udg_server_options_copy                  (const UdgServerOptions *options);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_free                  (UdgServerOptions *options);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_mode              (UdgServerOptions *options,
                                                            guint             mode);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_unnamed_addresses_behavior (UdgServerOptions *options,
                                                            UdgUnnamedAddressesBehavior behavior);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_receive_ancillary_data (UdgServerOptions *options,
                                                            gboolean          receive);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_ancillary_bufsize (UdgServerOptions *options,
                                                            gssize            bufsize);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_max_datagram_size (UdgServerOptions *options,
                                                            gsize             size);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_max_threads       (UdgServerOptions *options,
                                                            guint             max_threads);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_mailbox_limit     (UdgServerOptions *options,
                                                            guint             limit);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_notify            (UdgServerOptions *options,
                                                            gboolean          notify);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_handle_signals    (UdgServerOptions *options,
                                                            gboolean          handle);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_send_timeout      (UdgServerOptions *options,
                                                            gdouble           seconds);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_drain_timeout     (UdgServerOptions *options,
                                                            gdouble           seconds);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_pass_credentials  (UdgServerOptions *options,
                                                            gboolean          pass);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_reuse_stale       (UdgServerOptions *options,
                                                            gboolean          reuse);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_mailbox_bytes_limit (UdgServerOptions *options,
                                                            guint64           bytes);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_allowed_uids      (UdgServerOptions *options,
                                                            const uid_t      *uids,
                                                            guint             n_uids);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_inherit           (UdgServerOptions *options,
                                                            gboolean          inherit);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_fd_store          (UdgServerOptions *options,
                                                            UdgFdStore        mode);
UDG_AVAILABLE_IN_0_1
void              udg_server_options_set_fd_name           (UdgServerOptions *options,
                                                            const gchar      *name);

UDG_AVAILABLE_IN_0_1
UdgServer    *udg_server_new                  (const gchar            *path,
                                               UdgProtocol            *protocol,
                                               const UdgHandlerFuncs  *handler,
                                               gpointer                user_data,
                                               GDestroyNotify          destroy,
                                               const UdgServerOptions *options,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
UdgServer    *udg_server_new_for_address      (UdgAddress             *address,
                                               UdgProtocol            *protocol,
                                               const UdgHandlerFuncs  *handler,
                                               gpointer                user_data,
                                               GDestroyNotify          destroy,
                                               const UdgServerOptions *options,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
UdgServer    *udg_server_new_with_func        (const gchar            *path,
                                               UdgProtocol            *protocol,
                                               UdgHandleFunc           handle,
                                               gpointer                user_data,
                                               GDestroyNotify          destroy,
                                               const UdgServerOptions *options,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
UdgServer    *udg_server_new_from_fd          (gint                    fd,
                                               UdgProtocol            *protocol,
                                               const UdgHandlerFuncs  *handler,
                                               gpointer                user_data,
                                               GDestroyNotify          destroy,
                                               const UdgServerOptions *options,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
GArray       *udg_listen_fds                  (gboolean                unset_environment,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
UdgServer    *udg_server_ref                  (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
void          udg_server_unref                (UdgServer              *server);

UDG_AVAILABLE_IN_0_1
gboolean      udg_server_activate             (UdgServer              *server,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
gboolean      udg_server_serve_forever        (UdgServer              *server,
                                               GError                **error);
UDG_AVAILABLE_IN_0_1
gboolean      udg_server_wait_serving         (UdgServer              *server,
                                               gdouble                 timeout);
UDG_AVAILABLE_IN_0_1
void          udg_server_shutdown             (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
gboolean      udg_server_close                (UdgServer              *server,
                                               GError                **error);

UDG_AVAILABLE_IN_0_1
gboolean      udg_server_is_serving           (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
gboolean      udg_server_is_listening         (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
GPtrArray    *udg_server_get_addresses        (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
GArray       *udg_server_get_sockets          (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
GMainContext *udg_server_get_main_context     (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
UdgProtocol  *udg_server_get_protocol         (UdgServer              *server);
UDG_AVAILABLE_IN_0_1
void          udg_server_get_stats            (UdgServer              *server,
                                               UdgServerStats         *stats);
UDG_AVAILABLE_IN_0_1
guint         udg_server_add_timeout_seconds  (UdgServer              *server,
                                               guint                   interval,
                                               GSourceFunc             function,
                                               gpointer                data,
                                               GDestroyNotify          notify);
UDG_AVAILABLE_IN_0_1
guint         udg_server_add_timeout          (UdgServer              *server,
                                               gdouble                 seconds,
                                               GSourceFunc             function,
                                               gpointer                data,
                                               GDestroyNotify          notify);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgServer, udg_server_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgServerOptions, udg_server_options_free)

G_END_DECLS
