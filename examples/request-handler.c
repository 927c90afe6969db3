/* EasyNetwork's section "Request Handler Objects" and "Minimum Requirements": one handler
 * for the whole service; each invocation receives one request
 * (`request = yield` is udg_client_recv()) and sends a response.
 */
#include "example-run.h"

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  /* Before the first udg_client_recv(): the datagram has arrived but is
   * not parsed yet. */
  g_autofree gchar *request = udg_client_recv (client, NULL, error);
  g_autofree gchar *response = NULL;

  if (request == NULL)
    return FALSE;
  /* After it: the datagram is parsed; reply to the client. */
  response = g_strdup_printf ("Response to '%s'", request);
  return udg_client_send_packet (client, response, error);
  /* Returning ends this invocation; the next datagram starts a new one. */
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  ExampleRun *run = example_start (&funcs, NULL, NULL);
  g_autoptr(UdgEndpoint) client = example_client (run, NULL);

  example_ask (client, "first request", 2);
  example_ask (client, "second request", 2);
  example_stop (run);
  return 0;
}
