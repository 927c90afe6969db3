/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <math.h>
#include <gio/gio.h>
#include <udgram/udg-macros.h>
#include <udgram/udg-address.h>
#include <udgram/udg-ancillary.h>

G_BEGIN_DECLS

typedef struct _UdgClient UdgClient;
typedef struct _UdgServer UdgServer;

#define UDG_TYPE_CLIENT (udg_client_get_type ())
#define UDG_TYPE_SERVER (udg_server_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_server_get_type (void) G_GNUC_CONST;
UDG_AVAILABLE_IN_0_1
GType udg_client_get_type (void) G_GNUC_CONST;

/**
 * UdgRecvAncillaryFunc:
 * @control: (array length=control_len): the raw control data returned by
 *   recvmsg() with the datagram (possibly empty)
 * @control_len: its length in bytes
 * @msg_flags: the recvmsg() flags of the datagram (`MSG_CTRUNC` tells that
 *   the control data was cut)
 * @user_data: the data given in #UdgRecvParams
 * @error: return location for an error
 *
 * Receives the control messages of a datagram before it is parsed:
 * EasyNetwork's `RecvAncillaryDataParams(data_received)`.  The file
 * descriptors in @control become the function's: it must keep or close
 * them, even when it fails.  udg_ancillary_receive_func() is such a
 * function, storing everything in a #UdgAncillary.
 *
 * Returns: %FALSE with @error set on failure
 */
typedef gboolean (*UdgRecvAncillaryFunc) (gconstpointer   control,
                                          gsize           control_len,
                                          gint            msg_flags,
                                          gpointer        user_data,
                                          GError        **error);

/**
 * UDG_TIMEOUT_INFINITE:
 *
 * A timeout that never expires.
 *
 * Every timeout and interval of udgram follows one convention: a #gdouble
 * number of seconds (fractions allowed); 0 means "do not wait" (take what
 * is there, try once); %UDG_TIMEOUT_INFINITE waits for ever; a negative or
 * NaN value is refused (%UDG_ERROR_INVALID_ARGUMENT where the call has a
 * #GError, a critical warning otherwise).  So: #UdgRecvParams.timeout,
 * udg_endpoint_send_packet(), udg_endpoint_recv_packet(),
 * udg_server_wait_serving(), udg_server_options_set_send_timeout(),
 * udg_server_add_timeout(), and `udgram send --timeout` (where `inf` waits
 * for ever and `nan` or a negative value is a usage error).  A timeout that
 * expires is %UDG_ERROR_TIMED_OUT: "No datagram arrived before the timeout"
 * for receives.
 */
#define UDG_TIMEOUT_INFINITE ((gdouble) INFINITY)

/**
 * UdgRecvParams:
 * @timeout: seconds to wait for the next datagram: %UDG_TIMEOUT_INFINITE
 *   (the default), a positive number, or 0 to take only what is already
 *   queued.  Negative and NaN values are %UDG_ERROR_INVALID_ARGUMENT.
 *   Ignored (but validated) on the first udg_client_recv() of an invocation.
 * @recv_with_ancillary: (nullable): receives the datagram's control
 *   messages; needs a server built with receive_ancillary_data
 * @ancillary_user_data: data for @recv_with_ancillary
 *
 * What udg_client_recv() waits for: EasyNetwork's `RecvParams`.  Initialise
 * it with %UDG_RECV_PARAMS_INIT.
 */
typedef struct _UdgRecvParams UdgRecvParams;

struct _UdgRecvParams
{
  gdouble timeout;
  UdgRecvAncillaryFunc recv_with_ancillary;
  gpointer ancillary_user_data;
  /*< private >*/
  gpointer padding[4];
};

/**
 * UDG_RECV_PARAMS_INIT:
 *
 * Initialiser of a #UdgRecvParams with the defaults: wait forever, no
 * ancillary data.
 */
#define UDG_RECV_PARAMS_INIT { UDG_TIMEOUT_INFINITE, NULL, NULL, { NULL, } }

UDG_AVAILABLE_IN_0_1
UdgClient    *udg_client_ref                        (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
void          udg_client_unref                      (UdgClient           *client);

UDG_AVAILABLE_IN_0_1
gpointer      udg_client_recv                       (UdgClient           *client,
                                                     const UdgRecvParams *params,
                                                     GError             **error);
UDG_AVAILABLE_IN_0_1
gboolean      udg_client_send_packet                (UdgClient           *client,
                                                     gconstpointer        packet,
                                                     GError             **error);
UDG_AVAILABLE_IN_0_1
gboolean      udg_client_send_packet_with_ancillary (UdgClient           *client,
                                                     gconstpointer        packet,
                                                     UdgAncillary        *ancillary,
                                                     GError             **error);
UDG_AVAILABLE_IN_0_1
GBytes       *udg_client_recv_bytes                 (UdgClient           *client,
                                                     gdouble              timeout,
                                                     GError             **error);
UDG_AVAILABLE_IN_0_1
gboolean      udg_client_send_bytes                 (UdgClient           *client,
                                                     GBytes              *datagram,
                                                     GError             **error);
UDG_AVAILABLE_IN_0_1
void          udg_client_free_packet                (UdgClient           *client,
                                                     gpointer             packet);

UDG_AVAILABLE_IN_0_1
UdgAddress   *udg_client_get_peer_name              (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
UdgAddress   *udg_client_get_local_name             (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
UdgServer    *udg_client_get_server                 (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
gboolean      udg_client_is_closing                 (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
GCancellable *udg_client_get_cancellable            (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
GBytes       *udg_client_get_datagram               (UdgClient           *client);
UDG_AVAILABLE_IN_0_1
gboolean      udg_client_get_credentials            (UdgClient           *client,
                                                     UdgCredentials      *credentials);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgClient, udg_client_unref)

G_END_DECLS
