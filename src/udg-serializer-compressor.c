/* udgram - compressor wrappers (zlib, gzip), one stream per datagram
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>
#include <zlib.h>

typedef struct
{
  UdgSerializer *inner;
  UdgCompressor format;
  gint level;
  gsize limit;
} CompressorConfig;

static void
compressor_config_free (gpointer data)
{
  CompressorConfig *config = data;

  udg_serializer_unref (config->inner);
  g_free (config);
}

static int
window_bits (UdgCompressor format)
{
  return format == UDG_COMPRESSOR_GZIP ? 15 + 16 : 15;
}

static GBytes *
compressor_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  CompressorConfig *config = user_data;
  g_autoptr(GBytes) inner = udg_serializer_serialize (config->inner, packet, error);
  z_stream z = { 0 };
  gsize len;
  const guint8 *data;
  guint8 *out;
  uLong bound;
  int rc;

  if (inner == NULL)
    return NULL;
  data = g_bytes_get_data (inner, &len);
  if (deflateInit2 (&z, config->level, Z_DEFLATED, window_bits (config->format), 8, Z_DEFAULT_STRATEGY) != Z_OK)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_FAILED, _("Cannot start the compressor"));
      return NULL;
    }
  bound = deflateBound (&z, len) + 32;
  out = g_malloc (bound);
  z.next_in = (Bytef *) data;
  z.avail_in = len;
  z.next_out = out;
  z.avail_out = bound;
  rc = deflate (&z, Z_FINISH);
  deflateEnd (&z);
  if (rc != Z_STREAM_END)
    {
      g_free (out);
      g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED, _("Compression failed (zlib error %d)"), rc);
      return NULL;
    }
  return g_bytes_new_take (g_realloc (out, z.total_out), z.total_out);
}

static gpointer
compressor_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  CompressorConfig *config = user_data;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GBytes) inner = NULL;
  z_stream z = { 0 };
  gsize len;
  const guint8 *data = g_bytes_get_data (datagram, &len);
  int rc;

  if (inflateInit2 (&z, window_bits (config->format)) != Z_OK)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_FAILED, _("Cannot start the decompressor"));
      return NULL;
    }
  z.next_in = (Bytef *) data;
  z.avail_in = len;
  do
    {
      guint8 chunk[16384];
      gsize produced;

      z.next_out = chunk;
      z.avail_out = sizeof chunk;
      rc = inflate (&z, Z_NO_FLUSH);
      produced = sizeof chunk - z.avail_out;
      if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && z.avail_in == 0))
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, _("Error %d while decompressing data: %s"),
                       rc, z.msg != NULL ? z.msg : "?");
          inflateEnd (&z);
          return NULL;
        }
      /* A bomb stops here, not when memory runs out. */
      if (out->len + produced > config->limit)
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                       _("Decompressed data is over the limit of %lu bytes"), (gulong) config->limit);
          inflateEnd (&z);
          return NULL;
        }
      g_byte_array_append (out, chunk, produced);
      if (rc == Z_BUF_ERROR || (rc == Z_OK && z.avail_in == 0 && produced == 0))
        break;
    }
  while (rc != Z_STREAM_END);
  inflateEnd (&z);

  if (rc != Z_STREAM_END)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE,
                           _("Compressed data ended before the end-of-stream marker was reached"));
      return NULL;
    }
  if (z.avail_in > 0)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, _("Trailing data error"));
      return NULL;
    }
  inner = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  return udg_serializer_deserialize (config->inner, inner, error);
}

static void
compressor_free_packet (gpointer packet, gpointer user_data)
{
  CompressorConfig *config = user_data;

  udg_serializer_free_packet (config->inner, packet);
}

/**
 * udg_compressor_serializer_new:
 * @inner: the serializer of what is compressed; a reference is taken
 * @format: zlib (EasyNetwork's `ZlibCompressorSerializer`) or gzip
 * @level: the compression level, 0 to 9, or -1 for 9 (EasyNetwork's)
 * @limit: the most bytes one datagram may decompress to; 0 for
 *   %UDG_DECOMPRESSION_DEFAULT_LIMIT
 *
 * A wrapper that compresses each datagram as one whole stream.  Received
 * data that is not one complete stream is a %UDG_ERROR_PARSE error: "Error
 * N while decompressing data: …", "Compressed data ended before the
 * end-of-stream marker was reached", "Trailing data error", or over
 * @limit (so that a small bomb cannot take the memory).
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_compressor_serializer_new (UdgSerializer *inner,
                               UdgCompressor  format,
                               gint           level,
                               gsize          limit)
{
  static const UdgSerializerFuncs funcs = {
    compressor_serialize, compressor_deserialize, compressor_free_packet, { NULL, },
  };
  CompressorConfig *config;

  g_return_val_if_fail (inner != NULL, NULL);
  g_return_val_if_fail (format <= UDG_COMPRESSOR_GZIP, NULL);
  g_return_val_if_fail (level >= -1 && level <= 9, NULL);

  config = g_new0 (CompressorConfig, 1);
  config->inner = udg_serializer_ref (inner);
  config->format = format;
  config->level = level < 0 ? 9 : level;
  config->limit = limit > 0 ? limit : UDG_DECOMPRESSION_DEFAULT_LIMIT;
  return udg_serializer_new (&funcs, config, compressor_config_free);
}
