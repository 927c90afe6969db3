/* udgram - the line (text) serializer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>

typedef enum
{
  ENC_UTF8,
  ENC_ASCII,
  ENC_OTHER,
} Encoding;

typedef struct
{
  const gchar *separator;
  gsize separator_len;
  Encoding kind;
  gchar *encoding;
  gboolean keep_end;
  gsize limit;
} LineConfig;

static void
line_config_free (gpointer data)
{
  LineConfig *config = data;

  g_free (config->encoding);
  g_free (config);
}

static GBytes *
line_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  LineConfig *config = user_data;
  const gchar *text = packet;
  gsize len = strlen (text);
  g_autoptr(GError) local = NULL;
  gchar *converted;
  gsize written;

  switch (config->kind)
    {
    case ENC_ASCII:
      for (gsize i = 0; i < len; i++)
        if ((guchar) text[i] >= 0x80)
          {
            g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                         _("'ascii' codec can't encode character at position %lu: ordinal not in range(128)"),
                         (gulong) i);
            return NULL;
          }
      return g_bytes_new (text, len);
    case ENC_UTF8:
      if (!g_utf8_validate_len (text, len, NULL))
        {
          g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT, _("The text is not valid UTF-8"));
          return NULL;
        }
      return g_bytes_new (text, len);
    case ENC_OTHER:
    default:
      converted = g_convert (text, len, config->encoding, "UTF-8", NULL, &written, &local);
      if (converted == NULL)
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT, "%s", local->message);
          return NULL;
        }
      return g_bytes_new_take (converted, written);
    }
}

static gpointer
line_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  LineConfig *config = user_data;
  g_autoptr(GError) local = NULL;
  gsize len;
  const gchar *data = g_bytes_get_data (datagram, &len);
  const gchar *end;
  gchar *text;

  if (len > config->limit)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, _("%lu bytes is over the limit of %lu"),
                   (gulong) len, (gulong) config->limit);
      return NULL;
    }
  if (!config->keep_end)
    while (len >= config->separator_len &&
           memcmp (data + len - config->separator_len, config->separator, config->separator_len) == 0)
      len -= config->separator_len;
  if (len == 0)
    return g_strdup ("");

  switch (config->kind)
    {
    case ENC_ASCII:
      for (gsize i = 0; i < len; i++)
        if ((guchar) data[i] >= 0x80 || data[i] == '\0')
          {
            g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                         _("'ascii' codec can't decode byte 0x%02x in position %lu: ordinal not in range(128)"),
                         (guchar) data[i], (gulong) i);
            return NULL;
          }
      return g_strndup (data, len);
    case ENC_UTF8:
      if (!g_utf8_validate_len (data, len, &end))
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                       _("'utf-8' codec can't decode the bytes at position %lu"), (gulong) (end - data));
          return NULL;
        }
      return g_strndup (data, len);
    case ENC_OTHER:
    default:
      {
        gsize written = 0;

        text = g_convert (data, len, "UTF-8", config->encoding, NULL, &written, &local);
        if (text == NULL || strlen (text) != written)
          {
            g_free (text);
            g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, "%s",
                         local != NULL ? local->message : _("The text holds a NUL character"));
            return NULL;
          }
      }
      return text;
    }
}

static void
line_free_packet (gpointer packet, gpointer user_data)
{
  g_free (packet);
}

/**
 * udg_line_serializer_new:
 * @newline: the line separator
 * @encoding: (nullable): "ascii" (the default when %NULL, as EasyNetwork),
 *   "utf-8", or any character set iconv knows (through g_convert())
 * @keep_end: keep the trailing separators of received lines
 * @error: return location for a #GError
 *
 * A text serializer (EasyNetwork's `StringLineSerializer`): packets are
 * UTF-8 strings (`gchar *`).  Sending encodes the text; receiving strips
 * every trailing separator (unless @keep_end) and decodes.  Bytes the
 * encoding does not allow, and NUL characters, are %UDG_ERROR_PARSE errors.
 *
 * Returns: (transfer full) (nullable): a new #UdgSerializer, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT for an unknown encoding
 *
 * Since: 0.1
 */
UdgSerializer *
udg_line_serializer_new (UdgNewline   newline,
                         const gchar *encoding,
                         gboolean     keep_end,
                         GError     **error)
{
  static const UdgSerializerFuncs funcs = {
    line_serialize, line_deserialize, line_free_packet, { NULL, },
  };
  LineConfig *config;

  g_return_val_if_fail (newline <= UDG_NEWLINE_CRLF, NULL);
  config = g_new0 (LineConfig, 1);
  config->separator = newline == UDG_NEWLINE_LF ? "\n" : newline == UDG_NEWLINE_CR ? "\r" : "\r\n";
  config->separator_len = strlen (config->separator);
  config->keep_end = keep_end;
  config->limit = UDG_SERIALIZER_DEFAULT_LIMIT;
  if (encoding == NULL || g_ascii_strcasecmp (encoding, "ascii") == 0 ||
      g_ascii_strcasecmp (encoding, "us-ascii") == 0)
    config->kind = ENC_ASCII;
  else if (g_ascii_strcasecmp (encoding, "utf-8") == 0 || g_ascii_strcasecmp (encoding, "utf8") == 0)
    config->kind = ENC_UTF8;
  else
    {
      GIConv probe = g_iconv_open ("UTF-8", encoding);

      if (probe == (GIConv) -1)
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT, _("Unknown encoding '%s'"), encoding);
          g_free (config);
          return NULL;
        }
      g_iconv_close (probe);
      config->kind = ENC_OTHER;
      config->encoding = g_strdup (encoding);
    }
  return udg_serializer_new (&funcs, config, line_config_free);
}
