/* udgram - CBOR <-> JsonNode (libcbor), when configure found it
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>
#ifdef HAVE_CBOR
#include <cbor.h>
#endif

#define MAX_DEPTH 256

#ifdef HAVE_CBOR

/* Decoding goes through libcbor's streaming decoder, one item header at a
 * time, so that nothing is allocated from what a datagram claims; the
 * callbacks build the JsonNode tree on a stack of open containers. */
typedef struct
{
  JsonNode *node;       /* (owned) array or object */
  guint64 remaining;    /* items (map: keys and values) left; G_MAXUINT64 if indefinite */
  gchar *key;           /* (owned) (nullable): a map key waiting for its value */
} Frame;

typedef struct
{
  GArray *stack;        /* (element-type Frame) */
  JsonNode *root;       /* (owned) (nullable): the finished item */
  GString *chunks;      /* (owned) (nullable): an indefinite string being joined */
  gsize left;           /* bytes left in the datagram, to check claimed sizes */
  gchar *error;         /* (owned) (nullable): the first error */
} Decoder;

static void
fail (Decoder *d, const gchar *message)
{
  if (d->error == NULL)
    d->error = g_strdup (message);
}

static void
frame_clear (gpointer data)
{
  Frame *f = data;

  g_clear_pointer (&f->node, json_node_unref);
  g_clear_pointer (&f->key, g_free);
}

/* A complete item: into the open container, or the root. */
static void
emit (Decoder *d, JsonNode *node)
{
  Frame *top;

  if (d->error != NULL)
    {
      json_node_unref (node);
      return;
    }
  while (TRUE)
    {
      if (d->stack->len == 0)
        {
          if (d->root != NULL)
            json_node_unref (d->root);
          d->root = node;
          return;
        }
      top = &g_array_index (d->stack, Frame, d->stack->len - 1);
      if (JSON_NODE_HOLDS_OBJECT (top->node))
        {
          if (top->key == NULL)
            {
              if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
                {
                  fail (d, _("A CBOR map key is not a text string"));
                  json_node_unref (node);
                  return;
                }
              top->key = g_strdup (json_node_get_string (node));
              json_node_unref (node);
            }
          else
            {
              json_object_set_member (json_node_get_object (top->node), top->key, node);
              g_clear_pointer (&top->key, g_free);
            }
        }
      else
        json_array_add_element (json_node_get_array (top->node), node);
      if (top->remaining != G_MAXUINT64 && --top->remaining == 0)
        {
          /* The container is complete: it is now an item of its parent. */
          node = g_steal_pointer (&top->node);
          g_array_set_size (d->stack, d->stack->len - 1);
          continue;
        }
      return;
    }
}

static void
open_container (Decoder *d, gboolean map, guint64 count)
{
  Frame f = { NULL, count, NULL };

  if (d->stack->len >= MAX_DEPTH)
    {
      fail (d, _("CBOR nesting is too deep"));
      return;
    }
  if (count != G_MAXUINT64 && count > d->left)
    {
      fail (d, _("Missing data to create packet"));
      return;
    }
  if (map)
    {
      f.node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (f.node, json_object_new ());
      if (count != G_MAXUINT64)
        f.remaining = count * 2;
    }
  else
    {
      f.node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (f.node, json_array_new ());
    }
  if (count == 0)
    emit (d, f.node);
  else
    g_array_append_val (d->stack, f);
}

static void
emit_int (Decoder *d, gint64 v)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_int (node, v);
  emit (d, node);
}

static void cb_uint8 (void *c, uint8_t v) { emit_int (c, v); }
static void cb_uint16 (void *c, uint16_t v) { emit_int (c, v); }
static void cb_uint32 (void *c, uint32_t v) { emit_int (c, v); }
static void cb_negint8 (void *c, uint8_t v) { emit_int (c, -1 - (gint64) v); }
static void cb_negint16 (void *c, uint16_t v) { emit_int (c, -1 - (gint64) v); }
static void cb_negint32 (void *c, uint32_t v) { emit_int (c, -1 - (gint64) v); }

static void
cb_uint64 (void *c, uint64_t v)
{
  if (v > G_MAXINT64)
    fail (c, _("The integer does not fit in 64 signed bits"));
  else
    emit_int (c, (gint64) v);
}

static void
cb_negint64 (void *c, uint64_t v)
{
  if (v > G_MAXINT64)
    fail (c, _("The integer does not fit in 64 signed bits"));
  else
    emit_int (c, -1 - (gint64) v);
}

static void
emit_text (Decoder *d, const gchar *text, gsize len)
{
  g_autofree gchar *copy = NULL;
  JsonNode *node;

  if (len > 0 && (memchr (text, '\0', len) != NULL || !g_utf8_validate_len (text, len, NULL)))
    {
      fail (d, _("A CBOR text string is not valid UTF-8"));
      return;
    }
  copy = len > 0 ? g_strndup (text, len) : g_strdup ("");
  node = json_node_new (JSON_NODE_VALUE);
  json_node_set_string (node, copy);
  emit (d, node);
}

static void
cb_string (void *c, cbor_data data, size_t len)
{
  Decoder *d = c;

  if (d->chunks != NULL)
    g_string_append_len (d->chunks, (const gchar *) data, len);
  else
    emit_text (d, (const gchar *) data, len);
}

static void
cb_string_start (void *c)
{
  Decoder *d = c;

  if (d->chunks != NULL)
    fail (d, _("Malformed CBOR string"));
  else
    d->chunks = g_string_new (NULL);
}

static void
cb_bytes (void *c, cbor_data data, size_t len)
{
  fail (c, _("CBOR byte strings have no JSON form"));
}

static void
cb_bytes_start (void *c)
{
  fail (c, _("CBOR byte strings have no JSON form"));
}

static void cb_array (void *c, size_t n) { open_container (c, FALSE, n); }
static void cb_indef_array (void *c) { open_container (c, FALSE, G_MAXUINT64); }
static void cb_map (void *c, size_t n) { open_container (c, TRUE, n); }
static void cb_indef_map (void *c) { open_container (c, TRUE, G_MAXUINT64); }
static void cb_tag (void *c, uint64_t tag) { /* the tagged item stands for itself */ }

static void
emit_double (Decoder *d, gdouble v)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_double (node, v);
  emit (d, node);
}

static void cb_float (void *c, float v) { emit_double (c, v); }
static void cb_double (void *c, double v) { emit_double (c, v); }
static void cb_null (void *c) { emit (c, json_node_new (JSON_NODE_NULL)); }

static void
cb_bool (void *c, bool v)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_boolean (node, v);
  emit (c, node);
}

static void
cb_break (void *c)
{
  Decoder *d = c;
  Frame *top;
  JsonNode *node;

  if (d->chunks != NULL)
    {
      g_autoptr(GString) s = g_steal_pointer (&d->chunks);

      emit_text (d, s->str, s->len);
      return;
    }
  if (d->stack->len == 0)
    {
      fail (d, _("Malformed CBOR data"));
      return;
    }
  top = &g_array_index (d->stack, Frame, d->stack->len - 1);
  if (top->remaining != G_MAXUINT64 || top->key != NULL)
    {
      fail (d, _("Malformed CBOR data"));
      return;
    }
  node = g_steal_pointer (&top->node);
  g_array_set_size (d->stack, d->stack->len - 1);
  emit (d, node);
}

static const struct cbor_callbacks callbacks = {
  .uint8 = cb_uint8, .uint16 = cb_uint16, .uint32 = cb_uint32, .uint64 = cb_uint64,
  .negint8 = cb_negint8, .negint16 = cb_negint16, .negint32 = cb_negint32, .negint64 = cb_negint64,
  .byte_string_start = cb_bytes_start, .byte_string = cb_bytes,
  .string = cb_string, .string_start = cb_string_start,
  .indef_array_start = cb_indef_array, .array_start = cb_array,
  .indef_map_start = cb_indef_map, .map_start = cb_map,
  .tag = cb_tag, .float2 = cb_float, .float4 = cb_float, .float8 = cb_double,
  .undefined = cb_null, .null = cb_null, .boolean = cb_bool, .indef_break = cb_break,
};

static gpointer
udg_cbor_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  Decoder d = { NULL, NULL, NULL, 0, NULL };
  gsize len, pos = 0;
  const guint8 *data = g_bytes_get_data (datagram, &len);
  JsonNode *root = NULL;

  d.stack = g_array_new (FALSE, FALSE, sizeof (Frame));
  g_array_set_clear_func (d.stack, frame_clear);
  while (d.error == NULL && (d.root == NULL || d.stack->len > 0 || d.chunks != NULL))
    {
      struct cbor_decoder_result r;

      if (pos >= len)
        {
          fail (&d, _("Missing data to create packet"));
          break;
        }
      d.left = len - pos;
      r = cbor_stream_decode (data + pos, len - pos, &callbacks, &d);
      if (r.status == CBOR_DECODER_NEDATA)
        fail (&d, _("Missing data to create packet"));
      else if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
        fail (&d, _("Malformed CBOR data"));
      pos += r.read;
    }
  if (d.error == NULL && pos != len)
    fail (&d, _("Extra data caught"));
  if (d.error != NULL)
    g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, d.error);
  else
    root = g_steal_pointer (&d.root);
  g_clear_pointer (&d.root, json_node_unref);
  if (d.chunks != NULL)
    g_string_free (d.chunks, TRUE);
  g_array_unref (d.stack);
  g_free (d.error);
  return root;
}

static cbor_item_t *
to_cbor (JsonNode *node, GError **error)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      return cbor_new_null ();
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        cbor_item_t *item = cbor_new_definite_array (n);

        for (guint i = 0; i < n; i++)
          {
            cbor_item_t *child = to_cbor (json_array_get_element (array, i), error);

            if (child == NULL)
              {
                cbor_decref (&item);
                return NULL;
              }
            cbor_array_push (item, cbor_move (child));
          }
        return item;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        cbor_item_t *item = cbor_new_definite_map (json_object_get_size (object));
        JsonObjectIter iter;
        const gchar *key;
        JsonNode *value;

        json_object_iter_init_ordered (&iter, object);
        while (json_object_iter_next_ordered (&iter, &key, &value))
          {
            cbor_item_t *child = to_cbor (value, error);

            if (child == NULL)
              {
                cbor_decref (&item);
                return NULL;
              }
            cbor_map_add (item, (struct cbor_pair) { cbor_move (cbor_build_string (key)), cbor_move (child) });
          }
        return item;
      }
    case JSON_NODE_VALUE:
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_BOOLEAN:
          return cbor_build_bool (json_node_get_boolean (node));
        case G_TYPE_INT64:
          {
            gint64 v = json_node_get_int (node);

            return v >= 0 ? cbor_build_uint64 ((guint64) v) : cbor_build_negint64 ((guint64) (-1 - v));
          }
        case G_TYPE_DOUBLE:
          return cbor_build_float8 (json_node_get_double (node));
        case G_TYPE_STRING:
          return cbor_build_string (json_node_get_string (node));
        default:
          g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT, _("A JSON value of an unknown type"));
          return NULL;
        }
    }
}

static GBytes *
udg_cbor_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  cbor_item_t *item = to_cbor ((JsonNode *) packet, error);
  guchar *buffer = NULL;
  gsize size = 0, len;

  if (item == NULL)
    return NULL;
  len = cbor_serialize_alloc (item, &buffer, &size);
  cbor_decref (&item);
  if (len == 0)
    {
      free (buffer);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_FAILED, _("CBOR encoding failed"));
      return NULL;
    }
  return g_bytes_new_with_free_func (buffer, len, free, buffer);
}

static void
json_free (gpointer packet, gpointer user_data)
{
  json_node_unref (packet);
}
#endif

/**
 * udg_cbor_serializer_new:
 * @error: return location for a #GError
 *
 * A CBOR serializer (EasyNetwork's `CBORSerializer`) whose packets are
 * json-glib `JsonNode` trees.  Maps need text keys; byte strings are
 * refused (no JSON form); tags are ignored (the tagged item is kept).
 * Malformed input is %UDG_ERROR_PARSE ("Missing data to create packet",
 * "Extra data caught", …).
 *
 * Returns: (transfer full) (nullable): a new #UdgSerializer, or %NULL with
 *   %UDG_ERROR_UNSUPPORTED when udgram was built without libcbor
 *
 * Since: 0.1
 */
UdgSerializer *
udg_cbor_serializer_new (GError **error)
{
#ifdef HAVE_CBOR
  static const UdgSerializerFuncs funcs = {
    udg_cbor_serialize, udg_cbor_deserialize, json_free, { NULL, },
  };

  return udg_serializer_new (&funcs, NULL, NULL);
#else
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_UNSUPPORTED, _("This build of udgram has no CBOR serializer"));
  return NULL;
#endif
}
