/* EasyNetwork's section "Per-client variables": a context variable set in handle() is seen
 * by any code the invocation calls, without passing it along, and by no
 * other client; one set in service_init is seen by every invocation.
 */
#include <string.h>
#include "example-run.h"

static UdgContextVar *client_addr_var;
static UdgContextVar *service_name_var;

/* Called from deep inside the handler: no client argument needed. */
static gchar *
client_log (const gchar *message)
{
  UdgAddress *address = udg_context_var_get (client_addr_var);

  return g_strdup_printf ("[%s] From %s: %s", (const gchar *) udg_context_var_get (service_name_var),
                          strrchr (udg_address_get_path (address), '/') + 1, message);
}

static gboolean
service_init (UdgExitStack *stack, UdgServer *server, gpointer user_data, GError **error)
{
  udg_context_var_set (service_name_var, g_strdup ("demo-service"));
  return TRUE;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *request = NULL;
  g_autofree gchar *line = NULL;

  udg_context_var_set (client_addr_var, udg_address_ref (udg_client_get_peer_name (client)));
  request = udg_client_recv (client, NULL, error);
  if (request == NULL)
    return FALSE;
  line = client_log (request);
  return udg_client_send_packet (client, line, error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .service_init = service_init, .handle = handle };
  ExampleRun *run;
  UdgEndpoint *alice, *bob;

  client_addr_var = udg_context_var_new ("client_addr", (GDestroyNotify) udg_address_unref);
  service_name_var = udg_context_var_new ("service_name", g_free);
  run = example_start (&funcs, NULL, NULL);
  alice = example_client (run, "alice.sock");
  bob = example_client (run, "bob.sock");
  example_ask (alice, "Received request", 2);
  example_ask (bob, "Received request", 2);
  udg_endpoint_unref (alice);
  udg_endpoint_unref (bob);
  example_stop (run);
  udg_context_var_unref (client_addr_var);
  udg_context_var_unref (service_name_var);
  return 0;
}
