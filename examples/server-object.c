/* EasyNetwork's section "Server Object": create the server for a path, a protocol and a
 * handler; serve_forever() until shutdown (or Ctrl-C in the main thread);
 * the server can be asked what it is doing at any time.
 */
#include "example-run.h"

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *request = udg_client_recv (client, NULL, error);

  return request != NULL && udg_client_send_packet (client, "Response", error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  g_autoptr(UdgSerializer) serializer = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);  /* Response out, Request in */
  g_autofree gchar *dir = g_dir_make_tmp ("udgram-example-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "app.sock", NULL);
  g_autoptr(UdgServer) server = udg_server_new (path, protocol, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(UdgEndpoint) client = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  GThread *thread;

  printf ("before: listening=%d serving=%d\n", udg_server_is_listening (server), udg_server_is_serving (server));
  thread = g_thread_new ("serve", example_serve, server);  /* serve_forever() */
  udg_server_wait_serving (server, 5);
  addresses = udg_server_get_addresses (server);
  printf ("running: listening=%d serving=%d addresses=%u\n", udg_server_is_listening (server),
          udg_server_is_serving (server), addresses->len);
  client = udg_endpoint_new (path, NULL, protocol, NULL);
  example_ask (client, "Request", 2);
  udg_server_shutdown (server);
  g_thread_join (thread);
  printf ("after shutdown: listening=%d serving=%d\n", udg_server_is_listening (server), udg_server_is_serving (server));
  udg_server_close (server, NULL);
  printf ("after close: listening=%d, socket file %s\n", udg_server_is_listening (server),
          g_file_test (path, G_FILE_TEST_EXISTS) ? "left" : "removed");
  rmdir (dir);
  return 0;
}
