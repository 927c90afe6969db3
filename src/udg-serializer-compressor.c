/* udgram - compressor wrappers: one whole stream per datagram
 * (zlib, gzip; bzip2, Zstandard and LZ4 where the build has them)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>
#include <zlib.h>
#ifdef HAVE_BZ2
#include <bzlib.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HAVE_LZ4
#include <lz4frame.h>
#endif

#define CHUNK 16384

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

static void
set_truncated (GError **error)
{
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE,
                       _("Compressed data ended before the end-of-stream marker was reached"));
}

static void
set_trailing (GError **error)
{
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, _("Trailing data error"));
}

static void
set_corrupt (GError **error, int code, const gchar *what)
{
  g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, _("Error %d while decompressing data: %s"), code, what);
}

/* Appends @n bytes unless that passes the limit: a bomb stops here, not when
 * memory runs out. */
static gboolean
append_bounded (CompressorConfig *config, GByteArray *out, const guint8 *chunk, gsize n, GError **error)
{
  if (out->len + n > config->limit)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE,
                   _("Decompressed data is over the limit of %lu bytes"), (gulong) config->limit);
      return FALSE;
    }
  g_byte_array_append (out, chunk, n);
  return TRUE;
}

static void
set_compress_failed (GError **error, int code)
{
  g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED, _("Compression failed (error %d)"), code);
}

/* --- zlib and gzip ---------------------------------------------------------- */

static GBytes *
zlib_compress (CompressorConfig *config, const guint8 *data, gsize len, GError **error)
{
  z_stream z = { 0 };
  int bits = config->format == UDG_COMPRESSOR_GZIP ? 15 + 16 : 15;
  guint8 *out;
  uLong bound;
  int rc;

  if ((rc = deflateInit2 (&z, config->level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY)) != Z_OK)
    {
      set_compress_failed (error, rc);
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
      set_compress_failed (error, rc);
      return NULL;
    }
  return g_bytes_new_take (g_realloc (out, z.total_out), z.total_out);
}

static gboolean
zlib_decompress (CompressorConfig *config, const guint8 *data, gsize len, GByteArray *out, GError **error)
{
  z_stream z = { 0 };
  int bits = config->format == UDG_COMPRESSOR_GZIP ? 15 + 16 : 15;
  gboolean ok = FALSE;
  int rc;

  if ((rc = inflateInit2 (&z, bits)) != Z_OK)
    {
      set_corrupt (error, rc, "inflateInit2");
      return FALSE;
    }
  z.next_in = (Bytef *) data;
  z.avail_in = len;
  for (;;)
    {
      guint8 chunk[CHUNK];

      z.next_out = chunk;
      z.avail_out = sizeof chunk;
      rc = inflate (&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        {
          set_corrupt (error, rc, z.msg != NULL ? z.msg : "?");
          break;
        }
      if (!append_bounded (config, out, chunk, sizeof chunk - z.avail_out, error))
        break;
      if (rc == Z_STREAM_END)
        {
          ok = z.avail_in == 0;
          if (!ok)
            set_trailing (error);
          break;
        }
      if (rc == Z_BUF_ERROR || (z.avail_in == 0 && z.avail_out > 0))
        {
          /* All input used, room left, and no end of stream. */
          set_truncated (error);
          break;
        }
    }
  inflateEnd (&z);
  return ok;
}

/* --- bzip2 ------------------------------------------------------------------- */

#ifdef HAVE_BZ2
static GBytes *
bz2_compress (CompressorConfig *config, const guint8 *data, gsize len, GError **error)
{
  guint bound = len + len / 100 + 601;
  gchar *out = g_malloc (bound);
  int rc = BZ2_bzBuffToBuffCompress (out, &bound, (gchar *) data, len, MAX (1, config->level), 0, 0);

  if (rc != BZ_OK)
    {
      g_free (out);
      set_compress_failed (error, rc);
      return NULL;
    }
  return g_bytes_new_take (g_realloc (out, bound), bound);
}

static gboolean
bz2_decompress (CompressorConfig *config, const guint8 *data, gsize len, GByteArray *out, GError **error)
{
  bz_stream b = { 0 };
  gboolean ok = FALSE;
  int rc;

  if ((rc = BZ2_bzDecompressInit (&b, 0, 0)) != BZ_OK)
    {
      set_corrupt (error, rc, "BZ2_bzDecompressInit");
      return FALSE;
    }
  b.next_in = (gchar *) data;
  b.avail_in = len;
  for (;;)
    {
      gchar chunk[CHUNK];

      b.next_out = chunk;
      b.avail_out = sizeof chunk;
      rc = BZ2_bzDecompress (&b);
      if (rc != BZ_OK && rc != BZ_STREAM_END)
        {
          set_corrupt (error, rc, "Invalid data stream");
          break;
        }
      if (!append_bounded (config, out, (const guint8 *) chunk, sizeof chunk - b.avail_out, error))
        break;
      if (rc == BZ_STREAM_END)
        {
          ok = b.avail_in == 0;
          if (!ok)
            set_trailing (error);
          break;
        }
      if (b.avail_in == 0 && b.avail_out > 0)
        {
          set_truncated (error);
          break;
        }
    }
  BZ2_bzDecompressEnd (&b);
  return ok;
}
#endif

/* --- Zstandard --------------------------------------------------------------- */

#ifdef HAVE_ZSTD
static GBytes *
zstd_compress (CompressorConfig *config, const guint8 *data, gsize len, GError **error)
{
  gsize bound = ZSTD_compressBound (len);
  guint8 *out = g_malloc (bound);
  gsize n = ZSTD_compress (out, bound, data, len, config->level);

  if (ZSTD_isError (n))
    {
      g_free (out);
      g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED, _("Compression failed (%s)"), ZSTD_getErrorName (n));
      return NULL;
    }
  return g_bytes_new_take (g_realloc (out, n), n);
}

static gboolean
zstd_decompress (CompressorConfig *config, const guint8 *data, gsize len, GByteArray *out, GError **error)
{
  ZSTD_DStream *z = ZSTD_createDStream ();
  ZSTD_inBuffer in = { data, len, 0 };
  gboolean ok = FALSE;

  for (;;)
    {
      guint8 chunk[CHUNK];
      ZSTD_outBuffer o = { chunk, sizeof chunk, 0 };
      gsize rc = ZSTD_decompressStream (z, &o, &in);

      if (ZSTD_isError (rc))
        {
          set_corrupt (error, -1, ZSTD_getErrorName (rc));
          break;
        }
      if (!append_bounded (config, out, chunk, o.pos, error))
        break;
      if (rc == 0)
        {
          ok = in.pos == in.size;
          if (!ok)
            set_trailing (error);
          break;
        }
      if (in.pos == in.size && o.pos < o.size)
        {
          set_truncated (error);
          break;
        }
    }
  ZSTD_freeDStream (z);
  return ok;
}
#endif

/* --- LZ4 --------------------------------------------------------------------- */

#ifdef HAVE_LZ4
static GBytes *
lz4_compress (CompressorConfig *config, const guint8 *data, gsize len, GError **error)
{
  LZ4F_preferences_t prefs = { 0 };
  gsize bound, n;
  guint8 *out;

  prefs.compressionLevel = config->level;
  bound = LZ4F_compressFrameBound (len, &prefs);
  out = g_malloc (bound);
  n = LZ4F_compressFrame (out, bound, data, len, &prefs);
  if (LZ4F_isError (n))
    {
      g_free (out);
      g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED, _("Compression failed (%s)"), LZ4F_getErrorName (n));
      return NULL;
    }
  return g_bytes_new_take (g_realloc (out, n), n);
}

static gboolean
lz4_decompress (CompressorConfig *config, const guint8 *data, gsize len, GByteArray *out, GError **error)
{
  LZ4F_dctx *ctx = NULL;
  gsize pos = 0;
  gboolean ok = FALSE;

  if (LZ4F_isError (LZ4F_createDecompressionContext (&ctx, LZ4F_VERSION)))
    {
      set_corrupt (error, -1, "LZ4F_createDecompressionContext");
      return FALSE;
    }
  for (;;)
    {
      guint8 chunk[CHUNK];
      gsize out_size = sizeof chunk, in_size = len - pos;
      gsize rc = LZ4F_decompress (ctx, chunk, &out_size, len > 0 ? data + pos : NULL, &in_size, NULL);

      if (LZ4F_isError (rc))
        {
          set_corrupt (error, -1, LZ4F_getErrorName (rc));
          break;
        }
      pos += in_size;
      if (!append_bounded (config, out, chunk, out_size, error))
        break;
      if (rc == 0)
        {
          ok = pos == len;
          if (!ok)
            set_trailing (error);
          break;
        }
      if (pos == len && out_size < sizeof chunk)
        {
          set_truncated (error);
          break;
        }
    }
  LZ4F_freeDecompressionContext (ctx);
  return ok;
}
#endif

/* --- the serializer ------------------------------------------------------------ */

static GBytes *
compressor_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  CompressorConfig *config = user_data;
  g_autoptr(GBytes) inner = udg_serializer_serialize (config->inner, packet, error);
  const guint8 *data;
  gsize len;

  if (inner == NULL)
    return NULL;
  data = g_bytes_get_data (inner, &len);
  switch (config->format)
    {
#ifdef HAVE_BZ2
    case UDG_COMPRESSOR_BZ2:
      return bz2_compress (config, data, len, error);
#endif
#ifdef HAVE_ZSTD
    case UDG_COMPRESSOR_ZSTD:
      return zstd_compress (config, data, len, error);
#endif
#ifdef HAVE_LZ4
    case UDG_COMPRESSOR_LZ4:
      return lz4_compress (config, data, len, error);
#endif
    case UDG_COMPRESSOR_ZLIB:
    case UDG_COMPRESSOR_GZIP:
    default:
      return zlib_compress (config, data, len, error);
    }
}

static gpointer
compressor_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  CompressorConfig *config = user_data;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GBytes) inner = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (datagram, &len);
  gboolean ok;

  switch (config->format)
    {
#ifdef HAVE_BZ2
    case UDG_COMPRESSOR_BZ2:
      ok = bz2_decompress (config, data, len, out, error);
      break;
#endif
#ifdef HAVE_ZSTD
    case UDG_COMPRESSOR_ZSTD:
      ok = zstd_decompress (config, data, len, out, error);
      break;
#endif
#ifdef HAVE_LZ4
    case UDG_COMPRESSOR_LZ4:
      ok = lz4_decompress (config, data, len, out, error);
      break;
#endif
    case UDG_COMPRESSOR_ZLIB:
    case UDG_COMPRESSOR_GZIP:
    default:
      ok = zlib_decompress (config, data, len, out, error);
      break;
    }
  if (!ok)
    return NULL;
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
 * udg_compressor_is_supported:
 * @format: a compression format
 *
 * Tells whether udg_compressor_serializer_new() can compress with @format
 * in this build.
 *
 * Returns: whether this build of udgram has @format (zlib and gzip always;
 *   bzip2, Zstandard and LZ4 when their libraries were found by configure)
 *
 * Since: 0.1
 */
gboolean
udg_compressor_is_supported (UdgCompressor format)
{
  switch (format)
    {
    case UDG_COMPRESSOR_ZLIB:
    case UDG_COMPRESSOR_GZIP:
      return TRUE;
#ifdef HAVE_BZ2
    case UDG_COMPRESSOR_BZ2:
      return TRUE;
#endif
#ifdef HAVE_ZSTD
    case UDG_COMPRESSOR_ZSTD:
      return TRUE;
#endif
#ifdef HAVE_LZ4
    case UDG_COMPRESSOR_LZ4:
      return TRUE;
#endif
    default:
      return FALSE;
    }
}

/**
 * udg_compressor_serializer_new:
 * @inner: the serializer of what is compressed; a reference is taken
 * @format: the compression format
 * @level: the compression level, or -1 for the format's strongest usual
 *   level (9 for zlib, gzip and bzip2, as EasyNetwork; 19 for Zstandard;
 *   12 for LZ4)
 * @limit: the most bytes one datagram may decompress to; 0 for
 *   %UDG_DECOMPRESSION_DEFAULT_LIMIT
 * @error: return location for a #GError
 *
 * A wrapper that compresses each datagram as one whole stream (EasyNetwork's
 * `ZlibCompressorSerializer` and `BZ2CompressorSerializer`).  Received data
 * that is not exactly one complete stream is a %UDG_ERROR_PARSE error:
 * "Error N while decompressing data: …", "Compressed data ended before the
 * end-of-stream marker was reached", "Trailing data error", or
 * "Decompressed data is over the limit …", so that a small bomb cannot take
 * the memory.
 *
 * Returns: (transfer full) (nullable): a new #UdgSerializer, or %NULL with
 *   %UDG_ERROR_UNSUPPORTED when this build lacks @format
 *
 * Since: 0.1
 */
UdgSerializer *
udg_compressor_serializer_new (UdgSerializer *inner,
                               UdgCompressor  format,
                               gint           level,
                               gsize          limit,
                               GError       **error)
{
  static const UdgSerializerFuncs funcs = {
    compressor_serialize, compressor_deserialize, compressor_free_packet, { NULL, },
  };
  static const gint strongest[] = { 9, 9, 9, 19, 12 };
  CompressorConfig *config;

  g_return_val_if_fail (inner != NULL, NULL);
  g_return_val_if_fail (format <= UDG_COMPRESSOR_LZ4, NULL);
  g_return_val_if_fail (level >= -1, NULL);

  if (!udg_compressor_is_supported (format))
    {
      static const gchar *const names[] = { "zlib", "gzip", "bz2", "zstd", "lz4" };

      g_set_error (error, UDG_ERROR, UDG_ERROR_UNSUPPORTED,
                   _("This build of udgram has no %s compressor"), names[format]);
      return NULL;
    }
  config = g_new0 (CompressorConfig, 1);
  config->inner = udg_serializer_ref (inner);
  config->format = format;
  config->level = level < 0 ? strongest[format] : level;
  config->limit = limit > 0 ? limit : UDG_DECOMPRESSION_DEFAULT_LIMIT;
  return udg_serializer_new (&funcs, config, compressor_config_free);
}
