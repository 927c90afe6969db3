/* custom-serializer: plugging your own wire format into udgram with a
 * UdgSerializerFuncs table.  The format here: "KEY=VALUE" lines, as in
 * sd_notify messages, as a GHashTable.  The deserializer faces untrusted
 * bytes: it must return a UDG_ERROR_PARSE error for anything malformed and
 * never crash, whatever it is given.
 */
#include <stdio.h>
#include <string.h>
#include <udgram/udgram.h>

static GBytes *
kv_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  GHashTable *table = (GHashTable *) packet;
  GString *out = g_string_new (NULL);
  g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (table), (GCompareFunc) strcmp);

  for (GList *l = keys; l != NULL; l = l->next)
    g_string_append_printf (out, "%s=%s\n", (const gchar *) l->data,
                            (const gchar *) g_hash_table_lookup (table, l->data));
  return g_string_free_to_bytes (out);
}

static gpointer
kv_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  gsize len;
  const gchar *data = g_bytes_get_data (datagram, &len);
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *table;

  if (len == 0 || memchr (data, '\0', len) != NULL || !g_utf8_validate_len (data, len, NULL))
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, "not UTF-8 text without NUL");
      return NULL;
    }
  text = g_strndup (data, len);
  lines = g_strsplit (text, "\n", -1);
  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *eq = strchr (lines[i], '=');

      if (lines[i][0] == '\0')
        continue;
      if (eq == NULL || eq == lines[i])
        {
          g_set_error (error, UDG_ERROR, UDG_ERROR_PARSE, "line %u is not KEY=VALUE", i + 1);
          g_hash_table_unref (table);
          return NULL;
        }
      g_hash_table_replace (table, g_strndup (lines[i], eq - lines[i]), g_strdup (eq + 1));
    }
  return table;
}

static void
kv_free (gpointer packet, gpointer user_data)
{
  g_hash_table_unref (packet);
}

static const UdgSerializerFuncs kv_funcs = { kv_serialize, kv_deserialize, kv_free, { NULL } };

int
main (void)
{
  g_autoptr(UdgSerializer) kv = udg_serializer_new (&kv_funcs, NULL, NULL);
  g_autoptr(GBytes) good = g_bytes_new_static ("READY=1\nSTATUS=warming up\n", 26);
  g_autoptr(GBytes) bad = g_bytes_new_static ("READY\n", 6);
  g_autoptr(GError) error = NULL;
  GHashTable *table = udg_serializer_deserialize (kv, good, NULL);
  g_autoptr(GBytes) again = udg_serializer_serialize (kv, table, NULL);

  printf ("READY=%s STATUS=%s\n", (const gchar *) g_hash_table_lookup (table, "READY"),
          (const gchar *) g_hash_table_lookup (table, "STATUS"));
  printf ("serialized back: %zu bytes\n", g_bytes_get_size (again));
  udg_serializer_free_packet (kv, table);
  if (udg_serializer_deserialize (kv, bad, &error) == NULL)
    printf ("refused: %s\n", error->message);
  return 0;
}
