/* The built-in serializers: round trips of every serializer and of
 * compositions, one test per class of malformed input, and a server that
 * answers in the format it is asked in, through a real socket.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <stdio.h>
#include <unistd.h>

static JsonNode *
json (const gchar *text)
{
  return json_from_string (text, NULL);
}

static GBytes *
bytes (const gchar *text)
{
  return g_bytes_new (text, strlen (text));
}

/* Deserializing @datagram fails with PARSE and a message starting with
 * @prefix. */
static void
assert_parse_error (UdgSerializer *s, GBytes *datagram, const gchar *prefix)
{
  g_autoptr(GError) error = NULL;
  gpointer packet = udg_serializer_deserialize (s, datagram, &error);

  ck_assert_ptr_null (packet);
  ck_assert_msg (g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE), "not a parse error: %s",
                 error ? error->message : "none");
  ck_assert_msg (g_str_has_prefix (error->message, prefix), "'%s' does not start with '%s'", error->message, prefix);
}

START_TEST (test_json_roundtrip)
{
  g_autoptr(UdgSerializer) s = udg_json_serializer_new ();
  g_autoptr(JsonNode) in = json ("{ \"a\" : [1, 2.5, true, null], \"b\" : \"caf\xc3\xa9 \xf0\x9f\x98\x80\" }");
  g_autoptr(GBytes) wire = udg_serializer_serialize (s, in, NULL);
  g_autofree gchar *text = g_strndup (g_bytes_get_data (wire, NULL), g_bytes_get_size (wire));
  JsonNode *out;

  /* Compact, and ASCII as Python's json.dumps writes it. */
  ck_assert_str_eq (text, "{\"a\":[1,2.5,true,null],\"b\":\"caf\\u00e9 \\ud83d\\ude00\"}");
  out = udg_serializer_deserialize (s, wire, NULL);
  ck_assert (json_node_equal (in, out));
  udg_serializer_free_packet (s, out);
  {
    /* A lone surrogate (found by fuzz-json): read, and written back as
     * U+FFFD, never read past. */
    g_autoptr(GBytes) lone = bytes ("[\"\\ud800x\"]");
    JsonNode *node = udg_serializer_deserialize (s, lone, NULL);
    g_autoptr(GBytes) back = NULL;

    ck_assert_ptr_nonnull (node);
    back = udg_serializer_serialize (s, node, NULL);
    ck_assert_ptr_nonnull (back);
    ck_assert_ptr_nonnull (g_strstr_len (g_bytes_get_data (back, NULL), g_bytes_get_size (back), "\\ufffd"));
    udg_serializer_free_packet (s, node);
  }
}
END_TEST

START_TEST (test_json_malformed)
{
  g_autoptr(UdgSerializer) s = udg_json_serializer_new ();
  g_autoptr(UdgSerializer) small = udg_json_serializer_new_full (8, FALSE, TRUE);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) truncated = bytes ("{\"a\":");
  g_autoptr(GBytes) trailing = bytes ("[1,2]x");
  g_autoptr(GBytes) utf8 = g_bytes_new ("\"\xff\xfe\"", 4);
  g_autoptr(GBytes) nul = g_bytes_new ("\"a\0b\"", 5);
  g_autoptr(GBytes) big = bytes ("[1,2,3,4,5]");
  g_autofree gchar *deep_text = g_strnfill (60000, '[');
  g_autoptr(GBytes) deep = bytes (deep_text);

  assert_parse_error (s, empty, "JSON decode error");
  assert_parse_error (s, truncated, "JSON decode error");
  assert_parse_error (s, trailing, "JSON decode error");
  {
    g_autoptr(GBytes) two = bytes ("{\"a\":1} {\"b\":2}");

    assert_parse_error (s, two, "JSON decode error: Extra data");
  }
  assert_parse_error (s, utf8, "Unicode decode error");
  assert_parse_error (s, nul, "Unicode decode error");
  assert_parse_error (s, deep, "JSON decode error: nesting deeper than 256 levels");
  assert_parse_error (small, big, "JSON decode error: 11 bytes is over the limit of 8");
  assert_parse_error (small, utf8, "Unicode decode error: invalid UTF-8 at byte 1");
}
END_TEST

START_TEST (test_variant)
{
  g_autoptr(UdgSerializer) s = udg_variant_serializer_new (G_VARIANT_TYPE ("(uds)"));
  g_autoptr(GVariant) in = g_variant_ref_sink (g_variant_new ("(uds)", 7, 2.5, "seven"));
  g_autoptr(GVariant) wrong = g_variant_ref_sink (g_variant_new ("(us)", 7, "x"));
  g_autoptr(GBytes) wire = udg_serializer_serialize (s, in, NULL);
  g_autoptr(GBytes) cut = g_bytes_new_from_bytes (wire, 0, g_bytes_get_size (wire) - 1);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  GVariant *out = udg_serializer_deserialize (s, wire, NULL);
  guint32 id;
  gdouble v;
  const gchar *name;

  ck_assert (g_variant_equal (in, out));
  g_variant_get (out, "(ud&s)", &id, &v, &name);
  ck_assert_uint_eq (id, 7);
  ck_assert_str_eq (name, "seven");
  udg_serializer_free_packet (s, out);
  assert_parse_error (s, cut, "The datagram is not a GVariant of type '(uds)' in normal form");
  assert_parse_error (s, empty, "The datagram is not a GVariant");
  ck_assert_ptr_null (udg_serializer_serialize (s, wrong, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  {
    /* Fixed size: a datagram of the wrong size is refused, not zeroed. */
    g_autoptr(UdgSerializer) fixed = udg_variant_serializer_new (G_VARIANT_TYPE ("(ii)"));
    g_autoptr(GBytes) seven = g_bytes_new ("1234567", 7);

    assert_parse_error (fixed, seven, "The datagram is not a GVariant");
  }
}
END_TEST

START_TEST (test_line)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) ascii = udg_line_serializer_new (UDG_NEWLINE_LF, NULL, FALSE, NULL);
  g_autoptr(UdgSerializer) crlf = udg_line_serializer_new (UDG_NEWLINE_CRLF, "utf-8", FALSE, NULL);
  g_autoptr(UdgSerializer) keep = udg_line_serializer_new (UDG_NEWLINE_LF, "ascii", TRUE, NULL);
  g_autoptr(UdgSerializer) latin1 = udg_line_serializer_new (UDG_NEWLINE_LF, "ISO-8859-1", FALSE, NULL);
  g_autoptr(GBytes) lines = bytes ("hello\n\n\n");
  g_autoptr(GBytes) crlines = bytes ("caf\xc3\xa9\r\n\r\n");
  g_autoptr(GBytes) latin = g_bytes_new ("caf\xe9\n", 5);
  g_autoptr(GBytes) bad_utf8 = g_bytes_new ("\xc3(", 2);
  g_autoptr(GBytes) high = g_bytes_new ("\xe9", 1);
  g_autoptr(GBytes) wire = NULL;
  gchar *text;

  text = udg_serializer_deserialize (ascii, lines, NULL);
  ck_assert_str_eq (text, "hello");
  udg_serializer_free_packet (ascii, text);
  text = udg_serializer_deserialize (keep, lines, NULL);
  ck_assert_str_eq (text, "hello\n\n\n");
  udg_serializer_free_packet (keep, text);
  text = udg_serializer_deserialize (crlf, crlines, NULL);
  ck_assert_str_eq (text, "caf\xc3\xa9");
  udg_serializer_free_packet (crlf, text);
  text = udg_serializer_deserialize (latin1, latin, NULL);
  ck_assert_str_eq (text, "caf\xc3\xa9");
  udg_serializer_free_packet (latin1, text);
  wire = udg_serializer_serialize (latin1, "caf\xc3\xa9", NULL);
  ck_assert_uint_eq (g_bytes_get_size (wire), 4);
  assert_parse_error (ascii, high, "'ascii' codec can't decode byte 0xe9");
  assert_parse_error (crlf, bad_utf8, "'utf-8' codec can't decode");
  ck_assert_ptr_null (udg_line_serializer_new (UDG_NEWLINE_LF, "no-such-charset", FALSE, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
}
END_TEST

START_TEST (test_base64)
{
  g_autofree gchar *key = udg_base64_serializer_generate_key ();
  g_autofree gchar *other = udg_base64_serializer_generate_key ();
  g_autoptr(UdgSerializer) inner = udg_bytes_serializer_new ();
  g_autoptr(GError) error = NULL;
  const UdgBase64Checksum checksums[] = { UDG_BASE64_CHECKSUM_NONE, UDG_BASE64_CHECKSUM_SHA256,
                                          UDG_BASE64_CHECKSUM_HMAC_SHA256 };

  ck_assert_uint_eq (strlen (key), 44);
  ck_assert_str_ne (key, other);
  for (guint a = 0; a < 2; a++)
    for (guint c = 0; c < G_N_ELEMENTS (checksums); c++)
      {
        g_autoptr(UdgSerializer) s = udg_base64_serializer_new (inner, a, checksums[c], key, NULL);
        g_autoptr(GBytes) in = g_bytes_new ("\xfb\xff\xfe any bytes", 14);
        g_autoptr(GBytes) wire = udg_serializer_serialize (s, in, NULL);
        g_autofree gchar *flipped = g_strndup (g_bytes_get_data (wire, NULL), g_bytes_get_size (wire));
        g_autoptr(GBytes) flipped_wire = NULL;
        g_autoptr(GBytes) garbage = bytes ("not base64 at all!");
        g_autoptr(GBytes) unpadded = g_bytes_new_from_bytes (wire, 0, g_bytes_get_size (wire) - 1);
        GBytes *out = udg_serializer_deserialize (s, wire, NULL);

        ck_assert (g_bytes_equal (in, out));
        udg_serializer_free_packet (s, out);
        /* The alphabet is the one asked for. */
        ck_assert_ptr_null (memchr (g_bytes_get_data (wire, NULL), a == UDG_BASE64_URLSAFE ? '+' : '-',
                                    g_bytes_get_size (wire)));
        assert_parse_error (s, garbage, "Invalid token");
        assert_parse_error (s, unpadded, "Invalid token");
        if (checksums[c] != UDG_BASE64_CHECKSUM_NONE)
          {
            /* One bit of the payload flipped: the digest no longer matches. */
            flipped[1] = flipped[1] == 'A' ? 'B' : 'A';
            flipped_wire = bytes (flipped);
            assert_parse_error (s, flipped_wire, "Invalid token");
          }
      }
  {
    /* Another key refuses the token. */
    g_autoptr(UdgSerializer) mine = udg_base64_serializer_new (inner, UDG_BASE64_URLSAFE,
                                                               UDG_BASE64_CHECKSUM_HMAC_SHA256, key, NULL);
    g_autoptr(UdgSerializer) theirs = udg_base64_serializer_new (inner, UDG_BASE64_URLSAFE,
                                                                 UDG_BASE64_CHECKSUM_HMAC_SHA256, other, NULL);
    g_autoptr(GBytes) in = bytes ("secret");
    g_autoptr(GBytes) wire = udg_serializer_serialize (theirs, in, NULL);

    assert_parse_error (mine, wire, "Invalid token");
  }
  ck_assert_ptr_null (udg_base64_serializer_new (inner, UDG_BASE64_URLSAFE, UDG_BASE64_CHECKSUM_HMAC_SHA256,
                                                 "too short", &error));
  ck_assert_str_eq (error->message, "signing key must be 32 url-safe base64-encoded bytes.");
  g_clear_error (&error);
  ck_assert_ptr_null (udg_base64_serializer_new (inner, UDG_BASE64_URLSAFE, UDG_BASE64_CHECKSUM_HMAC_SHA256,
                                                 NULL, &error));
}
END_TEST

START_TEST (test_compressors)
{
  g_autoptr(UdgSerializer) inner = udg_bytes_serializer_new ();
  g_autoptr(UdgSerializer) small = udg_compressor_serializer_new (inner, UDG_COMPRESSOR_ZLIB, -1, 1024 * 1024, NULL);

  for (guint f = 0; f <= UDG_COMPRESSOR_LZ4; f++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(UdgSerializer) s = udg_compressor_serializer_new (inner, f, -1, 0, &error);
      g_autofree gchar *text = g_strnfill (5000, 'z');
      g_autoptr(GBytes) in = bytes (text);
      g_autoptr(GBytes) wire = udg_serializer_serialize (s, in, NULL);
      g_autoptr(GBytes) cut = g_bytes_new_from_bytes (wire, 0, g_bytes_get_size (wire) - 3);
      g_autoptr(GByteArray) more = g_byte_array_new ();
      g_autoptr(GBytes) trailing = NULL;
      g_autoptr(GBytes) garbage = g_bytes_new ("\x00\x01garbage", 9);
      g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
      GBytes *out;

      if (!udg_compressor_is_supported (f))
        {
          ck_assert_ptr_null (s);
          ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_UNSUPPORTED));
          printf ("SKIP compressor %u: not in this build\n", f);
          continue;
        }
      ck_assert_uint_lt (g_bytes_get_size (wire), 100);
      out = udg_serializer_deserialize (s, wire, NULL);
      ck_assert (g_bytes_equal (in, out));
      udg_serializer_free_packet (s, out);
      g_byte_array_append (more, g_bytes_get_data (wire, NULL), g_bytes_get_size (wire));
      g_byte_array_append (more, (const guint8 *) "x", 1);
      trailing = g_bytes_new (more->data, more->len);
      assert_parse_error (s, cut, "Compressed data ended before the end-of-stream marker was reached");
      assert_parse_error (s, trailing, "Trailing data error");
      assert_parse_error (s, garbage, f <= UDG_COMPRESSOR_GZIP ? "Error -3 while decompressing data" : "Error ");
      assert_parse_error (s, empty, "Compressed data ended before the end-of-stream marker was reached");
    }
  {
    /* A bomb: 64 MiB of zeros in a few KiB stops at the limit. */
    g_autoptr(UdgSerializer) big = udg_compressor_serializer_new (inner, UDG_COMPRESSOR_ZLIB, 9, G_MAXSIZE / 2, NULL);
    gsize n = 64 * 1024 * 1024;
    g_autofree gchar *zeros = g_malloc0 (n);
    g_autoptr(GBytes) in = g_bytes_new_static (zeros, n);
    g_autoptr(GBytes) bomb = udg_serializer_serialize (big, in, NULL);

    ck_assert_uint_lt (g_bytes_get_size (bomb), 128 * 1024);
    assert_parse_error (small, bomb, "Decompressed data is over the limit of 1048576 bytes");
  }
}
END_TEST

START_TEST (test_compositions)
{
  g_autofree gchar *key = udg_base64_serializer_generate_key ();
  g_autoptr(UdgSerializer) j = udg_json_serializer_new ();
  g_autoptr(UdgSerializer) z = udg_compressor_serializer_new (j, UDG_COMPRESSOR_ZLIB, 9, 0, NULL);
  g_autoptr(UdgSerializer) s = udg_base64_serializer_new (z, UDG_BASE64_URLSAFE, UDG_BASE64_CHECKSUM_HMAC_SHA256,
                                                          key, NULL);
  g_autoptr(UdgSerializer) line = udg_line_serializer_new (UDG_NEWLINE_LF, "utf-8", FALSE, NULL);
  g_autoptr(UdgSerializer) stapled = udg_stapled_serializer_new (line, j);
  g_autoptr(JsonNode) in = json ("{\"list\":[1,2,3],\"text\":\"\xc3\xa9t\xc3\xa9\"}");
  g_autoptr(GBytes) wire = udg_serializer_serialize (s, in, NULL);
  g_autoptr(GBytes) sent = udg_serializer_serialize (stapled, "plain text", NULL);
  g_autoptr(GBytes) doc = bytes ("[true]");
  JsonNode *out = udg_serializer_deserialize (s, wire, NULL);

  ck_assert (json_node_equal (in, out));
  udg_serializer_free_packet (s, out);
  /* Stapled: text out, JSON in. */
  ck_assert_uint_eq (g_bytes_get_size (sent), 10);
  out = udg_serializer_deserialize (stapled, doc, NULL);
  ck_assert (JSON_NODE_HOLDS_ARRAY (out));
  udg_serializer_free_packet (stapled, out);
}
END_TEST

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

/* MessagePack and CBOR map to JsonNode; their decoders face hostile input. */
START_TEST (test_msgpack_cbor)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) mp = udg_msgpack_serializer_new (&error);
  g_autoptr(UdgSerializer) cb = NULL;
  g_autoptr(JsonNode) in = json ("{\"a\":[1,-2,3.5,true,null,\"\xc3\xa9\"],\"b\":{\"c\":[]},\"big\":9007199254740993}");

  if (mp == NULL)
    {
      ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_UNSUPPORTED));
      printf ("SKIP msgpack and cbor: not in this build\n");
      return;
    }
  cb = udg_cbor_serializer_new (NULL);
  ck_assert_ptr_nonnull (cb);
  for (int k = 0; k < 2; k++)
    {
      UdgSerializer *s = k == 0 ? mp : cb;
      g_autoptr(GBytes) wire = udg_serializer_serialize (s, in, NULL);
      g_autoptr(GBytes) cut = g_bytes_new_from_bytes (wire, 0, g_bytes_get_size (wire) - 1);
      g_autoptr(GByteArray) more = g_byte_array_new ();
      g_autoptr(GBytes) extra = NULL;
      g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
      JsonNode *out = udg_serializer_deserialize (s, wire, NULL);

      ck_assert_ptr_nonnull (out);
      ck_assert (json_node_equal (in, out));
      udg_serializer_free_packet (s, out);
      g_byte_array_append (more, g_bytes_get_data (wire, NULL), g_bytes_get_size (wire));
      g_byte_array_append (more, (const guint8 *) "\x01", 1);
      extra = g_bytes_new (more->data, more->len);
      assert_parse_error (s, cut, "Missing data to create packet");
      assert_parse_error (s, extra, "Extra data caught");
      assert_parse_error (s, empty, "Missing data to create packet");
    }
  {
    /* An array that claims 4 billion items in 5 bytes: refused at once. */
    g_autoptr(GBytes) mp_huge = g_bytes_new ("\xdd\xff\xff\xff\xff", 5);
    g_autoptr(GBytes) cb_huge = g_bytes_new ("\x9b\x00\x00\x00\xff\xff\xff\xff\xff", 9);
    g_autoptr(GBytes) mp_key = g_bytes_new ("\x81\x01\x02", 3);   /* {1: 2} */
    g_autoptr(GBytes) cb_key = g_bytes_new ("\xa1\x01\x02", 3);
    g_autoptr(GBytes) mp_bin = g_bytes_new ("\xc4\x01\x00", 3);
    g_autoptr(GBytes) cb_bin = g_bytes_new ("\x41\x00", 2);
    g_autofree gchar *deep_text = g_strnfill (1000, '\x91');  /* [[[[...]]]] */
    g_autoptr(GBytes) mp_deep = g_bytes_new (deep_text, 1000);
    g_autofree gchar *cb_deep_text = g_strnfill (1000, '\x81');
    g_autoptr(GBytes) cb_deep = g_bytes_new (cb_deep_text, 1000);

    assert_parse_error (mp, mp_huge, "Missing data to create packet");
    assert_parse_error (cb, cb_huge, "Missing data to create packet");
    assert_parse_error (mp, mp_key, "A MessagePack map key is not a UTF-8 string");
    assert_parse_error (cb, cb_key, "A CBOR map key is not a text string");
    assert_parse_error (mp, mp_bin, "Binary and extension types have no JSON form");
    assert_parse_error (cb, cb_bin, "CBOR byte strings have no JSON form");
    assert_parse_error (mp, mp_deep, "MessagePack nesting is too deep");
    assert_parse_error (cb, cb_deep, "CBOR nesting is too deep");
  }
}
END_TEST

/* A server that answers in the format it is asked in, through a socket. */
static gboolean
json_echo (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(JsonNode) request = NULL;
  g_autoptr(GError) local = NULL;

  request = udg_client_recv (client, NULL, &local);
  if (request == NULL)
    {
      g_autoptr(JsonNode) reply = json ("{\"error\":\"bad request\"}");

      return udg_client_send_packet (client, reply, error);
    }
  return udg_client_send_packet (client, request, error);
}

START_TEST (test_server_speaks_format)
{
  static const UdgHandlerFuncs funcs = { .handle = json_echo };
  g_autofree gchar *key = udg_base64_serializer_generate_key ();
  g_autoptr(UdgSerializer) j = udg_json_serializer_new ();
  g_autoptr(UdgSerializer) z = udg_compressor_serializer_new (j, UDG_COMPRESSOR_ZLIB, 9, 0, NULL);
  g_autoptr(UdgSerializer) s = udg_base64_serializer_new (z, UDG_BASE64_URLSAFE, UDG_BASE64_CHECKSUM_HMAC_SHA256,
                                                          key, NULL);
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(JsonNode) doc = json ("{\"n\":1,\"s\":\"\xe2\x98\x83\"}");
  g_autoptr(GBytes) wire = udg_serializer_serialize (s, doc, NULL);
  GThread *thread;
  gchar buf[65536];
  gssize n;
  int c = udg_test_socket ("");

  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  ck_assert (udg_test_sendto (c, g_ptr_array_index (addresses, 0), g_bytes_get_data (wire, NULL), g_bytes_get_size (wire)));
  n = udg_test_recv (c, buf, sizeof buf, 3000);
  ck_assert_int_gt (n, 0);
  {
    g_autoptr(GBytes) reply = g_bytes_new (buf, n);
    g_autoptr(JsonNode) back = udg_serializer_deserialize (s, reply, NULL);

    ck_assert (json_node_equal (doc, back));
  }
  /* A forged token: the handler's error reply, and the server goes on. */
  ck_assert (udg_test_send_str (c, g_ptr_array_index (addresses, 0), "Zm9yZ2Vk"));
  n = udg_test_recv (c, buf, sizeof buf, 3000);
  ck_assert_int_gt (n, 0);
  {
    g_autoptr(GBytes) reply = g_bytes_new (buf, n);
    g_autoptr(JsonNode) back = udg_serializer_deserialize (s, reply, NULL);

    ck_assert_str_eq (json_object_get_string_member (json_node_get_object (back), "error"), "bad request");
  }
  udg_server_shutdown (server);
  g_thread_join (thread);
  close (c);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("Serializers");
  TCase *tc = udg_test_tcase_create ("serializers");

  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_json_roundtrip);
  tcase_add_test (tc, test_json_malformed);
  tcase_add_test (tc, test_variant);
  tcase_add_test (tc, test_line);
  tcase_add_test (tc, test_base64);
  tcase_add_test (tc, test_compressors);
  tcase_add_test (tc, test_compositions);
  tcase_add_test (tc, test_msgpack_cbor);
  tcase_add_test (tc, test_server_speaks_format);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
