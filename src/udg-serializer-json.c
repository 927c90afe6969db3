/* udgram - the JSON serializer (json-glib)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>

/**
 * SECTION:udg-serializers
 * @title: Built-in serializers
 * @short_description: JSON, GVariant, text, base64, compressors, MessagePack, CBOR
 *
 * Constructors of the serializers udgram ships, composed the way
 * EasyNetwork's are: udg_json_serializer_new() innermost, then
 * udg_compressor_serializer_new(), then udg_base64_serializer_new()
 * outermost gives `Base64EncoderSerializer(ZlibCompressorSerializer(
 * JSONSerializer()), checksum=key)`.  Every deserializer takes untrusted
 * bytes: malformed input is %UDG_ERROR_PARSE, never a crash, and what it
 * allocates is bounded by the datagram or a limit.
 */

/* json-glib's parser recurses once per nesting level: a 64 KiB datagram of
 * '[' would take the thread's stack.  Deeper documents are refused first. */
#define MAX_DEPTH 256

typedef struct
{
  gsize limit;
  gboolean ensure_ascii;
  gboolean debug;
} JsonConfig;

/* Python's ensure_ascii: every non-ASCII character becomes \uXXXX (a
 * surrogate pair above U+FFFF).  Non-ASCII can only stand inside strings. */
static gchar *
escape_non_ascii (const gchar *text, gsize *len)
{
  GString *out = g_string_sized_new (*len + 16);
  const gchar *p = text, *end = text + *len;

  while (p < end)
    {
      gunichar c;

      if ((guchar) *p < 0x80)
        {
          g_string_append_c (out, *p++);
          continue;
        }
      /* json-glib keeps what "\ud800" decodes to, which is not UTF-8: such
       * bytes become U+FFFD rather than be read past. */
      c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\\ufffd");
          p++;
          continue;
        }
      p = g_utf8_next_char (p);
      if (c < 0x10000)
        g_string_append_printf (out, "\\u%04x", c);
      else
        {
          c -= 0x10000;
          g_string_append_printf (out, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
        }
    }
  *len = out->len;
  return g_string_free (out, FALSE);
}

static GBytes *
json_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  JsonConfig *config = user_data;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gchar *text;
  gsize len;

  json_generator_set_root (generator, (JsonNode *) packet);
  text = json_generator_to_data (generator, &len);
  if (config->ensure_ascii)
    {
      gchar *escaped = escape_non_ascii (text, &len);

      g_free (text);
      text = escaped;
    }
  return g_bytes_new_take (text, len);
}

/* One pass before json-glib's: refuses nesting deeper than MAX_DEPTH, and
 * anything after the first document (json-glib would take "{}{}"). */
static gboolean
check_structure (const gchar *data, gsize len, GError **error)
{
  gint depth = 0;
  gboolean in_string = FALSE;
  gboolean closed = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      gchar c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (closed && !g_ascii_isspace (c))
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                       _("JSON decode error: Extra data at byte %lu"), (gulong) i);
          return FALSE;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > MAX_DEPTH)
            {
              g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                           _("JSON decode error: nesting deeper than %d levels at byte %lu"),
                           MAX_DEPTH, (gulong) i);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && --depth == 0)
        closed = TRUE;
    }
  return TRUE;
}

static gpointer
json_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  JsonConfig *config = user_data;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  gsize len;
  const gchar *data = g_bytes_get_data (datagram, &len);
  const gchar *end;
  JsonNode *root;

  if (len > config->limit)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                   _("JSON decode error: %lu bytes is over the limit of %lu"),
                   (gulong) len, (gulong) config->limit);
      return NULL;
    }
  if (len > 0 && !g_utf8_validate_len (data, len, &end))
    {
      if (config->debug)
        g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                     _("Unicode decode error: invalid UTF-8 at byte %lu"), (gulong) (end - data));
      else
        g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, _("Unicode decode error: invalid UTF-8"));
      return NULL;
    }
  if (!check_structure (data, len, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (len == 0 || !json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, _("JSON decode error: %s"),
                   local != NULL ? local->message : _("empty document"));
      return NULL;
    }
  root = json_parser_steal_root (parser);
  if (root == NULL)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, _("JSON decode error: %s"), _("empty document"));
      return NULL;
    }
  return root;
}

static void
json_free_packet (gpointer packet, gpointer user_data)
{
  json_node_unref (packet);
}

/**
 * udg_json_serializer_new_full:
 * @limit: the largest datagram accepted, in bytes; 0 for
 *   %UDG_SERIALIZER_DEFAULT_LIMIT
 * @ensure_ascii: escape non-ASCII characters as `\uXXXX` when serializing,
 *   as Python's json module does by default
 * @debug: say where malformed input goes wrong
 *
 * A JSON serializer: packets are json-glib `JsonNode` trees, written in
 * compact form (no spaces).  Any valid JSON document of at most @limit bytes
 * is accepted; invalid UTF-8, invalid JSON, nesting deeper than 256 levels
 * and oversize datagrams are %UDG_ERROR_PARSE errors ("Unicode decode
 * error: …", "JSON decode error: …").
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_json_serializer_new_full (gsize    limit,
                              gboolean ensure_ascii,
                              gboolean debug)
{
  static const UdgSerializerFuncs funcs = {
    json_serialize, json_deserialize, json_free_packet, { NULL, },
  };
  JsonConfig *config = g_new0 (JsonConfig, 1);

  config->limit = limit > 0 ? limit : UDG_SERIALIZER_DEFAULT_LIMIT;
  config->ensure_ascii = ensure_ascii;
  config->debug = debug;
  return udg_serializer_new (&funcs, config, g_free);
}

/**
 * udg_json_serializer_new:
 *
 * A JSON serializer with EasyNetwork's defaults: 64 KiB limit, non-ASCII
 * escaped.  See udg_json_serializer_new_full().
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_json_serializer_new (void)
{
  return udg_json_serializer_new_full (0, TRUE, FALSE);
}
