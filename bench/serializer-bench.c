/* serializer-bench: serialize + deserialize round trips per second for a
 * 1 KiB JSON document, a GVariant tuple, and base64 + HMAC-SHA256 over JSON.
 *
 *   bench/serializer-bench [SECONDS]     (default 1 s per case)
 *
 * Not run by make check: performance is measured here, never in tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <udgram/udgram.h>

static void
run (const gchar *name, UdgSerializer *s, gconstpointer packet, gdouble seconds)
{
  gint64 start = g_get_monotonic_time (), deadline = start + (gint64) (seconds * G_USEC_PER_SEC);
  guint64 n = 0;
  gsize wire_len = 0;

  while (g_get_monotonic_time () < deadline)
    for (int i = 0; i < 100; i++)
      {
        g_autoptr(GBytes) wire = udg_serializer_serialize (s, packet, NULL);
        gpointer back = udg_serializer_deserialize (s, wire, NULL);

        if (back == NULL)
          g_error ("%s: round trip failed", name);
        wire_len = g_bytes_get_size (wire);
        udg_serializer_free_packet (s, back);
        n++;
      }
  printf ("%-28s %9.0f round trips/s  (%zu-byte datagram)\n", name,
          n / ((g_get_monotonic_time () - start) / (gdouble) G_USEC_PER_SEC), wire_len);
}

int
main (int argc, char **argv)
{
  gdouble seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 1.0;
  g_autoptr(GString) doc = g_string_new ("{\"id\":12345,\"items\":[");
  g_autofree gchar *key = udg_base64_serializer_generate_key ();
  g_autoptr(UdgSerializer) json = udg_json_serializer_new ();
  g_autoptr(UdgSerializer) b64 = udg_base64_serializer_new (json, UDG_BASE64_URLSAFE,
                                                            UDG_BASE64_CHECKSUM_HMAC_SHA256, key, NULL);
  g_autoptr(UdgSerializer) variant = udg_variant_serializer_new (G_VARIANT_TYPE ("(uasa{sv})"));
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GVariant) value = NULL;
  GVariantBuilder names, dict;

  /* About 1 KiB of JSON. */
  for (int i = 0; doc->len < 1000; i++)
    g_string_append_printf (doc, "%s{\"n\":%d,\"name\":\"item-%d\",\"ok\":true}", i ? "," : "", i, i);
  g_string_append (doc, "]}");
  node = json_from_string (doc->str, NULL);

  g_variant_builder_init (&names, G_VARIANT_TYPE ("as"));
  g_variant_builder_init (&dict, G_VARIANT_TYPE ("a{sv}"));
  for (int i = 0; i < 20; i++)
    {
      g_autofree gchar *k = g_strdup_printf ("key-%d", i);

      g_variant_builder_add (&names, "s", k);
      g_variant_builder_add (&dict, "{sv}", k, g_variant_new_int32 (i));
    }
  value = g_variant_ref_sink (g_variant_new ("(uasa{sv})", 7, &names, &dict));

  printf ("serializer-bench, %.1f s per case, %s\n", seconds, g_get_host_name ());
  run ("json (1 KiB)", json, node, seconds);
  run ("gvariant (uasa{sv})", variant, value, seconds);
  run ("base64+hmac(json 1 KiB)", b64, node, seconds);
  return 0;
}
