/* UdgSerializer and UdgProtocol: the bytes and ASCII serializers, converters,
 * and how failures are reported.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <stdio.h>
#include <string.h>

START_TEST (test_bytes_roundtrip)
{
  g_autoptr(UdgSerializer) s = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(GBytes) in = g_bytes_new ("\0\1\2", 3);
  g_autoptr(GBytes) wire = udg_protocol_make_datagram (p, in, NULL);
  GBytes *out = udg_protocol_build_packet_from_datagram (p, wire, NULL);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  GBytes *out2 = udg_protocol_build_packet_from_datagram (p, empty, NULL);

  ck_assert (g_bytes_equal (in, wire));
  ck_assert (g_bytes_equal (in, out));
  ck_assert_ptr_nonnull (out2); /* an empty datagram is a packet, not EOF */
  ck_assert_uint_eq (g_bytes_get_size (out2), 0);
  udg_protocol_free_packet (p, out);
  udg_protocol_free_packet (p, out2);
  ck_assert_ptr_eq (udg_protocol_get_serializer (p), s);
}
END_TEST

START_TEST (test_ascii)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(GBytes) wire = udg_protocol_make_datagram (p, "hello", NULL);
  g_autoptr(GBytes) bad = g_bytes_new ("\xe9", 1);
  g_autoptr(GError) error = NULL;
  gchar *text;

  ck_assert_uint_eq (g_bytes_get_size (wire), 5);
  text = udg_protocol_build_packet_from_datagram (p, wire, NULL);
  ck_assert_str_eq (text, "hello");
  udg_protocol_free_packet (p, text);

  ck_assert_ptr_null (udg_protocol_build_packet_from_datagram (p, bad, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE));
  ck_assert (g_str_has_prefix (error->message, "Error while parsing data: "));
  ck_assert_ptr_nonnull (strstr (error->message, "0xe9"));
  g_clear_error (&error);

  /* Sending non-ASCII: the protocol "crashed". */
  ck_assert_ptr_null (udg_protocol_make_datagram (p, "caf\xc3\xa9", &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_FAILED));
  ck_assert (g_str_has_prefix (error->message, "protocol.make_datagram() crashed"));
}
END_TEST

/* A deserializer failing with something other than a parse error. */
static GBytes *
crash_ser (gconstpointer p, gpointer d, GError **e)
{
  g_set_error_literal (e, G_IO_ERROR, G_IO_ERROR_FAILED, "CRASH");
  return NULL;
}

static gpointer
crash_de (GBytes *b, gpointer d, GError **e)
{
  g_set_error_literal (e, G_IO_ERROR, G_IO_ERROR_FAILED, "CRASH");
  return NULL;
}

static void
free_packet (gpointer packet, gpointer d)
{
  g_free (packet);
}

static gpointer
silent_de (GBytes *b, gpointer d, GError **e)
{
  return NULL;
}

START_TEST (test_crashes)
{
  static const UdgSerializerFuncs crash = { crash_ser, crash_de, free_packet, { NULL } };
  static const UdgSerializerFuncs silent = { crash_ser, silent_de, free_packet, { NULL } };
  g_autoptr(UdgSerializer) s = udg_serializer_new (&crash, NULL, NULL);
  g_autoptr(UdgSerializer) s2 = udg_serializer_new (&silent, NULL, NULL);
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgProtocol) p2 = udg_protocol_new (s2);
  g_autoptr(GBytes) wire = g_bytes_new ("x", 1);
  g_autoptr(GError) error = NULL;

  ck_assert_ptr_null (udg_protocol_build_packet_from_datagram (p, wire, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_FAILED));
  ck_assert_str_eq (error->message, "protocol.build_packet_from_datagram() crashed (caused by: CRASH)");
  g_clear_error (&error);
  ck_assert_ptr_null (udg_protocol_make_datagram (p, "x", &error));
  ck_assert_str_eq (error->message, "protocol.make_datagram() crashed (caused by: CRASH)");
  g_clear_error (&error);
  ck_assert_ptr_null (udg_protocol_build_packet_from_datagram (p2, wire, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_FAILED));
}
END_TEST

/* A converter: wire text "x,y" <-> a C struct. */
typedef struct { gint x, y; } Point;

static gpointer
point_to_dto (gconstpointer packet, gpointer d, GError **e)
{
  const Point *pt = packet;

  return g_strdup_printf ("%d,%d", pt->x, pt->y);
}

static gpointer
point_from_dto (gconstpointer dto, gpointer d, GError **e)
{
  Point *pt = g_new0 (Point, 1);

  if (sscanf (dto, "%d,%d", &pt->x, &pt->y) != 2)
    {
      g_free (pt);
      g_set_error (e, UDG_ERROR, UDG_ERROR_PARSE, "not a point: %s", (const gchar *) dto);
      return NULL;
    }
  return pt;
}

static void
point_free (gpointer packet, gpointer d)
{
  g_free (packet);
}

START_TEST (test_converter)
{
  static const UdgConverterFuncs conv = { point_to_dto, point_from_dto, point_free, { NULL } };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new_with_converter (s, &conv, NULL, NULL);
  Point in = { 3, -4 };
  g_autoptr(GBytes) wire = udg_protocol_make_datagram (p, &in, NULL);
  g_autoptr(GBytes) bad = g_bytes_new ("nope", 4);
  g_autoptr(GError) error = NULL;
  Point *out;

  ck_assert_mem_eq (g_bytes_get_data (wire, NULL), "3,-4", 4);
  out = udg_protocol_build_packet_from_datagram (p, wire, NULL);
  ck_assert_int_eq (out->x, 3);
  ck_assert_int_eq (out->y, -4);
  udg_protocol_free_packet (p, out);
  ck_assert_ptr_null (udg_protocol_build_packet_from_datagram (p, bad, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE));
  ck_assert_str_eq (error->message, "Error while parsing data: not a point: nope");
}
END_TEST

static int destroyed;

static void
count_destroy (gpointer data)
{
  destroyed++;
}

START_TEST (test_refcount_and_destroy)
{
  static const UdgSerializerFuncs funcs = { crash_ser, crash_de, free_packet, { NULL } };
  UdgSerializer *s = udg_serializer_new (&funcs, &destroyed, count_destroy);
  UdgProtocol *p = udg_protocol_new (s);

  destroyed = 0;
  udg_serializer_unref (s);
  ck_assert_int_eq (destroyed, 0); /* the protocol holds it */
  udg_protocol_ref (p);
  udg_protocol_unref (p);
  udg_protocol_unref (p);
  ck_assert_int_eq (destroyed, 1);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgProtocol");
  TCase *tc = udg_test_tcase_create ("core");

  tcase_add_test (tc, test_bytes_roundtrip);
  tcase_add_test (tc, test_ascii);
  tcase_add_test (tc, test_crashes);
  tcase_add_test (tc, test_converter);
  tcase_add_test (tc, test_refcount_and_destroy);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
