/* udgram - MessagePack <-> JsonNode (msgpack-c), when configure found it
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>
#ifdef HAVE_MSGPACK
#include <msgpack.h>
#endif

#define MAX_DEPTH 256

static void
set_parse (GError **error, const gchar *what)
{
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, what);
}

#ifdef HAVE_MSGPACK

/* msgpack-c allocates as many objects as a container claims: a 5-byte
 * datagram could ask for 4 billion.  One pass first checks that every
 * claimed count and length fits in what is left, and the nesting depth;
 * it also finds the end of the first object (anything after is "Extra data
 * caught"). */
static gboolean
check (const guint8 *p, gsize len, gsize *pos, gint depth, GError **error)
{
  guint64 n = 0, skip = 0;
  gboolean map = FALSE, container = FALSE;
  guint8 b;

  if (depth > MAX_DEPTH)
    {
      set_parse (error, _("MessagePack nesting is too deep"));
      return FALSE;
    }
  if (*pos >= len)
    {
      set_parse (error, _("Missing data to create packet"));
      return FALSE;
    }
  b = p[(*pos)++];

#define NEED(k)                                                       \
  G_STMT_START                                                        \
  {                                                                   \
    if (len - *pos < (k))                                             \
      {                                                               \
        set_parse (error, _("Missing data to create packet"));        \
        return FALSE;                                                 \
      }                                                               \
  }                                                                   \
  G_STMT_END

  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
    return TRUE;
  if (b >= 0x80 && b <= 0x8f)
    n = b & 0x0f, map = container = TRUE;
  else if (b >= 0x90 && b <= 0x9f)
    n = b & 0x0f, container = TRUE;
  else if (b >= 0xa0 && b <= 0xbf)
    skip = b & 0x1f;
  else
    {
      static const guint8 sizes[] = {
        /* c4 bin8 */ 1, 2, 4, /* c7 ext8 */ 1, 2, 4, /* ca */ 4, 8, /* cc */ 1, 2, 4, 8,
        /* d0 */ 1, 2, 4, 8, /* d4 fixext */ 2, 3, 5, 9, 17, /* d9 str8 */ 1, 2, 4,
        /* dc */ 2, 4, /* de */ 2, 4,
      };
      guint k;
      guint64 v;

      if (b == 0xc1)
        {
          set_parse (error, _("Invalid MessagePack type byte 0xc1"));
          return FALSE;
        }
      k = sizes[b - 0xc4];
      NEED (k);
      switch (b)
        {
        case 0xc4: case 0xc5: case 0xc6: case 0xd9: case 0xda: case 0xdb:
          v = 0;
          for (guint i = 0; i < k; i++)
            v = (v << 8) | p[*pos + i];
          *pos += k;
          skip = v;
          break;
        case 0xc7: case 0xc8: case 0xc9:
          v = 0;
          for (guint i = 0; i < k; i++)
            v = (v << 8) | p[*pos + i];
          *pos += k;
          skip = v + 1;
          break;
        case 0xdc: case 0xdd: case 0xde: case 0xdf:
          v = 0;
          for (guint i = 0; i < k; i++)
            v = (v << 8) | p[*pos + i];
          *pos += k;
          n = v;
          container = TRUE;
          map = b >= 0xde;
          break;
        default:
          *pos += k;
          return TRUE;
        }
    }
  if (skip > 0)
    {
      NEED (skip);
      *pos += skip;
      return TRUE;
    }
  if (container)
    {
      /* Each element takes a byte at least. */
      if (n > (len - *pos) / (map ? 2 : 1))
        {
          set_parse (error, _("Missing data to create packet"));
          return FALSE;
        }
      for (guint64 i = 0; i < n * (map ? 2 : 1); i++)
        if (!check (p, len, pos, depth + 1, error))
          return FALSE;
    }
  return TRUE;
#undef NEED
}

static JsonNode *
to_json (const msgpack_object *o, GError **error)
{
  JsonNode *node = NULL;

  switch (o->type)
    {
    case MSGPACK_OBJECT_NIL:
      return json_node_new (JSON_NODE_NULL);
    case MSGPACK_OBJECT_BOOLEAN:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, o->via.boolean);
      return node;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      if (o->via.u64 > G_MAXINT64)
        {
          set_parse (error, _("The integer does not fit in 64 signed bits"));
          return NULL;
        }
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, (gint64) o->via.u64);
      return node;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, o->via.i64);
      return node;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_double (node, o->via.f64);
      return node;
    case MSGPACK_OBJECT_STR:
      {
        g_autofree gchar *text = NULL;

        if (o->via.str.size > 0 &&
            (memchr (o->via.str.ptr, '\0', o->via.str.size) != NULL ||
             !g_utf8_validate_len (o->via.str.ptr, o->via.str.size, NULL)))
          {
            set_parse (error, _("A MessagePack string is not valid UTF-8"));
            return NULL;
          }
        text = o->via.str.size > 0 ? g_strndup (o->via.str.ptr, o->via.str.size) : g_strdup ("");
        node = json_node_new (JSON_NODE_VALUE);
        json_node_set_string (node, text);
        return node;
      }
    case MSGPACK_OBJECT_ARRAY:
      {
        JsonArray *array = json_array_sized_new (o->via.array.size);

        for (guint32 i = 0; i < o->via.array.size; i++)
          {
            JsonNode *item = to_json (&o->via.array.ptr[i], error);

            if (item == NULL)
              {
                json_array_unref (array);
                return NULL;
              }
            json_array_add_element (array, item);
          }
        node = json_node_new (JSON_NODE_ARRAY);
        json_node_take_array (node, array);
        return node;
      }
    case MSGPACK_OBJECT_MAP:
      {
        JsonObject *object = json_object_new ();

        for (guint32 i = 0; i < o->via.map.size; i++)
          {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            g_autofree gchar *key = NULL;
            JsonNode *value;

            if (kv->key.type != MSGPACK_OBJECT_STR ||
                (kv->key.via.str.size > 0 &&
                 (memchr (kv->key.via.str.ptr, '\0', kv->key.via.str.size) != NULL ||
                  !g_utf8_validate_len (kv->key.via.str.ptr, kv->key.via.str.size, NULL))))
              {
                json_object_unref (object);
                set_parse (error, _("A MessagePack map key is not a UTF-8 string"));
                return NULL;
              }
            value = to_json (&kv->val, error);
            if (value == NULL)
              {
                json_object_unref (object);
                return NULL;
              }
            key = kv->key.via.str.size > 0 ? g_strndup (kv->key.via.str.ptr, kv->key.via.str.size) : g_strdup ("");
            json_object_set_member (object, key, value);
          }
        node = json_node_new (JSON_NODE_OBJECT);
        json_node_take_object (node, object);
        return node;
      }
    case MSGPACK_OBJECT_BIN:
    case MSGPACK_OBJECT_EXT:
    default:
      set_parse (error, _("Binary and extension types have no JSON form"));
      return NULL;
    }
}

static gpointer
udg_msgpack_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  gsize len, pos = 0, off = 0;
  const guint8 *data = g_bytes_get_data (datagram, &len);
  msgpack_unpacked result;
  JsonNode *node;

  if (!check (data, len, &pos, 0, error))
    return NULL;
  if (pos != len)
    {
      set_parse (error, _("Extra data caught"));
      return NULL;
    }
  msgpack_unpacked_init (&result);
  if (msgpack_unpack_next (&result, (const char *) data, len, &off) != MSGPACK_UNPACK_SUCCESS)
    {
      msgpack_unpacked_destroy (&result);
      set_parse (error, _("Malformed MessagePack data"));
      return NULL;
    }
  node = to_json (&result.data, error);
  msgpack_unpacked_destroy (&result);
  return node;
}

static gboolean
pack (msgpack_packer *pk, JsonNode *node, GError **error)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      return msgpack_pack_nil (pk) == 0;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        msgpack_pack_array (pk, n);
        for (guint i = 0; i < n; i++)
          if (!pack (pk, json_array_get_element (array, i), error))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const gchar *key;
        JsonNode *value;

        msgpack_pack_map (pk, json_object_get_size (object));
        json_object_iter_init_ordered (&iter, object);
        while (json_object_iter_next_ordered (&iter, &key, &value))
          {
            msgpack_pack_str_with_body (pk, key, strlen (key));
            if (!pack (pk, value, error))
              return FALSE;
          }
        return TRUE;
      }
    case JSON_NODE_VALUE:
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_BOOLEAN:
          return (json_node_get_boolean (node) ? msgpack_pack_true (pk) : msgpack_pack_false (pk)) == 0;
        case G_TYPE_INT64:
          return msgpack_pack_int64 (pk, json_node_get_int (node)) == 0;
        case G_TYPE_DOUBLE:
          return msgpack_pack_double (pk, json_node_get_double (node)) == 0;
        case G_TYPE_STRING:
          {
            const gchar *s = json_node_get_string (node);

            return msgpack_pack_str_with_body (pk, s, strlen (s)) == 0;
          }
        default:
          g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT, _("A JSON value of an unknown type"));
          return FALSE;
        }
    }
}

static GBytes *
udg_msgpack_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  msgpack_sbuffer buffer;
  msgpack_packer pk;

  msgpack_sbuffer_init (&buffer);
  msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
  if (!pack (&pk, (JsonNode *) packet, error))
    {
      msgpack_sbuffer_destroy (&buffer);
      return NULL;
    }
  return g_bytes_new_with_free_func (buffer.data, buffer.size, free, buffer.data);
}

static void
json_free (gpointer packet, gpointer user_data)
{
  json_node_unref (packet);
}
#endif

/**
 * udg_msgpack_serializer_new:
 * @error: return location for a #GError
 *
 * A MessagePack serializer (EasyNetwork's `MessagePackSerializer`) whose
 * packets are json-glib `JsonNode` trees, so that a handler can switch
 * between JSON and MessagePack without changing its code.  Maps need string
 * keys; binary and extension types are refused (they have no JSON form).
 * Malformed input is %UDG_ERROR_PARSE ("Missing data to create packet",
 * "Extra data caught", …); containers claiming more items than the datagram
 * holds are refused before anything is allocated.
 *
 * Returns: (transfer full) (nullable): a new #UdgSerializer, or %NULL with
 *   %UDG_ERROR_UNSUPPORTED when udgram was built without msgpack-c
 *
 * Since: 0.1
 */
UdgSerializer *
udg_msgpack_serializer_new (GError **error)
{
#ifdef HAVE_MSGPACK
  static const UdgSerializerFuncs funcs = {
    udg_msgpack_serialize, udg_msgpack_deserialize, json_free, { NULL, },
  };

  return udg_serializer_new (&funcs, NULL, NULL);
#else
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_UNSUPPORTED, _("This build of udgram has no MessagePack serializer"));
  (void) set_parse;
  return NULL;
#endif
}
