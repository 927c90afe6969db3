/* EasyNetwork's section "Client Metadata": the client's address (peer_name) and the
 * server's (local_name), and, with SO_PASSCRED, who the sender is.
 */
#include <string.h>
#include "example-run.h"

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  UdgAddress *peer = udg_client_get_peer_name (client);
  g_autofree gchar *request = udg_client_recv (client, NULL, error);
  g_autofree gchar *text = NULL;
  UdgCredentials creds;

  if (request == NULL)
    return FALSE;
  if (!udg_client_get_credentials (client, &creds))
    creds.uid = (uid_t) -1;
  /* peer_name is a path here: print its last part, the rest is random. */
  text = g_strdup_printf ("%s (a %s address, uid %s) sent '%s'",
                          strrchr (udg_address_get_path (peer), '/') + 1,
                          udg_address_get_kind (peer) == UDG_ADDRESS_PATHNAME ? "pathname" : "other",
                          creds.uid == getuid () ? "mine" : "other", request);
  return udg_client_send_packet (client, text, error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  ExampleRun *run;
  g_autoptr(UdgEndpoint) client = NULL;

  udg_server_options_set_pass_credentials (options, TRUE);
  run = example_start (&funcs, NULL, options);
  client = example_client (run, "client.sock");
  example_ask (client, "hello", 2);
  example_stop (run);
  return 0;
}
