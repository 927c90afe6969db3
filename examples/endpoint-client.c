/* endpoint-client: the client side with UdgEndpoint (EasyNetwork's
 * UnixDatagramClient): sends each MESSAGE to the server at PATH and prints
 * the reply.
 *
 *   endpoint-client PATH MESSAGE...
 *
 * Exits 1 if the server cannot be reached or a reply does not come within
 * 2 seconds.  (echo-client does the same with plain POSIX sockets.)
 */
#include <stdio.h>
#include <string.h>
#include <udgram/udgram.h>

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) serializer = udg_bytes_serializer_new ();   /* GBytes packets */
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);     /* takes its own reference */
  g_autoptr(UdgEndpoint) endpoint = NULL;

  if (argc < 3)
    {
      fprintf (stderr, "usage: %s PATH MESSAGE...\n", argv[0]);
      return 2;
    }
  /* No local path: the kernel autobinds an abstract name, so that the
   * server can answer.  The endpoint takes its own reference to @protocol. */
  endpoint = udg_endpoint_new (argv[1], NULL, protocol, &error);
  if (endpoint == NULL)
    {
      fprintf (stderr, "endpoint-client: %s\n", error->message);
      return 1;
    }
  for (int i = 2; i < argc; i++)
    {
      g_autoptr(GBytes) request = g_bytes_new (argv[i], strlen (argv[i]));
      GBytes *reply;

      /* Each call waits at most 2 s (UDG_TIMEOUT_INFINITE: for ever). */
      if (!udg_endpoint_send_packet (endpoint, request, 2.0, NULL, &error) ||
          (reply = udg_endpoint_recv_packet (endpoint, 2.0, NULL, &error)) == NULL)
        {
          fprintf (stderr, "endpoint-client: %s\n", error->message);
          return 1;
        }
      printf ("%.*s\n", (int) g_bytes_get_size (reply), (const char *) g_bytes_get_data (reply, NULL));
      udg_endpoint_free_packet (endpoint, reply);
    }
  return 0; /* the endpoint closes when its last reference goes */
}
