/* send-fds: EasyNetwork's section "Sending Packets with socket control messages".
 *
 * The handler answers each request with a file descriptor: the read end of
 * a pipe holding a greeting.  The client (plain sockets here) receives the
 * descriptor with recvmsg() and reads the greeting through it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <udgram/udgram.h>

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *request = udg_client_recv (client, NULL, error);
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  g_autofree gchar *greeting = NULL;
  int p[2];

  if (request == NULL)
    return FALSE;
  if (pipe (p) < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errno), "pipe() failed");
      return FALSE;
    }
  greeting = g_strdup_printf ("hello, %s", request);
  if (write (p[1], greeting, strlen (greeting)) < 0)
    g_warning ("write: %s", g_strerror (errno));
  close (p[1]);
  /* ancillary.add_fds([fd]); take_fds: closed when ancillary is freed. */
  udg_ancillary_take_fds (ancillary, &p[0], 1);
  return udg_client_send_packet_with_ancillary (client, "here is a descriptor", ancillary, error);
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
  static const UdgHandlerFuncs funcs = { .handle = handle };
  g_autoptr(UdgSerializer) serializer = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);
  g_autoptr(UdgServer) server = udg_server_new ("", protocol, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(UdgAncillary) received = udg_ancillary_new ();
  struct sockaddr_un sa, self = { .sun_family = AF_UNIX };
  union { struct cmsghdr align; char buf[CMSG_SPACE (sizeof (int))]; } control;
  char data[64], text[64] = { 0 };
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf };
  GThread *thread = g_thread_new ("serve", serve, server);
  const gint *fds;
  guint n = 0;
  ssize_t len;
  int fd;

  if (!udg_server_wait_serving (server, 5))
    return 1;
  addresses = udg_server_get_addresses (server);
  fd = socket (AF_UNIX, SOCK_DGRAM, 0);
  bind (fd, (struct sockaddr *) &self, sizeof (sa_family_t));
  sendto (fd, "client", 6, 0, (struct sockaddr *) &sa,
          udg_address_to_sockaddr (g_ptr_array_index (addresses, 0), &sa));
  len = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC);
  udg_ancillary_update_from_raw (received, control.buf, msg.msg_controllen, msg.msg_flags, NULL);
  fds = udg_ancillary_get_fds (received, &n);
  if (len < 0 || n != 1 || read (fds[0], text, sizeof text - 1) < 0)
    return 1;
  printf ("reply: %.*s, with %u descriptor; read through it: %s\n", (int) len, data, n, text);
  close (fd);
  udg_server_shutdown (server);
  g_thread_join (thread);
  return 0;
}
