/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <udgram/udg-macros.h>

G_BEGIN_DECLS

/**
 * UdgSerializerFuncs:
 * @serialize: turns a packet (never %NULL) into the bytes of one datagram;
 *   returns %NULL and sets the error on failure
 * @deserialize: turns the bytes of one datagram into a new packet (never
 *   %NULL on success); on malformed input returns %NULL with a
 *   %UDG_ERROR_PARSE error whose message says what is wrong.  It must accept
 *   any bytes, including an empty datagram, without crashing.
 * @free_packet: frees a packet returned by @deserialize
 *
 * The virtual table of a #UdgSerializer, in the manner of #GSourceFuncs.  The
 * functions may be called from several threads at once.
 */
typedef struct _UdgSerializerFuncs UdgSerializerFuncs;

struct _UdgSerializerFuncs
{
  GBytes  *(*serialize)   (gconstpointer  packet,
                           gpointer       user_data,
                           GError       **error);
  gpointer (*deserialize) (GBytes        *datagram,
                           gpointer       user_data,
                           GError       **error);
  void     (*free_packet) (gpointer       packet,
                           gpointer       user_data);
  /*< private >*/
  gpointer padding[5];
};

typedef struct _UdgSerializer UdgSerializer;

#define UDG_TYPE_SERIALIZER (udg_serializer_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_serializer_get_type (void) G_GNUC_CONST;

UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_serializer_new         (const UdgSerializerFuncs *funcs,
                                           gpointer                  user_data,
                                           GDestroyNotify            destroy);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_serializer_ref         (UdgSerializer            *serializer);
UDG_AVAILABLE_IN_0_1
void           udg_serializer_unref       (UdgSerializer            *serializer);
UDG_AVAILABLE_IN_0_1
GBytes        *udg_serializer_serialize   (UdgSerializer            *serializer,
                                           gconstpointer             packet,
                                           GError                  **error);
UDG_AVAILABLE_IN_0_1
gpointer       udg_serializer_deserialize (UdgSerializer            *serializer,
                                           GBytes                   *datagram,
                                           GError                  **error);
UDG_AVAILABLE_IN_0_1
void           udg_serializer_free_packet (UdgSerializer            *serializer,
                                           gpointer                  packet);

UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_bytes_serializer_new   (void);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_ascii_serializer_new   (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgSerializer, udg_serializer_unref)

G_END_DECLS
