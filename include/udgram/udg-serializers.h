/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <udgram/udg-macros.h>
#include <udgram/udg-serializer.h>

G_BEGIN_DECLS

/**
 * UdgNewline:
 * @UDG_NEWLINE_LF: "\n"
 * @UDG_NEWLINE_CR: "\r"
 * @UDG_NEWLINE_CRLF: "\r\n"
 *
 * The line separator of udg_line_serializer_new().
 */
typedef enum
{
  UDG_NEWLINE_LF,
  UDG_NEWLINE_CR,
  UDG_NEWLINE_CRLF,
} UdgNewline;

/**
 * UdgBase64Alphabet:
 * @UDG_BASE64_URLSAFE: `-` and `_` (EasyNetwork's default)
 * @UDG_BASE64_STANDARD: `+` and `/`
 *
 * The alphabet of udg_base64_serializer_new().
 */
typedef enum
{
  UDG_BASE64_URLSAFE,
  UDG_BASE64_STANDARD,
} UdgBase64Alphabet;

/**
 * UdgBase64Checksum:
 * @UDG_BASE64_CHECKSUM_NONE: no digest
 * @UDG_BASE64_CHECKSUM_SHA256: a SHA-256 digest of the inner bytes
 * @UDG_BASE64_CHECKSUM_HMAC_SHA256: an HMAC-SHA256 digest with a key
 *
 * What udg_base64_serializer_new() appends to the inner bytes before
 * encoding them.
 */
typedef enum
{
  UDG_BASE64_CHECKSUM_NONE,
  UDG_BASE64_CHECKSUM_SHA256,
  UDG_BASE64_CHECKSUM_HMAC_SHA256,
} UdgBase64Checksum;

/**
 * UdgCompressor:
 * @UDG_COMPRESSOR_ZLIB: one zlib stream (RFC 1950) per datagram
 * @UDG_COMPRESSOR_GZIP: one gzip member (RFC 1952) per datagram
 * @UDG_COMPRESSOR_BZ2: one bzip2 stream per datagram (EasyNetwork's
 *   `BZ2CompressorSerializer`), when built with libbz2
 * @UDG_COMPRESSOR_ZSTD: one Zstandard frame per datagram, when built with
 *   libzstd
 * @UDG_COMPRESSOR_LZ4: one LZ4 frame per datagram, when built with liblz4
 *
 * The formats of udg_compressor_serializer_new(); see
 * udg_compressor_is_supported().
 */
typedef enum
{
  UDG_COMPRESSOR_ZLIB,
  UDG_COMPRESSOR_GZIP,
  UDG_COMPRESSOR_BZ2,
  UDG_COMPRESSOR_ZSTD,
  UDG_COMPRESSOR_LZ4,
} UdgCompressor;

/**
 * UDG_SERIALIZER_DEFAULT_LIMIT:
 *
 * The default limit of the text serializers, in bytes: 64 KiB, as
 * EasyNetwork.
 */
#define UDG_SERIALIZER_DEFAULT_LIMIT (64 * 1024)

/**
 * UDG_DECOMPRESSION_DEFAULT_LIMIT:
 *
 * The default limit of decompressed data per datagram: 16 MiB.
 */
#define UDG_DECOMPRESSION_DEFAULT_LIMIT (16 * 1024 * 1024)

UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_json_serializer_new           (void);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_json_serializer_new_full      (gsize               limit,
                                                  gboolean            ensure_ascii,
                                                  gboolean            debug);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_variant_serializer_new        (const GVariantType *type);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_line_serializer_new           (UdgNewline          newline,
                                                  const gchar        *encoding,
                                                  gboolean            keep_end,
                                                  GError            **error);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_base64_serializer_new         (UdgSerializer      *inner,
                                                  UdgBase64Alphabet   alphabet,
                                                  UdgBase64Checksum   checksum,
                                                  const gchar        *key,
                                                  GError            **error);
UDG_AVAILABLE_IN_0_1
gchar         *udg_base64_serializer_generate_key (void);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_compressor_serializer_new     (UdgSerializer      *inner,
                                                  UdgCompressor       format,
                                                  gint                level,
                                                  gsize               limit,
                                                  GError            **error);
UDG_AVAILABLE_IN_0_1
gboolean       udg_compressor_is_supported       (UdgCompressor       format);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_msgpack_serializer_new        (GError            **error);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_cbor_serializer_new           (GError            **error);
UDG_AVAILABLE_IN_0_1
UdgSerializer *udg_stapled_serializer_new        (UdgSerializer      *sent,
                                                  UdgSerializer      *received);

G_END_DECLS
