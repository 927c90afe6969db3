/* Ancillary data end to end through the server: descriptors both ways,
 * credentials, the uid allow-list, unclaimed and truncated control data,
 * and no descriptor leak under a flood.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

typedef struct
{
  UdgServer *server;
  GThread *thread;
  UdgAddress *address;
  gchar *dir;
} Running;

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

static void
start_full (Running *r, const UdgHandlerFuncs *funcs, gpointer user_data, UdgServerOptions *options)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autofree gchar *path = NULL;

  r->dir = udg_test_tmpdir ();
  path = g_build_filename (r->dir, "s.sock", NULL);
  r->server = udg_server_new (path, p, funcs, user_data, NULL, options, &error);
  ck_assert_msg (r->server != NULL, "%s", error ? error->message : "");
  r->thread = g_thread_new ("serve", serve, r->server);
  ck_assert (udg_server_wait_serving (r->server, 5));
  addresses = udg_server_get_addresses (r->server);
  r->address = udg_address_ref (g_ptr_array_index (addresses, 0));
}

static void
start (Running *r, const UdgHandlerFuncs *funcs, UdgServerOptions *options)
{
  start_full (r, funcs, NULL, options);
}

static void
stop (Running *r)
{
  udg_server_shutdown (r->server);
  g_thread_join (r->thread);
  udg_server_close (r->server, NULL);
  udg_server_unref (r->server);
  udg_address_unref (r->address);
  udg_test_rmdir (r->dir);
  g_free (r->dir);
}

static gboolean
pipe_readable (int fd, int timeout_ms)
{
  struct pollfd pfd = { fd, POLLIN, 0 };

  return poll (&pfd, 1, timeout_ms) == 1;
}

/* The pipe's last write end is closed: EOF within @timeout_ms. */
static gboolean
readable_eof (int fd, int timeout_ms)
{
  char c;

  return pipe_readable (fd, timeout_ms) && read (fd, &c, 1) == 0;
}

/* --- a client passes 3 fds; the handler writes and reads through them ---- */

static gboolean
use_fds_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autofree gchar *req = NULL;
  g_autofree gchar *reply = NULL;
  const gint *fds;
  guint n;
  char memfd_text[32] = { 0 };

  params.recv_with_ancillary = udg_ancillary_receive_func;
  params.ancillary_user_data = ancillary;
  req = udg_client_recv (client, &params, error);
  if (req == NULL)
    return FALSE;
  fds = udg_ancillary_get_fds (ancillary, &n);
  if (n != 3)
    return udg_client_send_packet (client, "wrong number of fds", error);
  /* fds[0], fds[1]: write ends of pipes; fds[2]: a memfd to read. */
  if (write (fds[0], "one", 3) != 3 || write (fds[1], "two", 3) != 3 ||
      pread (fds[2], memfd_text, sizeof memfd_text - 1, 0) < 0)
    return udg_client_send_packet (client, "io failed", error);
  reply = g_strdup_printf ("%s: memfd says %s", req, memfd_text);
  return udg_client_send_packet (client, reply, error);
  /* ancillary's fds are closed when it goes out of scope */
}

START_TEST (test_client_passes_fds)
{
  static const UdgHandlerFuncs funcs = { .handle = use_fds_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  Running r;
  int p1[2], p2[2], memfd, c, fds[3];
  guint baseline;
  char buf[8];

  udg_server_options_set_receive_ancillary_data (o, TRUE);
  start (&r, &funcs, o);
  baseline = udg_test_count_fds ();
  ck_assert_int_eq (pipe (p1), 0);
  ck_assert_int_eq (pipe (p2), 0);
  memfd = memfd_create ("udg-test", MFD_CLOEXEC);
  ck_assert_int_ge (memfd, 0);
  ck_assert_int_eq (write (memfd, "hi there", 8), 8);
  c = udg_test_socket ("");
  fds[0] = p1[1];
  fds[1] = p2[1];
  fds[2] = memfd;
  ck_assert (udg_test_send_fds (c, r.address, "three fds", fds, 3));
  ASSERT_REPLY (c, "three fds: memfd says hi there", 3000);
  ck_assert (pipe_readable (p1[0], 1000));
  ck_assert_int_eq (read (p1[0], buf, 3), 3);
  ck_assert_mem_eq (buf, "one", 3);
  ck_assert_int_eq (read (p2[0], buf, 3), 3);
  ck_assert_mem_eq (buf, "two", 3);
  /* The server closed its copies: ours are the last write ends. */
  close (p1[1]);
  close (p2[1]);
  ck_assert (readable_eof (p1[0], 2000));
  ck_assert (readable_eof (p2[0], 2000));
  close (p1[0]);
  close (p2[0]);
  close (memfd);
  close (c);
  /* The handler closes its copies just after replying: wait for that. */
  for (int t = 0; t < 200 && udg_test_count_fds () != baseline; t++)
    g_usleep (10 * 1000);
  ck_assert_uint_eq (udg_test_count_fds (), baseline);
  stop (&r);
}
END_TEST

/* --- the server passes an fd back; the client reads through it ----------- */

static gboolean
give_fd_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  int p[2];
  gboolean ok;

  if (req == NULL || pipe (p) < 0)
    return FALSE;
  if (write (p[1], "from the server", 15) != 15)
    return FALSE;
  close (p[1]);
  udg_ancillary_take_fds (out, &p[0], 1); /* closed with out */
  ok = udg_client_send_packet_with_ancillary (client, "here", out, error);
  return ok;
}

START_TEST (test_server_passes_fds)
{
  static const UdgHandlerFuncs funcs = { .handle = give_fd_handle };
  Running r;
  int c, got[2];
  guint n = 2;
  char buf[32];

  start (&r, &funcs, NULL); /* sending needs no receive_ancillary_data */
  c = udg_test_socket ("");
  ck_assert (udg_test_send_str (c, r.address, "give"));
  ck_assert_int_eq (udg_test_recv_fds (c, buf, sizeof buf, got, &n, 3000), 4);
  ck_assert_uint_eq (n, 1);
  ck_assert_int_eq (read (got[0], buf, sizeof buf), 15);
  ck_assert_mem_eq (buf, "from the server", 15);
  close (got[0]);
  close (c);
  stop (&r);
}
END_TEST

/* --- credentials ----------------------------------------------------------- */

static gboolean
creds_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  g_autofree gchar *text = NULL;
  UdgCredentials creds;

  if (req == NULL)
    return FALSE;
  if (!udg_client_get_credentials (client, &creds))
    return udg_client_send_packet (client, "no credentials", error);
  text = g_strdup_printf ("%ld %ld %ld", (long) creds.pid, (long) creds.uid, (long) creds.gid);
  return udg_client_send_packet (client, text, error);
}

START_TEST (test_credentials)
{
  static const UdgHandlerFuncs funcs = { .handle = creds_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autofree gchar *mine = g_strdup_printf ("%ld %ld %ld", (long) getpid (), (long) getuid (), (long) getgid ());
  Running r;
  pid_t child;
  int c, status;

  udg_server_options_set_pass_credentials (o, TRUE);
  if (_i == 1)
    udg_server_options_set_receive_ancillary_data (o, TRUE);
  start (&r, &funcs, o);
  c = udg_test_socket ("");
  ck_assert (udg_test_send_str (c, r.address, "who am i"));
  ASSERT_REPLY (c, mine, 3000);

  /* A forked child: its own pid arrives. */
  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0)
    {
      int cc = socket (AF_UNIX, SOCK_DGRAM, 0);
      struct sockaddr_un self = { .sun_family = AF_UNIX };
      g_autofree gchar *expected = g_strdup_printf ("%ld %ld %ld", (long) getpid (), (long) getuid (), (long) getgid ());
      g_autofree gchar *got = NULL;

      bind (cc, (struct sockaddr *) &self, sizeof (sa_family_t));
      udg_test_send_str (cc, r.address, "child");
      got = udg_test_recv_str (cc, 3000);
      _exit (got != NULL && g_str_equal (got, expected) ? 0 : 1);
    }
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert (WIFEXITED (status));
  ck_assert_int_eq (WEXITSTATUS (status), 0);
  close (c);
  stop (&r);
}
END_TEST

START_TEST (test_allowed_uids)
{
  static const UdgHandlerFuncs funcs = { .handle = creds_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  uid_t others[] = { getuid () + 4242 };
  uid_t me[] = { getuid () + 4242, getuid () };
  UdgServerStats stats;
  Running r;
  int c, p[2];

  udg_server_options_set_allowed_uids (o, _i == 0 ? others : me, _i == 0 ? 1 : 2);
  start (&r, &funcs, o);
  c = udg_test_socket ("");
  ck_assert_int_eq (pipe (p), 0);
  ck_assert (udg_test_send_fds (c, r.address, "let me in", &p[1], 1));
  close (p[1]);
  if (_i == 0)
    {
      ASSERT_NO_REPLY (c, 300);
      WAIT_STATS (r.server, stats, stats.denied == 1);
      ck_assert_uint_eq (stats.denied, 1);
      ck_assert_uint_eq (stats.handled, 0);
    }
  else
    {
      g_autofree gchar *mine = g_strdup_printf ("%ld %ld %ld", (long) getpid (), (long) getuid (), (long) getgid ());

      ASSERT_REPLY (c, mine, 3000);
    }
  /* Either way the descriptor did not stay in the server. */
  ck_assert (readable_eof (p[0], 2000));
  close (p[0]);
  close (c);
  stop (&r);
}
END_TEST

/* The server asks the kernel for every datagram's credentials for itself
 * (the scheduler's fairness between uids): a handler that did not ask for
 * them sees none, neither from udg_client_get_credentials() nor in the
 * control data; the descriptors it was sent are all there.  _i == 0:
 * receive_ancillary_data; 1: neither option (the kernel discards the
 * descriptors, as before). */
static gboolean
what_is_seen_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autofree gchar *req = NULL;
  g_autofree gchar *text = NULL;
  UdgAncillaryIter iter;
  UdgAncillaryMessage message;
  UdgCredentials creds;
  guint n_creds = 0, n_fds = 0;

  if (GPOINTER_TO_INT (user_data))
    {
      params.recv_with_ancillary = udg_ancillary_receive_func;
      params.ancillary_user_data = ancillary;
    }
  req = udg_client_recv (client, &params, error);
  if (req == NULL)
    return FALSE;
  udg_ancillary_iter_init (&iter, ancillary);
  while (udg_ancillary_iter_next (&iter, &message))
    {
      if (message.type == UDG_ANCILLARY_CREDENTIALS)
        n_creds++;
      else if (message.type == UDG_ANCILLARY_RIGHTS)
        n_fds += message.n_items;
    }
  text = g_strdup_printf ("credentials %u, descriptors %u, get_credentials %s", n_creds, n_fds,
                          udg_client_get_credentials (client, &creds) ? "yes" : "no");
  return udg_client_send_packet (client, text, error);
}

START_TEST (test_credentials_not_asked)
{
  static const UdgHandlerFuncs funcs = { .handle = what_is_seen_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  Running r;
  int c, p[2];

  if (_i == 0)
    udg_server_options_set_receive_ancillary_data (o, TRUE);
  start_full (&r, &funcs, GINT_TO_POINTER (_i == 0), o);
  c = udg_test_socket ("");
  ck_assert_int_eq (pipe (p), 0);
  ck_assert (udg_test_send_fds (c, r.address, "x", p, 2));
  ASSERT_REPLY (c, _i == 0 ? "credentials 0, descriptors 2, get_credentials no"
                           : "credentials 0, descriptors 0, get_credentials no", 3000);
  close (p[1]);
  ck_assert (readable_eof (p[0], 2000));
  close (p[0]);
  close (c);
  stop (&r);
}
END_TEST

/* --- unclaimed and truncated control data --------------------------------- */

static gboolean
ignore_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  return req != NULL && (user_data == NULL || udg_client_send_packet (client, req, error));
}

START_TEST (test_unclaimed_fds_closed)
{
  static const UdgHandlerFuncs funcs = { .handle = ignore_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  Running r;
  int c, p[2];

  /* 0: receive_ancillary_data but the handler never asks; 1: credentials
   * only (control buffer present, fds closed by the dispatcher); 2: neither
   * (the kernel discards the fds). */
  if (_i == 0)
    udg_server_options_set_receive_ancillary_data (o, TRUE);
  if (_i == 1)
    udg_server_options_set_pass_credentials (o, TRUE);
  start (&r, &funcs, o);
  c = udg_test_socket ("");
  ck_assert_int_eq (pipe (p), 0);
  ck_assert (udg_test_send_fds (c, r.address, "x", &p[1], 1));
  close (p[1]);
  ck_assert (readable_eof (p[0], 3000));
  close (p[0]);
  close (c);
  stop (&r);
}
END_TEST

/* 10,000 datagrams with 4 fds each, a handler that ignores them, with the
 * default control buffer and with one too small: the process's descriptor
 * count comes back to where it was. */
START_TEST (test_fd_flood_no_leak)
{
  static const UdgHandlerFuncs funcs = { .handle = ignore_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  UdgServerStats stats;
  const guint total = 10000;
  Running r;
  guint baseline;
  int c, p[2], four[4];

  udg_server_options_set_receive_ancillary_data (o, TRUE);
  if (_i == 1)
    udg_server_options_set_ancillary_bufsize (o, CMSG_SPACE (sizeof (int)));
  udg_server_options_set_mailbox_limit (o, 64);
  start (&r, &funcs, o);
  c = udg_test_socket ("");
  ck_assert_int_eq (pipe (p), 0);
  baseline = udg_test_count_fds ();
  four[0] = four[1] = four[2] = four[3] = p[1];
  for (guint i = 0; i < total; i++)
    while (!udg_test_send_fds (c, r.address, "f", four, 4))
      g_usleep (50); /* the server's queue is full: it catches up */
  WAIT_STATS (r.server, stats,
              stats.received == total && stats.active_clients == 0 && stats.running_invocations == 0);
  for (int t = 0; t < 500 && stats.received < total; t++)
    {
      g_usleep (10 * 1000);
      udg_server_get_stats (r.server, &stats);
    }
  ck_assert_uint_eq (stats.received, total);
  ck_assert_uint_eq (stats.handled + stats.dropped_mailbox, total);
  if (_i == 1)
    ck_assert_uint_eq (stats.ancillary_truncated, total);
  for (int t = 0; t < 200 && udg_test_count_fds () != baseline; t++)
    g_usleep (10 * 1000);
  ck_assert_uint_eq (udg_test_count_fds (), baseline);
  close (p[1]);
  ck_assert (readable_eof (p[0], 2000));
  close (p[0]);
  close (c);
  stop (&r);
}
END_TEST

/* A callback sees MSG_CTRUNC, and the fds that did arrive. */
static gboolean
truncated_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autofree gchar *req = NULL;
  g_autofree gchar *text = NULL;
  guint n;

  params.recv_with_ancillary = udg_ancillary_receive_func;
  params.ancillary_user_data = ancillary;
  req = udg_client_recv (client, &params, error);
  if (req == NULL)
    return FALSE;
  udg_ancillary_get_fds (ancillary, &n);
  text = g_strdup_printf ("truncated=%d fds=%u", udg_ancillary_is_truncated (ancillary), n);
  return udg_client_send_packet (client, text, error);
}

START_TEST (test_truncated_control_reported)
{
  static const UdgHandlerFuncs funcs = { .handle = truncated_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  Running r;
  int c, p[2], three[3];

  udg_server_options_set_receive_ancillary_data (o, TRUE);
  udg_server_options_set_ancillary_bufsize (o, CMSG_SPACE (sizeof (int)));
  start (&r, &funcs, o);
  c = udg_test_socket ("");
  ck_assert_int_eq (pipe (p), 0);
  three[0] = three[1] = three[2] = p[1];
  ck_assert (udg_test_send_fds (c, r.address, "x", three, 3));
  /* Linux fills the 4 bytes of padding with a second fd. */
  ASSERT_REPLY (c, "truncated=1 fds=2", 3000);
  close (p[1]);
  ck_assert (readable_eof (p[0], 2000));
  close (p[0]);
  close (c);
  stop (&r);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("Ancillary data through the server");
  TCase *tc = udg_test_tcase_create ("ancillary");

  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_client_passes_fds);
  tcase_add_test (tc, test_server_passes_fds);
  tcase_add_loop_test (tc, test_credentials, 0, 2);
  tcase_add_loop_test (tc, test_credentials_not_asked, 0, 2);
  tcase_add_loop_test (tc, test_allowed_uids, 0, 2);
  tcase_add_loop_test (tc, test_unclaimed_fds_closed, 0, 3);
  tcase_add_loop_test (tc, test_fd_flood_no_leak, 0, 2);
  tcase_add_test (tc, test_truncated_control_reported);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
