/* EasyNetwork's section "Having Multiple yield Statements" and "Cancellation And Timeouts":
 * after answering, the handler gives the client half a second to send a
 * second request (UdgRecvParams.timeout; the first recv never waits).
 */
#include "example-run.h"

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autoptr(GError) local = NULL;
  g_autofree gchar *request = udg_client_recv (client, NULL, error);
  g_autofree gchar *another = NULL;
  g_autofree gchar *text = NULL;

  if (request == NULL || !udg_client_send_packet (client, "Response (send the next within 0.5 s)", error))
    return FALSE;
  params.timeout = 0.5;
  another = udg_client_recv (client, &params, &local);
  if (another == NULL)
    {
      if (g_error_matches (local, UDG_ERROR, UDG_ERROR_TIMED_OUT))
        return udg_client_send_packet (client, "TimedOut", error);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  text = g_strdup_printf ("Response to the second request '%s'", another);
  return udg_client_send_packet (client, text, error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  ExampleRun *run = example_start (&funcs, NULL, NULL);
  g_autoptr(UdgEndpoint) client = example_client (run, NULL);
  g_autofree gchar *late = NULL;

  example_ask (client, "first", 2);
  example_ask (client, "second", 2);
  example_ask (client, "first again", 2);
  /* ... and nothing more: the handler times out. */
  late = udg_endpoint_recv_packet (client, 2, NULL, NULL);
  printf ("(silence) -> %s\n", late != NULL ? late : "(no reply)");
  example_stop (run);
  return 0;
}
