/* receive-fds: EasyNetwork's section "Receiving Packets with socket control messages".
 *
 * The server is built with receive_ancillary_data (and SO_PASSCRED, set in
 * service_init through udg_server_get_sockets() as EasyNetwork's low-level socket
 * section shows).  The handler passes a UdgAncillary to udg_client_recv()
 * (RecvParams(recv_with_ancillary=...)), then walks its messages: the
 * descriptors it received, and the sender's credentials.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <udgram/udgram.h>

static gboolean
service_init (UdgExitStack *stack, UdgServer *server, gpointer user_data, GError **error)
{
  g_autoptr(GArray) sockets = udg_server_get_sockets (server);
  int one = 1;

  for (guint i = 0; i < sockets->len; i++)
    setsockopt (g_array_index (sockets, gint, i), SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  return TRUE;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autofree gchar *request = NULL;
  GString *report = g_string_new (NULL);
  UdgAncillaryIter iter;
  UdgAncillaryMessage message;
  gboolean ok;

  params.recv_with_ancillary = udg_ancillary_receive_func;
  params.ancillary_user_data = ancillary;
  request = udg_client_recv (client, &params, error);
  if (request == NULL)
    return FALSE;

  udg_ancillary_iter_init (&iter, ancillary);
  while (udg_ancillary_iter_next (&iter, &message))
    switch (message.type)
      {
      case UDG_ANCILLARY_RIGHTS:
        g_string_append_printf (report, "%u file descriptors; ", message.n_items);
        break;
      case UDG_ANCILLARY_CREDENTIALS:
        g_string_append_printf (report, "credentials uid=%ld ", (long) message.credentials[0].uid);
        break;
      default:
        break;
      }
  /* The descriptors are closed with the ancillary object, at the end of
   * this function; udg_ancillary_steal_fds() would keep them. */
  ok = udg_client_send_packet (client, report->str, error);
  g_string_free (report, TRUE);
  return ok;
}

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .service_init = service_init, .handle = handle };
  g_autoptr(UdgSerializer) serializer = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  g_autofree guint8 *control = NULL;
  struct sockaddr_un sa, self = { .sun_family = AF_UNIX };
  struct iovec iov = { (void *) "fds", 3 };
  struct msghdr msg = { 0 };
  gint fds[2] = { 0, 1 };
  gsize control_len;
  char reply[256];
  ssize_t n;
  GThread *thread;
  int fd;

  udg_server_options_set_receive_ancillary_data (options, TRUE);
  server = udg_server_new ("", protocol, &funcs, NULL, NULL, options, NULL);
  thread = g_thread_new ("serve", serve, server);
  if (!udg_server_wait_serving (server, 5))
    return 1;
  addresses = udg_server_get_addresses (server);

  /* The client: stdin and stdout as SCM_RIGHTS, with sendmsg(). */
  fd = socket (AF_UNIX, SOCK_DGRAM, 0);
  bind (fd, (struct sockaddr *) &self, sizeof (sa_family_t));
  udg_ancillary_add_fds (out, fds, 2);
  control = udg_ancillary_to_control (out, &control_len);
  msg.msg_name = &sa;
  msg.msg_namelen = udg_address_to_sockaddr (g_ptr_array_index (addresses, 0), &sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = control_len;
  sendmsg (fd, &msg, 0);
  n = recv (fd, reply, sizeof reply, 0);
  printf ("server saw: %.*s\n", (int) MAX (n, 0), reply);
  close (fd);
  udg_server_shutdown (server);
  g_thread_join (thread);
  return 0;
}
