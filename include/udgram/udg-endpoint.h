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
#include <udgram/udg-ancillary.h>
#include <udgram/udg-client.h>
#include <udgram/udg-protocol.h>

G_BEGIN_DECLS

typedef struct _UdgEndpoint UdgEndpoint;

#define UDG_TYPE_ENDPOINT (udg_endpoint_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_endpoint_get_type (void) G_GNUC_CONST;

UDG_AVAILABLE_IN_0_1
UdgEndpoint *udg_endpoint_new                (const gchar          *server_path,
                                              const gchar          *local_path,
                                              UdgProtocol          *protocol,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
UdgEndpoint *udg_endpoint_new_for_address    (UdgAddress           *server,
                                              UdgAddress           *local,
                                              UdgProtocol          *protocol,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
UdgEndpoint *udg_endpoint_new_from_fd        (gint                  fd,
                                              UdgProtocol          *protocol,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
UdgEndpoint *udg_endpoint_ref                (UdgEndpoint          *endpoint);
UDG_AVAILABLE_IN_0_1
void         udg_endpoint_unref              (UdgEndpoint          *endpoint);

UDG_AVAILABLE_IN_0_1
gboolean     udg_endpoint_send_packet        (UdgEndpoint          *endpoint,
                                              gconstpointer         packet,
                                              gdouble               timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
gboolean     udg_endpoint_send_packet_with_ancillary (UdgEndpoint  *endpoint,
                                              gconstpointer         packet,
                                              UdgAncillary         *ancillary,
                                              gdouble               timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
gpointer     udg_endpoint_recv_packet        (UdgEndpoint          *endpoint,
                                              gdouble               timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
gpointer     udg_endpoint_recv_packet_with_ancillary (UdgEndpoint  *endpoint,
                                              UdgRecvAncillaryFunc  func,
                                              gpointer              user_data,
                                              gsize                 bufsize,
                                              gdouble               timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
gboolean     udg_endpoint_send_bytes         (UdgEndpoint          *endpoint,
                                              GBytes               *datagram,
                                              gdouble               timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
GBytes      *udg_endpoint_recv_bytes         (UdgEndpoint          *endpoint,
                                              gdouble               timeout,
                                              GCancellable         *cancellable,
                                              GError              **error);
UDG_AVAILABLE_IN_0_1
void         udg_endpoint_free_packet        (UdgEndpoint          *endpoint,
                                              gpointer              packet);
UDG_AVAILABLE_IN_0_1
void         udg_endpoint_close              (UdgEndpoint          *endpoint);
UDG_AVAILABLE_IN_0_1
gboolean     udg_endpoint_is_closed          (UdgEndpoint          *endpoint);
UDG_AVAILABLE_IN_0_1
gint         udg_endpoint_get_fd             (UdgEndpoint          *endpoint);
UDG_AVAILABLE_IN_0_1
UdgAddress  *udg_endpoint_get_local_name     (UdgEndpoint          *endpoint);
UDG_AVAILABLE_IN_0_1
UdgAddress  *udg_endpoint_get_peer_name      (UdgEndpoint          *endpoint);
UDG_AVAILABLE_IN_0_1
UdgProtocol *udg_endpoint_get_protocol       (UdgEndpoint          *endpoint);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgEndpoint, udg_endpoint_unref)

G_END_DECLS
