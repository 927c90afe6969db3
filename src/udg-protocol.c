/* udgram - protocols: a serializer and an optional converter
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

/**
 * SECTION:udg-protocol
 * @title: UdgProtocol
 * @short_description: what a server or endpoint speaks
 *
 * A #UdgProtocol (EasyNetwork's `DatagramProtocol`) is a #UdgSerializer and,
 * optionally, a converter between the serializer's packets and the
 * application's types.  Failures are reported as EasyNetwork reports them:
 * a parse error of the serializer or the converter is %UDG_ERROR_PARSE
 * ("Error while parsing data: …"); any other failure while building a packet
 * or a datagram is %UDG_ERROR_FAILED ("… crashed").
 */

/**
 * UdgProtocol:
 *
 * A serializer and an optional converter; reference-counted.
 */

struct _UdgProtocol
{
  gatomicrefcount ref_count;
  UdgSerializer *serializer;
  gboolean has_converter;
  UdgConverterFuncs converter;
  gpointer user_data;
  GDestroyNotify destroy;
};

/**
 * udg_protocol_new:
 * @serializer: the serializer; a reference is taken
 *
 * Makes a protocol whose packets are the serializer's own packets
 * (EasyNetwork's DatagramProtocol without a converter).
 *
 * Returns: (transfer full): a new #UdgProtocol
 *
 * Since: 0.1
 */
UdgProtocol *
udg_protocol_new (UdgSerializer *serializer)
{
  UdgProtocol *protocol;

  g_return_val_if_fail (serializer != NULL, NULL);
  protocol = g_new0 (UdgProtocol, 1);
  g_atomic_ref_count_init (&protocol->ref_count);
  protocol->serializer = udg_serializer_ref (serializer);
  return protocol;
}

/**
 * udg_protocol_new_with_converter:
 * @serializer: the serializer; a reference is taken
 * @converter: the converter functions, all required; copied
 * @user_data: (closure): data for them
 * @destroy: (nullable): frees @user_data with the protocol
 *
 * Makes a protocol that converts between the serializer's packets and the
 * application's own: a received packet goes through @converter's decode
 * function, a sent one through its encode function first (EasyNetwork's
 * DatagramProtocol with a converter).
 *
 * Returns: (transfer full): a new #UdgProtocol whose packets are the
 *   converter's application packets
 *
 * Since: 0.1
 */
UdgProtocol *
udg_protocol_new_with_converter (UdgSerializer           *serializer,
                                 const UdgConverterFuncs *converter,
                                 gpointer                 user_data,
                                 GDestroyNotify           destroy)
{
  UdgProtocol *protocol;

  g_return_val_if_fail (converter != NULL, NULL);
  g_return_val_if_fail (converter->to_dto != NULL && converter->from_dto != NULL &&
                        converter->free_packet != NULL, NULL);
  protocol = udg_protocol_new (serializer);
  protocol->has_converter = TRUE;
  protocol->converter = *converter;
  protocol->user_data = user_data;
  protocol->destroy = destroy;
  return protocol;
}

/**
 * udg_protocol_ref:
 * @protocol: a #UdgProtocol
 *
 * Takes a reference on @protocol.
 *
 * Returns: (transfer full): @protocol
 *
 * Since: 0.1
 */
UdgProtocol *
udg_protocol_ref (UdgProtocol *protocol)
{
  g_return_val_if_fail (protocol != NULL, NULL);
  g_atomic_ref_count_inc (&protocol->ref_count);
  return protocol;
}

/**
 * udg_protocol_unref:
 * @protocol: (transfer full): a #UdgProtocol
 *
 * Drops a reference.
 *
 * Since: 0.1
 */
void
udg_protocol_unref (UdgProtocol *protocol)
{
  g_return_if_fail (protocol != NULL);
  if (!g_atomic_ref_count_dec (&protocol->ref_count))
    return;
  if (protocol->destroy != NULL)
    protocol->destroy (protocol->user_data);
  udg_serializer_unref (protocol->serializer);
  g_free (protocol);
}

/**
 * udg_protocol_get_serializer:
 * @protocol: a #UdgProtocol
 *
 * Gets the serializer @protocol was made with.
 *
 * Returns: (transfer none): the serializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_protocol_get_serializer (UdgProtocol *protocol)
{
  g_return_val_if_fail (protocol != NULL, NULL);
  return protocol->serializer;
}

static void
set_crashed (GError **error, const gchar *what, GError *cause)
{
  g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED,
               _("%s crashed (caused by: %s)"), what,
               cause != NULL ? cause->message : _("no error was given"));
}

/**
 * udg_protocol_make_datagram:
 * @protocol: a #UdgProtocol
 * @packet: the packet to send
 * @error: return location for a #GError
 *
 * Converts (if there is a converter) and serializes @packet.
 *
 * Returns: (transfer full) (nullable): the datagram, or %NULL with
 *   %UDG_ERROR_FAILED "protocol.make_datagram() crashed (caused by: …)"
 *
 * Since: 0.1
 */
GBytes *
udg_protocol_make_datagram (UdgProtocol  *protocol,
                            gconstpointer packet,
                            GError      **error)
{
  g_autoptr(GError) cause = NULL;
  gpointer dto = NULL;
  GBytes *datagram;

  g_return_val_if_fail (protocol != NULL, NULL);
  g_return_val_if_fail (packet != NULL, NULL);

  if (protocol->has_converter)
    {
      dto = protocol->converter.to_dto (packet, protocol->user_data, &cause);
      if (dto == NULL)
        {
          set_crashed (error, "protocol.make_datagram()", cause);
          return NULL;
        }
      packet = dto;
    }
  datagram = udg_serializer_serialize (protocol->serializer, packet, &cause);
  if (dto != NULL)
    udg_serializer_free_packet (protocol->serializer, dto);
  if (datagram == NULL)
    set_crashed (error, "protocol.make_datagram()", cause);
  return datagram;
}

static void
set_parse_or_crash (GError **error, GError *cause)
{
  if (cause != NULL && g_error_matches (cause, UDG_ERROR, UDG_ERROR_PARSE))
    g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                 _("Error while parsing data: %s"), cause->message);
  else
    set_crashed (error, "protocol.build_packet_from_datagram()", cause);
}

/**
 * udg_protocol_build_packet_from_datagram:
 * @protocol: a #UdgProtocol
 * @datagram: the bytes of one datagram
 * @error: return location for a #GError
 *
 * Deserializes and converts one datagram.
 *
 * Returns: (transfer full) (nullable): a new packet, to free with
 *   udg_protocol_free_packet(); %NULL with %UDG_ERROR_PARSE ("Error while
 *   parsing data: …") for malformed input, or %UDG_ERROR_FAILED
 *   ("protocol.build_packet_from_datagram() crashed …") when the serializer
 *   or converter failed otherwise
 *
 * Since: 0.1
 */
gpointer
udg_protocol_build_packet_from_datagram (UdgProtocol *protocol,
                                         GBytes      *datagram,
                                         GError     **error)
{
  g_autoptr(GError) cause = NULL;
  gpointer dto, packet;

  g_return_val_if_fail (protocol != NULL, NULL);
  g_return_val_if_fail (datagram != NULL, NULL);

  dto = udg_serializer_deserialize (protocol->serializer, datagram, &cause);
  if (dto == NULL)
    {
      set_parse_or_crash (error, cause);
      return NULL;
    }
  if (!protocol->has_converter)
    return dto;
  packet = protocol->converter.from_dto (dto, protocol->user_data, &cause);
  udg_serializer_free_packet (protocol->serializer, dto);
  if (packet == NULL)
    set_parse_or_crash (error, cause);
  return packet;
}

/**
 * udg_protocol_free_packet:
 * @protocol: a #UdgProtocol
 * @packet: (nullable) (transfer full): a packet from
 *   udg_protocol_build_packet_from_datagram() or udg_client_recv()
 *
 * Frees a received packet.
 *
 * Since: 0.1
 */
void
udg_protocol_free_packet (UdgProtocol *protocol,
                          gpointer     packet)
{
  g_return_if_fail (protocol != NULL);
  if (packet == NULL)
    return;
  if (protocol->has_converter)
    protocol->converter.free_packet (packet, protocol->user_data);
  else
    udg_serializer_free_packet (protocol->serializer, packet);
}

/**
 * udg_protocol_get_type:
 *
 * The #GType of #UdgProtocol, a boxed type: bindings and #GValue copy it with
 * udg_protocol_ref() and free it with udg_protocol_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgProtocol, udg_protocol, udg_protocol_ref, udg_protocol_unref)
