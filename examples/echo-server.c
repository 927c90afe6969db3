/* echo-server: the smallest udgram server.
 *
 *   echo-server PATH      (PATH, @abstract-name, or "" to autobind)
 *
 * Every datagram is sent back as it came.  Ctrl-C stops it cleanly and
 * removes the socket file.
 */
#include <stdio.h>
#include <udgram/udgram.h>

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GBytes) request = udg_client_recv (client, NULL, error);

  if (request == NULL)
    return FALSE;
  return udg_client_send_packet (client, request, error);
}

int
main (int argc, char **argv)
{
  static const UdgHandlerFuncs handler = { .handle = handle };
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) serializer = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autofree gchar *where = NULL;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s PATH\n", argv[0]);
      return 2;
    }
  server = udg_server_new (argv[1], protocol, &handler, NULL, NULL, NULL, &error);
  if (server == NULL || !udg_server_activate (server, &error))
    {
      fprintf (stderr, "echo-server: %s\n", error->message);
      return 1;
    }
  addresses = udg_server_get_addresses (server);
  where = udg_address_to_string (g_ptr_array_index (addresses, 0));
  printf ("ready %s\n", where);
  fflush (stdout);
  if (!udg_server_serve_forever (server, &error))
    {
      fprintf (stderr, "echo-server: %s\n", error->message);
      return 1;
    }
  udg_server_close (server, NULL);
  return 0;
}
