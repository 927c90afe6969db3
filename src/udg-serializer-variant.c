/* udgram - the GVariant serializer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

static GBytes *
variant_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  const GVariantType *type = user_data;
  GVariant *value = (GVariant *) packet;
  g_autoptr(GVariant) normal = NULL;

  if (!g_variant_is_of_type (value, type))
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Expected a GVariant of type '%.*s', got '%s'"),
                   (int) g_variant_type_get_string_length (type), g_variant_type_peek_string (type),
                   g_variant_get_type_string (value));
      return NULL;
    }
  normal = g_variant_get_normal_form (value);
  return g_variant_get_data_as_bytes (normal);
}

static gpointer
variant_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  const GVariantType *type = user_data;
  GVariant *value = g_variant_ref_sink (g_variant_new_from_bytes (type, datagram, FALSE));

  /* Untrusted data: GLib would read a malformed one as a default value
   * without a word.  Only the normal form is accepted. */
  if (!g_variant_is_normal_form (value))
    {
      g_variant_unref (value);
      g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                   _("The datagram is not a GVariant of type '%.*s' in normal form (%lu bytes)"),
                   (int) g_variant_type_get_string_length (type), g_variant_type_peek_string (type),
                   (gulong) g_bytes_get_size (datagram));
      return NULL;
    }
  return value;
}

static void
variant_free_packet (gpointer packet, gpointer user_data)
{
  g_variant_unref (packet);
}

/**
 * udg_variant_serializer_new:
 * @type: a definite #GVariantType, such as `(uqs)`
 *
 * A GVariant serializer: packets are #GVariant values of @type, in GLib's
 * serialization format (host byte order; byteswap with
 * g_variant_byteswap() to talk to a machine of the other order).  Received
 * data is checked: anything not in normal form for @type, including a wrong
 * size, is a %UDG_ERROR_PARSE error.  Sending a value of another type fails.
 *
 * This is the C counterpart of EasyNetwork's struct serializers: a C struct
 * maps to a tuple type, for instance `struct { guint32 id; gdouble v;
 * gchar *name; }` to `(uds)`, built with g_variant_new ("(uds)", …) and read
 * with g_variant_get (packet, "(uds)", …).
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_variant_serializer_new (const GVariantType *type)
{
  static const UdgSerializerFuncs funcs = {
    variant_serialize, variant_deserialize, variant_free_packet, { NULL, },
  };

  g_return_val_if_fail (type != NULL && g_variant_type_is_definite (type), NULL);
  return udg_serializer_new (&funcs, g_variant_type_copy (type), (GDestroyNotify) g_variant_type_free);
}
