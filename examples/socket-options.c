/* EasyNetwork's section "Low-Level Socket Operations": service_init reaches the server's
 * socket through udg_server_get_sockets() for setsockopt(): here SO_PASSCRED
 * (credentials with every datagram) and a larger receive buffer.
 */
#include <sys/socket.h>
#include "example-run.h"

static gboolean
service_init (UdgExitStack *stack, UdgServer *server, gpointer user_data, GError **error)
{
  g_autoptr(GArray) sockets = udg_server_get_sockets (server);
  int one = 1, size = 1 << 20;

  for (guint i = 0; i < sockets->len; i++)
    {
      gint fd = g_array_index (sockets, gint, i);

      setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
      setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  return TRUE;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *request = udg_client_recv (client, NULL, error);
  g_autoptr(GArray) sockets = udg_server_get_sockets (udg_client_get_server (client));
  g_autofree gchar *text = NULL;
  UdgCredentials creds;
  int passcred = 0;
  socklen_t len = sizeof passcred;

  if (request == NULL)
    return FALSE;
  getsockopt (g_array_index (sockets, gint, 0), SOL_SOCKET, SO_PASSCRED, &passcred, &len);
  text = g_strdup_printf ("SO_PASSCRED=%d, credentials %s", passcred,
                          udg_client_get_credentials (client, &creds) && creds.pid == getpid () ? "are mine" : "missing");
  return udg_client_send_packet (client, text, error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .service_init = service_init, .handle = handle };
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  ExampleRun *run;
  g_autoptr(UdgEndpoint) client = NULL;

  /* Control data is read only with receive_ancillary_data. */
  udg_server_options_set_receive_ancillary_data (options, TRUE);
  run = example_start (&funcs, NULL, options);
  client = example_client (run, NULL);
  example_ask (client, "who am I?", 2);
  example_stop (run);
  return 0;
}
