/* EasyNetwork's section "Error Handling": every error comes back from udg_client_recv().  A
 * malformed datagram is UDG_ERROR_PARSE (answer BadRequest); anything else
 * is logged and answered InternalError.  An error the handler returns is
 * logged by the server, which goes on serving.
 */
#include <string.h>
#include <sys/socket.h>
#include "example-run.h"

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree gchar *request = udg_client_recv (client, NULL, &local);

  if (request == NULL)
    {
      if (g_error_matches (local, UDG_ERROR, UDG_ERROR_PARSE))
        return udg_client_send_packet (client, "BadRequest", error);
      /* Runtime error: log it, answer, and give it back to the server. */
      g_printerr ("handler: %s\n", local->message);
      udg_client_send_packet (client, "InternalError", NULL);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return udg_client_send_packet (client, "Response", error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  ExampleRun *run = example_start (&funcs, NULL, NULL);
  g_autoptr(UdgEndpoint) client = example_client (run, NULL);
  struct sockaddr_un sa;
  socklen_t len;
  int raw;

  example_ask (client, "a good request", 2);
  /* Bytes the ASCII serializer refuses, from a plain autobound socket. */
  raw = socket (AF_UNIX, SOCK_DGRAM, 0);
  sa.sun_family = AF_UNIX;
  bind (raw, (struct sockaddr *) &sa, sizeof (sa_family_t));
  len = udg_address_to_sockaddr (udg_endpoint_get_peer_name (client), &sa);
  sendto (raw, "\xe9t\xe9", 3, 0, (struct sockaddr *) &sa, len);
  {
    char buf[64];
    ssize_t n = recv (raw, buf, sizeof buf, 0);

    printf ("\\xe9t\\xe9 -> %.*s\n", (int) MAX (n, 0), buf);
  }
  close (raw);
  example_stop (run);
  return 0;
}
