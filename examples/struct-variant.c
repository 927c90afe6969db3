/* struct-variant: a C struct on the wire as a GVariant tuple — the C form
 * of EasyNetwork's StructSerializer / NamedTupleStructSerializer.
 *
 *   struct Point { guint32 id; gdouble x, y; gchar *label; }  <->  "(udds)"
 *
 * A server doubles each point; the program prints the round trip.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <udgram/udgram.h>

typedef struct
{
  guint32 id;
  gdouble x, y;
  gchar *label;
} Point;

#define POINT_TYPE G_VARIANT_TYPE ("(udds)")

static GVariant *
point_to_variant (const Point *p)
{
  return g_variant_ref_sink (g_variant_new ("(udds)", p->id, p->x, p->y, p->label));
}

static void
point_from_variant (GVariant *v, Point *p)
{
  g_variant_get (v, "(udds)", &p->id, &p->x, &p->y, &p->label);
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GVariant) request = udg_client_recv (client, NULL, error);
  g_autoptr(GVariant) reply = NULL;
  Point p;

  if (request == NULL)
    return FALSE;
  point_from_variant (request, &p);
  p.x *= 2;
  p.y *= 2;
  reply = point_to_variant (&p);
  g_free (p.label);
  return udg_client_send_packet (client, reply, error);
}

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  g_autoptr(UdgSerializer) serializer = udg_variant_serializer_new (POINT_TYPE);
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);
  g_autoptr(UdgServer) server = udg_server_new ("", protocol, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GBytes) wire = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GVariant) back = NULL;
  Point p = { 7, 1.5, -2.0, (gchar *) "seven" }, q;
  struct sockaddr_un sa, self = { .sun_family = AF_UNIX };
  GThread *thread = g_thread_new ("serve", serve, server);
  char buf[512];
  ssize_t n;
  int fd;

  if (!udg_server_wait_serving (server, 5))
    return 1;
  addresses = udg_server_get_addresses (server);

  /* The client side with plain sockets: any program speaking "(udds)". */
  fd = socket (AF_UNIX, SOCK_DGRAM, 0);
  bind (fd, (struct sockaddr *) &self, sizeof (sa_family_t));
  out = point_to_variant (&p);
  wire = udg_serializer_serialize (serializer, out, NULL);
  sendto (fd, g_bytes_get_data (wire, NULL), g_bytes_get_size (wire), 0, (struct sockaddr *) &sa,
          udg_address_to_sockaddr (g_ptr_array_index (addresses, 0), &sa));
  n = recv (fd, buf, sizeof buf, 0);
  reply = g_bytes_new (buf, MAX (n, 0));
  back = udg_serializer_deserialize (serializer, reply, NULL);
  if (back == NULL)
    return 1;
  point_from_variant (back, &q);
  printf ("sent {%u, %g, %g, %s} as %zu bytes, got {%u, %g, %g, %s}\n", p.id, p.x, p.y, p.label,
          g_bytes_get_size (wire), q.id, q.x, q.y, q.label);
  g_free (q.label);
  close (fd);
  udg_server_shutdown (server);
  g_thread_join (thread);
  return 0;
}
