/* udgram - serializers: bytes of a datagram <-> packets
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>

/**
 * SECTION:udg-serializer
 * @title: UdgSerializer
 * @short_description: turns packets into datagrams and back
 *
 * A #UdgSerializer is a #UdgSerializerFuncs table with its data, shared and
 * reference-counted.  Each datagram is one call of the table's functions
 * (EasyNetwork's one-shot `serialize()`/`deserialize()`).  Built-ins:
 * udg_bytes_serializer_new() (packets are #GBytes) and
 * udg_ascii_serializer_new() (packets are ASCII strings).  Write your own by
 * filling a #UdgSerializerFuncs; the deserializer faces untrusted bytes and
 * must report bad input as %UDG_ERROR_PARSE, never crash.
 */

/**
 * UdgSerializer:
 *
 * A #UdgSerializerFuncs table with its data; reference-counted and usable from several threads.
 */

struct _UdgSerializer
{
  gatomicrefcount ref_count;
  UdgSerializerFuncs funcs;
  gpointer user_data;
  GDestroyNotify destroy;
};

/**
 * udg_serializer_new:
 * @funcs: the functions; copied
 * @user_data: (closure): data passed to them
 * @destroy: (nullable): frees @user_data with the serializer
 *
 * Creates a serializer from a table of functions.  @serialize,
 * @deserialize and @free_packet are required.
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_serializer_new (const UdgSerializerFuncs *funcs,
                    gpointer                  user_data,
                    GDestroyNotify            destroy)
{
  UdgSerializer *serializer;

  g_return_val_if_fail (funcs != NULL, NULL);
  g_return_val_if_fail (funcs->serialize != NULL, NULL);
  g_return_val_if_fail (funcs->deserialize != NULL, NULL);
  g_return_val_if_fail (funcs->free_packet != NULL, NULL);

  serializer = g_new0 (UdgSerializer, 1);
  g_atomic_ref_count_init (&serializer->ref_count);
  serializer->funcs = *funcs;
  serializer->user_data = user_data;
  serializer->destroy = destroy;
  return serializer;
}

/**
 * udg_serializer_ref:
 * @serializer: a #UdgSerializer
 *
 * Takes a reference on @serializer.
 *
 * Returns: (transfer full): @serializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_serializer_ref (UdgSerializer *serializer)
{
  g_return_val_if_fail (serializer != NULL, NULL);
  g_atomic_ref_count_inc (&serializer->ref_count);
  return serializer;
}

/**
 * udg_serializer_unref:
 * @serializer: (transfer full): a #UdgSerializer
 *
 * Drops a reference.
 *
 * Since: 0.1
 */
void
udg_serializer_unref (UdgSerializer *serializer)
{
  g_return_if_fail (serializer != NULL);
  if (!g_atomic_ref_count_dec (&serializer->ref_count))
    return;
  if (serializer->destroy != NULL)
    serializer->destroy (serializer->user_data);
  g_free (serializer);
}

/**
 * udg_serializer_serialize:
 * @serializer: a #UdgSerializer
 * @packet: the packet
 * @error: return location for a #GError
 *
 * Turns @packet into the bytes of one datagram.
 *
 * Returns: (transfer full) (nullable): the datagram, or %NULL on failure
 *
 * Since: 0.1
 */
GBytes *
udg_serializer_serialize (UdgSerializer *serializer,
                          gconstpointer  packet,
                          GError       **error)
{
  g_return_val_if_fail (serializer != NULL, NULL);
  g_return_val_if_fail (packet != NULL, NULL);
  return serializer->funcs.serialize (packet, serializer->user_data, error);
}

/**
 * udg_serializer_deserialize:
 * @serializer: a #UdgSerializer
 * @datagram: the bytes of one datagram
 * @error: return location for a #GError
 *
 * Turns the bytes of one datagram into a packet, or fails with a
 * %UDG_ERROR_PARSE error (EasyNetwork's DeserializeError) that names
 * what was wrong.
 *
 * Returns: (transfer full) (nullable): a new packet, to free with
 *   udg_serializer_free_packet(), or %NULL on failure
 *
 * Since: 0.1
 */
gpointer
udg_serializer_deserialize (UdgSerializer *serializer,
                            GBytes        *datagram,
                            GError       **error)
{
  g_return_val_if_fail (serializer != NULL, NULL);
  g_return_val_if_fail (datagram != NULL, NULL);
  return serializer->funcs.deserialize (datagram, serializer->user_data, error);
}

/**
 * udg_serializer_free_packet:
 * @serializer: a #UdgSerializer
 * @packet: (nullable) (transfer full): a packet from
 *   udg_serializer_deserialize()
 *
 * Frees a packet.
 *
 * Since: 0.1
 */
void
udg_serializer_free_packet (UdgSerializer *serializer,
                            gpointer       packet)
{
  g_return_if_fail (serializer != NULL);
  if (packet != NULL)
    serializer->funcs.free_packet (packet, serializer->user_data);
}

/* --- bytes ---------------------------------------------------------------- */

static GBytes *
bytes_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  return g_bytes_ref ((GBytes *) packet);
}

static gpointer
bytes_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  return g_bytes_ref (datagram);
}

static void
bytes_free (gpointer packet, gpointer user_data)
{
  g_bytes_unref (packet);
}

/**
 * udg_bytes_serializer_new:
 *
 * The identity serializer: packets are #GBytes, the datagram as it is.
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_bytes_serializer_new (void)
{
  static const UdgSerializerFuncs funcs = {
    bytes_serialize, bytes_deserialize, bytes_free, { NULL, },
  };

  return udg_serializer_new (&funcs, NULL, NULL);
}

/* --- ASCII ---------------------------------------------------------------- */

static GBytes *
ascii_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  const gchar *text = packet;
  gsize len = strlen (text);

  for (gsize i = 0; i < len; i++)
    if ((guchar) text[i] >= 0x80)
      {
        g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                     _("'ascii' codec can't encode character at position %lu: ordinal not in range(128)"),
                     (gulong) i);
        return NULL;
      }
  return g_bytes_new (text, len);
}

static gpointer
ascii_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  gsize len;
  const guchar *data = g_bytes_get_data (datagram, &len);

  for (gsize i = 0; i < len; i++)
    if (data[i] >= 0x80 || data[i] == 0)
      {
        g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                     _("'ascii' codec can't decode byte 0x%02x in position %lu: ordinal not in range(128)"),
                     data[i], (gulong) i);
        return NULL;
      }
  return len > 0 ? g_strndup ((const gchar *) data, len) : g_strdup ("");
}

static void
ascii_free (gpointer packet, gpointer user_data)
{
  g_free (packet);
}

/**
 * udg_ascii_serializer_new:
 *
 * Packets are NUL-terminated ASCII strings (`gchar *`), the datagram their
 * bytes without the NUL.  A datagram with a byte outside 1..127 is a
 * %UDG_ERROR_PARSE error; sending a non-ASCII string fails.  It is the
 * serializer of EasyNetwork's functional tests.
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_ascii_serializer_new (void)
{
  static const UdgSerializerFuncs funcs = {
    ascii_serialize, ascii_deserialize, ascii_free, { NULL, },
  };

  return udg_serializer_new (&funcs, NULL, NULL);
}

/**
 * udg_serializer_get_type:
 *
 * The #GType of #UdgSerializer, a boxed type: bindings and #GValue copy it with
 * udg_serializer_ref() and free it with udg_serializer_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgSerializer, udg_serializer, udg_serializer_ref, udg_serializer_unref)
