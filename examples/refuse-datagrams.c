/* EasyNetwork's section "Refuse datagrams": returning before udg_client_recv() discards the
 * datagram.  Here only clients bound to a path are served; autobound
 * (abstract) senders get nothing, and the server counts them as refused.
 */
#include "example-run.h"

static gboolean
should_handle (UdgClient *client)
{
  return udg_address_get_kind (udg_client_get_peer_name (client)) == UDG_ADDRESS_PATHNAME;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *request = NULL;

  if (!should_handle (client))
    return TRUE; /* before the first recv: the datagram is discarded */
  request = udg_client_recv (client, NULL, error);
  return request != NULL && udg_client_send_packet (client, "welcome", error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  ExampleRun *run = example_start (&funcs, NULL, NULL);
  g_autoptr(UdgEndpoint) named = example_client (run, "named.sock");
  g_autoptr(UdgEndpoint) anonymous = example_client (run, NULL);
  UdgServerStats stats;

  example_ask (named, "from a path", 2);
  example_ask (anonymous, "from an abstract name", 0.3);
  udg_server_get_stats (run->server, &stats);
  printf ("refused: %" G_GUINT64_FORMAT "\n", stats.refused);
  example_stop (run);
  return 0;
}
