/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <udgram/udg-macros.h>
#include <udgram/udg-serializer.h>

G_BEGIN_DECLS

/**
 * UdgConverterFuncs:
 * @to_dto: turns an application packet into a new wire packet that the
 *   serializer takes; %NULL with an error on failure
 * @from_dto: turns a wire packet the serializer gave (transfer none) into a
 *   new application packet; on failure %NULL with an error (a
 *   %UDG_ERROR_PARSE error is a parse error for the receiver)
 * @free_packet: frees an application packet returned by @from_dto
 *
 * A converter between the serializer's packets ("data transfer objects") and
 * the application's own types: EasyNetwork's `AbstractPacketConverter`.
 */
typedef struct _UdgConverterFuncs UdgConverterFuncs;

struct _UdgConverterFuncs
{
  gpointer (*to_dto)      (gconstpointer  packet,
                           gpointer       user_data,
                           GError       **error);
  gpointer (*from_dto)    (gconstpointer  dto,
                           gpointer       user_data,
                           GError       **error);
  void     (*free_packet) (gpointer       packet,
                           gpointer       user_data);
  /*< private >*/
  gpointer padding[5];
};

typedef struct _UdgProtocol UdgProtocol;

#define UDG_TYPE_PROTOCOL (udg_protocol_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_protocol_get_type (void) G_GNUC_CONST;

UDG_AVAILABLE_IN_0_1
UdgProtocol *udg_protocol_new                        (UdgSerializer           *serializer);
UDG_AVAILABLE_IN_0_1
UdgProtocol *udg_protocol_new_with_converter         (UdgSerializer           *serializer,
                                                      const UdgConverterFuncs *converter,
                                                      gpointer                 user_data,
                                                      GDestroyNotify           destroy);
UDG_AVAILABLE_IN_0_1
UdgProtocol *udg_protocol_ref                        (UdgProtocol             *protocol);
UDG_AVAILABLE_IN_0_1
void         udg_protocol_unref                      (UdgProtocol             *protocol);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_protocol_get_serializer           (UdgProtocol             *protocol);
UDG_AVAILABLE_IN_0_1
GBytes      *udg_protocol_make_datagram              (UdgProtocol             *protocol,
                                                      gconstpointer            packet,
                                                      GError                 **error);
UDG_AVAILABLE_IN_0_1
gpointer     udg_protocol_build_packet_from_datagram (UdgProtocol             *protocol,
                                                      GBytes                  *datagram,
                                                      GError                 **error);
UDG_AVAILABLE_IN_0_1
void         udg_protocol_free_packet                (UdgProtocol             *protocol,
                                                      gpointer                 packet);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgProtocol, udg_protocol_unref)

G_END_DECLS
