/* EasyNetwork's wire vectors (tests/data/easynetwork-serializers.json):
 * every valid datagram deserializes to its value, every byte_exact row
 * serializes to exactly its datagram, every invalid datagram is a parse
 * error of the same kind.  Rows for serializers this build lacks are
 * reported as skipped, with the reason, never passed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <stdio.h>
#include <string.h>

static JsonNode *vectors;
static const gchar *key;

/* Builds a serializer from a stack name such as
 * "base64(zlib(json),checksum=key)"; NULL with *why for an unsupported one. */
static UdgSerializer *
build (const gchar *stack, const gchar **why)
{
  g_autofree gchar *name = NULL;
  g_autofree gchar *inside = NULL;
  g_autofree gchar *option = NULL;
  const gchar *open = strchr (stack, '(');

  if (open == NULL)
    name = g_strdup (stack);
  else
    {
      gint depth = 0;
      const gchar *comma = NULL;
      const gchar *close = NULL;

      name = g_strndup (stack, open - stack);
      for (const gchar *p = open; *p != '\0'; p++)
        {
          if (*p == '(')
            depth++;
          else if (*p == ')' && --depth == 0)
            {
              close = p;
              break;
            }
          else if (*p == ',' && depth == 1 && comma == NULL)
            comma = p;
        }
      g_assert (close != NULL);
      inside = g_strndup (open + 1, (comma != NULL ? comma : close) - open - 1);
      if (comma != NULL)
        option = g_strndup (comma + 1, close - comma - 1);
    }

  if (g_str_equal (name, "json"))
    return udg_json_serializer_new ();
  if (g_str_equal (name, "bytes"))
    return udg_bytes_serializer_new ();
  if (g_str_equal (name, "line"))
    return udg_line_serializer_new (g_str_equal (inside, "LF") ? UDG_NEWLINE_LF : UDG_NEWLINE_CRLF,
                                    option, FALSE, NULL);
  if (g_str_equal (name, "msgpack") || g_str_equal (name, "cbor"))
    {
      UdgSerializer *s = g_str_equal (name, "msgpack") ? udg_msgpack_serializer_new (NULL)
                                                        : udg_cbor_serializer_new (NULL);

      if (s == NULL)
        *why = "this build has no such serializer (configure found no msgpack-c or libcbor)";
      return s;
    }
  if (g_str_equal (name, "bz2") && !udg_compressor_is_supported (UDG_COMPRESSOR_BZ2))
    {
      *why = "this build has no bz2 compressor (configure found no libbz2)";
      return NULL;
    }
  {
    g_autoptr(UdgSerializer) inner = build (inside, why);

    if (inner == NULL)
      return NULL;
    if (g_str_equal (name, "zlib"))
      return udg_compressor_serializer_new (inner, UDG_COMPRESSOR_ZLIB, 9, 0, NULL);
    if (g_str_equal (name, "bz2"))
      return udg_compressor_serializer_new (inner, UDG_COMPRESSOR_BZ2, 9, 0, NULL);
    if (g_str_equal (name, "base64") || g_str_equal (name, "base64-standard"))
      {
        UdgBase64Checksum checksum = UDG_BASE64_CHECKSUM_NONE;
        UdgBase64Alphabet alphabet = g_str_equal (name, "base64") ? UDG_BASE64_URLSAFE : UDG_BASE64_STANDARD;

        if (option != NULL && g_str_equal (option, "checksum=sha256"))
          checksum = UDG_BASE64_CHECKSUM_SHA256;
        else if (option != NULL && g_str_equal (option, "checksum=key"))
          checksum = UDG_BASE64_CHECKSUM_HMAC_SHA256;
        return udg_base64_serializer_new (inner, alphabet, checksum, key, NULL);
      }
  }
  ck_abort_msg ("unknown stack %s", stack);
  return NULL;
}

static GBytes *
b64 (JsonObject *row, const gchar *member)
{
  gsize len;
  guchar *data = g_base64_decode (json_object_get_string_member (row, member), &len);

  return g_bytes_new_take (data, len);
}

static gboolean
is_bytes_stack (const gchar *stack)
{
  return strstr (stack, "(bytes") != NULL;
}

START_TEST (test_valid_rows)
{
  JsonArray *rows = json_object_get_array_member (json_node_get_object (vectors), "valid");
  guint passed = 0, skipped = 0, exact = 0;

  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      const gchar *stack = json_object_get_string_member (row, "stack");
      const gchar *why = NULL;
      g_autoptr(UdgSerializer) s = build (stack, &why);
      g_autoptr(GBytes) datagram = b64 (row, "datagram");
      g_autoptr(GError) error = NULL;
      gpointer packet;

      if (s == NULL)
        {
          printf ("SKIP valid row %u (%s): %s\n", i, stack, why);
          skipped++;
          continue;
        }
      packet = udg_serializer_deserialize (s, datagram, &error);
      ck_assert_msg (packet != NULL, "row %u (%s): %s", i, stack, error ? error->message : "");
      if (is_bytes_stack (stack))
        {
          g_autoptr(GBytes) expected = b64 (row, "packet_bytes");

          ck_assert_msg (g_bytes_equal (packet, expected), "row %u (%s): wrong bytes", i, stack);
        }
      else if (g_str_has_prefix (stack, "line"))
        ck_assert_str_eq (packet, json_object_get_string_member (row, "packet"));
      else
        ck_assert_msg (json_node_equal (packet, json_object_get_member (row, "packet")),
                       "row %u (%s): wrong value", i, stack);

      if (json_object_has_member (row, "byte_exact") && json_object_get_boolean_member (row, "byte_exact"))
        {
          g_autoptr(GBytes) out = udg_serializer_serialize (s, packet, &error);

          ck_assert_msg (out != NULL && g_bytes_equal (out, datagram), "row %u (%s): not byte-exact", i, stack);
          exact++;
        }
      else if (!(json_object_has_member (row, "receive_only") && json_object_get_boolean_member (row, "receive_only")))
        {
          /* Not byte-exact: what we send must still read back the same. */
          g_autoptr(GBytes) out = udg_serializer_serialize (s, packet, &error);
          gpointer again;

          ck_assert_msg (out != NULL, "row %u (%s): %s", i, stack, error ? error->message : "");
          again = udg_serializer_deserialize (s, out, NULL);
          ck_assert_ptr_nonnull (again);
          udg_serializer_free_packet (s, again);
        }
      udg_serializer_free_packet (s, packet);
      passed++;
    }
  printf ("valid rows: %u passed (%u byte-exact), %u skipped\n", passed, exact, skipped);
  ck_assert_uint_gt (passed, 0);
}
END_TEST

START_TEST (test_invalid_rows)
{
  JsonArray *rows = json_object_get_array_member (json_node_get_object (vectors), "invalid");
  guint passed = 0, skipped = 0;

  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      const gchar *stack = json_object_get_string_member (row, "stack");
      const gchar *expected = json_object_get_string_member (row, "error");
      const gchar *why = NULL;
      g_autoptr(UdgSerializer) s = build (stack, &why);
      g_autoptr(GBytes) datagram = b64 (row, "datagram");
      g_autoptr(GError) error = NULL;
      gpointer packet;
      const gchar *kinds[] = { "Invalid token", "Compressed data ended before the end-of-stream marker was reached",
                               "Trailing data error", "JSON decode error", "Unicode decode error",
                               "Error -3 while decompressing data" };

      if (s == NULL)
        {
          printf ("SKIP invalid row %u (%s): %s\n", i, stack, why);
          skipped++;
          continue;
        }
      packet = udg_serializer_deserialize (s, datagram, &error);
      ck_assert_msg (packet == NULL, "row %u (%s) was accepted", i, stack);
      ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE));
      /* The same class of error as EasyNetwork's. */
      for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
        if (g_str_has_prefix (expected, kinds[k]))
          ck_assert_msg (g_str_has_prefix (error->message, kinds[k]), "row %u (%s): '%s' for '%s'",
                         i, stack, error->message, expected);
      passed++;
    }
  printf ("invalid rows: %u passed, %u skipped\n", passed, skipped);
  ck_assert_uint_gt (passed, 0);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("EasyNetwork vectors");
  TCase *tc = udg_test_tcase_create ("vectors");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const gchar *srcdir = g_getenv ("top_srcdir");
  g_autofree gchar *path = g_build_filename (srcdir ? srcdir : ".", "tests", "data",
                                             "easynetwork-serializers.json", NULL);

  if (!json_parser_load_from_file (parser, path, &error))
    {
      fprintf (stderr, "%s: %s\n", path, error->message);
      return 1;
    }
  vectors = json_parser_get_root (parser);
  key = json_object_get_string_member (json_node_get_object (vectors), "key");
  tcase_add_test (tc, test_valid_rows);
  tcase_add_test (tc, test_invalid_rows);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
