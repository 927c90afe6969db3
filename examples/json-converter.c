/* json-converter: a protocol whose packets are the application's own C
 * struct, converted from and to JSON (EasyNetwork's packet converters).
 * The handler never sees a JsonNode.  A document that is valid JSON but not
 * an order is a parse error at udg_client_recv(), answered with an error.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <udgram/udgram.h>

typedef struct
{
  gchar *item;
  gint64 quantity;
} Order;

static void
order_free (gpointer packet, gpointer user_data)
{
  Order *order = packet;

  g_free (order->item);
  g_free (order);
}

/* JsonNode (the serializer's packet) -> Order. */
static gpointer
order_from_dto (gconstpointer dto, gpointer user_data, GError **error)
{
  JsonNode *node = (JsonNode *) dto;
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  Order *order;

  if (o == NULL || !json_object_has_member (o, "item") || !json_object_has_member (o, "quantity") ||
      json_node_get_value_type (json_object_get_member (o, "item")) != G_TYPE_STRING ||
      json_node_get_value_type (json_object_get_member (o, "quantity")) != G_TYPE_INT64)
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE,
                           "an order is {\"item\": string, \"quantity\": integer}");
      return NULL;
    }
  order = g_new0 (Order, 1);
  order->item = g_strdup (json_object_get_string_member (o, "item"));
  order->quantity = json_object_get_int_member (o, "quantity");
  return order;
}

/* Order -> JsonNode. */
static gpointer
order_to_dto (gconstpointer packet, gpointer user_data, GError **error)
{
  const Order *order = packet;
  JsonObject *o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (o, "item", order->item);
  json_object_set_int_member (o, "quantity", order->quantity);
  json_node_take_object (node, o);
  return node;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GError) local = NULL;
  Order *order = udg_client_recv (client, NULL, &local);
  Order reply = { NULL, 0 };
  gboolean ok;

  if (order == NULL)
    {
      Order refused = { (gchar *) "refused", 0 };

      g_printerr ("json-converter: %s\n", local->message);
      return udg_client_send_packet (client, &refused, error);
    }
  reply.item = g_strdup_printf ("%s (confirmed)", order->item);
  reply.quantity = order->quantity;
  ok = udg_client_send_packet (client, &reply, error);
  g_free (reply.item);
  udg_client_free_packet (client, order);
  return ok;
}

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

static void
exchange (int fd, struct sockaddr_un *sa, socklen_t len, const gchar *request)
{
  char buf[1024];
  ssize_t n;

  sendto (fd, request, strlen (request), 0, (struct sockaddr *) sa, len);
  n = recv (fd, buf, sizeof buf - 1, 0);
  printf ("%s -> %.*s\n", request, (int) MAX (n, 0), buf);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  static const UdgConverterFuncs converter = { order_to_dto, order_from_dto, order_free, { NULL } };
  g_autoptr(UdgSerializer) json = udg_json_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new_with_converter (json, &converter, NULL, NULL);
  g_autoptr(UdgServer) server = udg_server_new ("", protocol, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  struct sockaddr_un sa, self = { .sun_family = AF_UNIX };
  GThread *thread = g_thread_new ("serve", serve, server);
  socklen_t len;
  int fd;

  if (!udg_server_wait_serving (server, 5))
    return 1;
  addresses = udg_server_get_addresses (server);
  len = udg_address_to_sockaddr (g_ptr_array_index (addresses, 0), &sa);
  fd = socket (AF_UNIX, SOCK_DGRAM, 0);
  bind (fd, (struct sockaddr *) &self, sizeof (sa_family_t));
  exchange (fd, &sa, len, "{\"item\":\"tea\",\"quantity\":2}");
  exchange (fd, &sa, len, "{\"item\":\"tea\"}");
  close (fd);
  udg_server_shutdown (server);
  g_thread_join (thread);
  return 0;
}
