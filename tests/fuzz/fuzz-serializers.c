/* libFuzzer targets for every deserializer: one program, the target chosen
 * by the name it is built under (UDG_FUZZ_TARGET).  Each input is one
 * untrusted datagram; whatever it holds, the deserializer returns a packet
 * or a UDG_ERROR_PARSE error, without crashing, leaking or hanging.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <udgram/udgram.h>

#define STR(x) #x
#define XSTR(x) STR(x)

static UdgSerializer *serializer;

static UdgSerializer *
make (const gchar *target)
{
  /* A fixed key, so that the fuzzer can learn valid tokens from the seeds. */
  static const gchar *key = "SXnGtMVhTNUuGcPiGyuf4M5ptkAotmsGEAkrg94K29M=";
  g_autoptr(UdgSerializer) json = udg_json_serializer_new_full (0, TRUE, TRUE);
  g_autoptr(UdgSerializer) bytes = udg_bytes_serializer_new ();

  if (g_str_equal (target, "json"))
    return g_steal_pointer (&json);
  if (g_str_equal (target, "variant"))
    return udg_variant_serializer_new (G_VARIANT_TYPE ("(uasa{sv}mv)"));
  if (g_str_equal (target, "line"))
    return udg_line_serializer_new (UDG_NEWLINE_CRLF, "utf-8", FALSE, NULL);
  if (g_str_equal (target, "base64"))
    {
      g_autoptr(UdgSerializer) z = udg_compressor_serializer_new (json, UDG_COMPRESSOR_ZLIB, 9, 1 << 20, NULL);

      return udg_base64_serializer_new (z, UDG_BASE64_URLSAFE, UDG_BASE64_CHECKSUM_HMAC_SHA256, key, NULL);
    }
  if (g_str_equal (target, "base64-plain"))
    return udg_base64_serializer_new (json, UDG_BASE64_STANDARD, UDG_BASE64_CHECKSUM_NONE, NULL, NULL);
  if (g_str_equal (target, "msgpack"))
    return udg_msgpack_serializer_new (NULL);
  if (g_str_equal (target, "cbor"))
    return udg_cbor_serializer_new (NULL);
  if (g_str_equal (target, "zlib"))
    return udg_compressor_serializer_new (bytes, UDG_COMPRESSOR_ZLIB, 9, 1 << 20, NULL);
  if (g_str_equal (target, "bz2"))
    return udg_compressor_serializer_new (bytes, UDG_COMPRESSOR_BZ2, 9, 1 << 20, NULL);
  if (g_str_equal (target, "zstd"))
    return udg_compressor_serializer_new (bytes, UDG_COMPRESSOR_ZSTD, 3, 1 << 20, NULL);
  if (g_str_equal (target, "lz4"))
    return udg_compressor_serializer_new (bytes, UDG_COMPRESSOR_LZ4, 1, 1 << 20, NULL);
  g_error ("unknown fuzz target %s", target);
  return NULL;
}

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr(GBytes) datagram = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  gpointer packet;

  if (serializer == NULL)
    {
      serializer = make (XSTR (UDG_FUZZ_TARGET));
      if (serializer == NULL)
        __builtin_trap (); /* this build lacks the format */
    }
  packet = udg_serializer_deserialize (serializer, datagram, &error);
  if (packet == NULL)
    {
      /* Every failure is a parse error with a message. */
      if (!g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE) || error->message[0] == '\0')
        __builtin_trap ();
      return 0;
    }
  /* What was accepted must serialize again. */
  {
    g_autoptr(GBytes) again = udg_serializer_serialize (serializer, packet, NULL);

    if (again == NULL && strstr (XSTR (UDG_FUZZ_TARGET), "line") == NULL)
      __builtin_trap ();
  }
  udg_serializer_free_packet (serializer, packet);
  return 0;
}
