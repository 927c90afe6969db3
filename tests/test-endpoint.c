/* UdgEndpoint, the client: EasyNetwork's client tests against a plain socket peer.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <math.h>

#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static gchar *dir;
static gchar *peer_path;
static int peer;
static UdgAddress *peer_address;
static UdgProtocol *ascii;

static void
setup (void)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();

  dir = udg_test_tmpdir ();
  peer_path = g_build_filename (dir, "peer.sock", NULL);
  peer = udg_test_socket (peer_path);
  peer_address = udg_address_new_pathname (peer_path, NULL);
  ascii = udg_protocol_new (s);
}

static void
teardown (void)
{
  if (peer >= 0)
    close (peer);
  udg_address_unref (peer_address);
  udg_protocol_unref (ascii);
  udg_test_rmdir (dir);
  g_free (dir);
  g_free (peer_path);
}

static UdgEndpoint *
connect_endpoint (void)
{
  g_autoptr(GError) error = NULL;
  UdgEndpoint *e = udg_endpoint_new (peer_path, NULL, ascii, &error);

  ck_assert_msg (e != NULL, "%s", error ? error->message : "");
  return e;
}

/* What the peer received, and from whom. */
static gchar *
peer_recv (UdgAddress **from)
{
  struct sockaddr_un sa;
  socklen_t len = sizeof sa;
  char buf[1024];
  gssize n;

  {
    struct pollfd pfd = { peer, POLLIN, 0 };
    ck_assert_int_eq (poll (&pfd, 1, 3000), 1);
  }
  n = recvfrom (peer, buf, sizeof buf, 0, (struct sockaddr *) &sa, &len);
  ck_assert_int_ge (n, 0);
  if (from != NULL)
    *from = udg_address_new_from_sockaddr (&sa, len, NULL);
  return g_strndup (buf, n);
}

static void
peer_send (UdgEndpoint *e, const gchar *text)
{
  ck_assert (udg_test_send_str (peer, udg_endpoint_get_local_name (e), text));
}

START_TEST (test_close_idempotent)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();

  ck_assert (!udg_endpoint_is_closed (e));
  ck_assert_int_ge (udg_endpoint_get_fd (e), 0);
  udg_endpoint_close (e);
  udg_endpoint_close (e);
  ck_assert (udg_endpoint_is_closed (e));
  ck_assert_int_eq (udg_endpoint_get_fd (e), -1);
}
END_TEST

START_TEST (test_send_packet_default)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(UdgAddress) from = NULL;
  g_autofree gchar *got = NULL;

  ck_assert (udg_endpoint_send_packet (e, "ABCDEF", 1.0, NULL, NULL));
  got = peer_recv (&from);
  ck_assert_str_eq (got, "ABCDEF");
  ck_assert (udg_address_equal (from, udg_endpoint_get_local_name (e)));
  ck_assert (udg_address_equal (udg_endpoint_get_peer_name (e), peer_address));
  /* Autobind: an abstract name of 5 hex digits. */
  ck_assert_int_eq (udg_address_get_kind (udg_endpoint_get_local_name (e)), UDG_ADDRESS_ABSTRACT);
}
END_TEST

START_TEST (test_send_packet_with_ancillary_data)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  int p[2], got[2];
  guint n = 2;
  char buf[16];

  ck_assert_int_eq (pipe (p), 0);
  udg_ancillary_add_fds (out, &p[1], 1);
  ck_assert (udg_endpoint_send_packet_with_ancillary (e, "fd", out, 1.0, NULL, NULL));
  ck_assert_int_eq (udg_test_recv_fds (peer, buf, sizeof buf, got, &n, 3000), 2);
  ck_assert_uint_eq (n, 1);
  ck_assert_int_eq (write (got[0], "z", 1), 1);
  ck_assert_int_eq (read (p[0], buf, 1), 1);
  close (got[0]);
  close (p[0]);
  close (p[1]);
}
END_TEST

START_TEST (test_send_packet_connection_refused)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(GError) error = NULL;

  if (_i == 1)
    {
      g_autofree gchar *got = NULL;

      ck_assert (udg_endpoint_send_packet (e, "first", 1.0, NULL, NULL));
      got = peer_recv (NULL);
    }
  close (peer);
  peer = -1;
  ck_assert (!udg_endpoint_send_packet (e, "ABCDEF", 1.0, NULL, &error));
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED), "%s", error->message);
}
END_TEST

START_TEST (test_closed_client)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(GError) error = NULL;

  udg_endpoint_close (e);
  ck_assert (!udg_endpoint_send_packet (e, "x", 1.0, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_CLOSED));
  ck_assert_str_eq (error->message, "Closed client");
  g_clear_error (&error);
  ck_assert_ptr_null (udg_endpoint_recv_packet (e, 1.0, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_CLOSED));
}
END_TEST

START_TEST (test_recv_packet_default_and_invalid)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(GError) error = NULL;
  gchar *got;

  peer_send (e, "ABCDEF");
  got = udg_endpoint_recv_packet (e, 3.0, NULL, NULL);
  ck_assert_str_eq (got, "ABCDEF");
  udg_endpoint_free_packet (e, got);
  ck_assert (udg_test_sendto (peer, udg_endpoint_get_local_name (e), "\xe9", 1));
  ck_assert_ptr_null (udg_endpoint_recv_packet (e, 3.0, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE));
}
END_TEST

START_TEST (test_recv_packet_with_ancillary_data)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(UdgAncillary) in = udg_ancillary_new ();
  int p[2];
  guint n;
  gchar *got;

  ck_assert_int_eq (pipe (p), 0);
  ck_assert (udg_test_send_fds (peer, udg_endpoint_get_local_name (e), "with fd", &p[1], 1));
  got = udg_endpoint_recv_packet_with_ancillary (e, udg_ancillary_receive_func, in, 0, 3.0, NULL, NULL);
  ck_assert_str_eq (got, "with fd");
  udg_endpoint_free_packet (e, got);
  udg_ancillary_get_fds (in, &n);
  ck_assert_uint_eq (n, 1);
  close (p[0]);
  close (p[1]);
}
END_TEST

static gpointer
send_later (gpointer e)
{
  g_usleep (100 * 1000);
  peer_send (e, "later");
  return NULL;
}

START_TEST (test_recv_packet_timeout)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(GError) error = NULL;
  GThread *t;
  gchar *got;

  ck_assert_ptr_null (udg_endpoint_recv_packet (e, 0, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_TIMED_OUT));
  /* The same words as udg_client_recv()'s. */
  ck_assert_str_eq (error->message, "No datagram arrived before the timeout");
  g_clear_error (&error);
  /* One convention for every timeout: negative and NaN are errors. */
  ck_assert_ptr_null (udg_endpoint_recv_packet (e, -1, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert_ptr_null (udg_endpoint_recv_packet (e, NAN, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert (!udg_endpoint_send_packet (e, "x", -0.5, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  t = g_thread_new ("later", send_later, e);
  got = udg_endpoint_recv_packet (e, UDG_TIMEOUT_INFINITE, NULL, NULL);
  ck_assert_str_eq (got, "later");
  udg_endpoint_free_packet (e, got);
  g_thread_join (t);
}
END_TEST

START_TEST (test_iter_received_packets)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  const gchar *letters[] = { "A", "B", "C", "D", "E", "F" };
  guint n = 0;
  gchar *got;

  for (guint i = 0; i < G_N_ELEMENTS (letters); i++)
    peer_send (e, letters[i]);
  while ((got = udg_endpoint_recv_packet (e, 0.1, NULL, NULL)) != NULL)
    {
      ck_assert_uint_lt (n, G_N_ELEMENTS (letters));
      ck_assert_str_eq (got, letters[n++]);
      udg_endpoint_free_packet (e, got);
    }
  ck_assert_uint_eq (n, 6);
}
END_TEST

START_TEST (test_with_local_name)
{
  g_autofree gchar *local = g_build_filename (dir, "local.sock", NULL);
  g_autoptr(GError) error = NULL;
  UdgEndpoint *e = udg_endpoint_new (peer_path, local, ascii, &error);
  g_autoptr(UdgAddress) from = NULL;
  g_autofree gchar *got = NULL;

  ck_assert_ptr_nonnull (e);
  ck_assert_str_eq (udg_address_get_path (udg_endpoint_get_local_name (e)), local);
  ck_assert (udg_endpoint_send_packet (e, "hi", 1.0, NULL, NULL));
  got = peer_recv (&from);
  ck_assert_str_eq (udg_address_get_path (from), local);
  ck_assert (g_file_test (local, G_FILE_TEST_EXISTS));
  udg_endpoint_unref (e);
  /* It removes the file it created. */
  ck_assert (!g_file_test (local, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST (test_peer_name_not_set)
{
  g_autofree gchar *nobody = g_build_filename (dir, "nobody.sock", NULL);
  g_autoptr(GError) error = NULL;

  ck_assert_ptr_null (udg_endpoint_new (nobody, NULL, ascii, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error (&error);
  /* Adopting a socket that is not connected. */
  ck_assert_ptr_null (udg_endpoint_new_from_fd (udg_test_socket (""), ascii, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED));
}
END_TEST

START_TEST (test_local_name_not_set)
{
  g_autoptr(GError) error = NULL;
  int fd = udg_test_socket (UDG_TEST_UNBOUND);
  struct sockaddr_un sa;
  socklen_t len = udg_address_to_sockaddr (peer_address, &sa);
  guint baseline = udg_test_count_fds ();

  ck_assert_int_eq (connect (fd, (struct sockaddr *) &sa, len), 0);
  ck_assert_ptr_null (udg_endpoint_new_from_fd (fd, ascii, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  ck_assert_str_eq (error->message, "UnixDatagramClient requires the socket to be named.");
  ck_assert_uint_eq (udg_test_count_fds (), baseline - 1); /* the fd was closed */
}
END_TEST

START_TEST (test_from_fd)
{
  g_autoptr(GError) error = NULL;
  int fd = udg_test_socket ("");
  struct sockaddr_un sa;
  socklen_t len = udg_address_to_sockaddr (peer_address, &sa);
  g_autoptr(UdgEndpoint) e = NULL;
  g_autofree gchar *got = NULL;

  ck_assert_int_eq (connect (fd, (struct sockaddr *) &sa, len), 0);
  e = udg_endpoint_new_from_fd (fd, ascii, &error);
  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (udg_endpoint_get_fd (e), fd);
  ck_assert (udg_endpoint_send_packet (e, "adopted", 1.0, NULL, NULL));
  got = peer_recv (NULL);
  ck_assert_str_eq (got, "adopted");
}
END_TEST

/* --- threads --------------------------------------------------------------- */

typedef struct
{
  UdgEndpoint *e;
  gdouble timeout;
  gchar *got;
  GError *error;
  gint64 took_ms;
} Recv;

static gpointer
recv_thread (gpointer data)
{
  Recv *r = data;
  gint64 t0 = udg_test_now_ms ();

  r->got = udg_endpoint_recv_packet (r->e, r->timeout, NULL, &r->error);
  r->took_ms = udg_test_now_ms () - t0;
  return NULL;
}

START_TEST (test_close_while_waiting)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  Recv r = { e, UDG_TIMEOUT_INFINITE, NULL, NULL, 0 };
  GThread *t = g_thread_new ("recv", recv_thread, &r);
  gint64 t0;

  g_usleep (200 * 1000); /* let it block: the test holds either way */
  t0 = udg_test_now_ms ();
  udg_endpoint_close (e);
  g_thread_join (t);
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  ck_assert (g_error_matches (r.error, UDG_ERROR, UDG_ERROR_CLOSED));
  g_clear_error (&r.error);
}
END_TEST

START_TEST (test_recv_in_background_thread)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  Recv r = { e, 3.0, NULL, NULL, 0 };
  GThread *t = g_thread_new ("recv", recv_thread, &r);

  peer_send (e, "echo");
  g_thread_join (t);
  ck_assert_str_eq (r.got, "echo");
  g_free (r.got);
}
END_TEST

/* A second receiver waits for the lock, and that wait counts. */
START_TEST (test_lock_acquisition_timeout)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  Recv holder = { e, 3.0, NULL, NULL, 0 };
  Recv waiter = { e, 1.0, NULL, NULL, 0 };
  GThread *t1 = g_thread_new ("holder", recv_thread, &holder);
  GThread *t2;

  g_usleep (100 * 1000);
  t2 = g_thread_new ("waiter", recv_thread, &waiter);
  g_thread_join (t2);
  ck_assert (g_error_matches (waiter.error, UDG_ERROR, UDG_ERROR_TIMED_OUT));
  ck_assert_int_ge (waiter.took_ms, 900);
  ck_assert_int_lt (waiter.took_ms, 2000);
  g_thread_join (t1);
  ck_assert (g_error_matches (holder.error, UDG_ERROR, UDG_ERROR_TIMED_OUT));
  ck_assert_int_ge (holder.took_ms, 2900);
  g_clear_error (&waiter.error);
  g_clear_error (&holder.error);
}
END_TEST

START_TEST (test_cancellable)
{
  g_autoptr(UdgEndpoint) e = connect_endpoint ();
  g_autoptr(GCancellable) c = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (c);
  ck_assert_ptr_null (udg_endpoint_recv_packet (e, 5.0, c, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
}
END_TEST

/* An endpoint against the udgram server, end to end. */
static gboolean
echo (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  return req != NULL && udg_client_send_packet (client, req, error);
}

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

START_TEST (test_against_server)
{
  static const UdgHandlerFuncs funcs = { .handle = echo };
  g_autofree gchar *spath = g_build_filename (dir, "server.sock", NULL);
  g_autoptr(UdgServer) server = udg_server_new (spath, ascii, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(UdgEndpoint) e = NULL;
  GThread *t = g_thread_new ("serve", serve, server);
  const gchar *msgs[] = { "one", "two", "three" };

  ck_assert (udg_server_wait_serving (server, 5));
  e = udg_endpoint_new (spath, NULL, ascii, NULL);
  ck_assert_ptr_nonnull (e);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree gchar *got = NULL;

      ck_assert (udg_endpoint_send_packet (e, msgs[i], 1.0, NULL, NULL));
      got = udg_endpoint_recv_packet (e, 1.0, NULL, NULL);
      ck_assert_str_eq (got, msgs[i]);
    }
  for (guint i = 0; i < 3; i++)
    ck_assert (udg_endpoint_send_packet (e, msgs[i], 1.0, NULL, NULL));
  for (guint i = 0; i < 3; i++)
    {
      g_autofree gchar *got = udg_endpoint_recv_packet (e, 1.0, NULL, NULL);

      ck_assert_str_eq (got, msgs[i]);
    }
  udg_server_shutdown (server);
  g_thread_join (t);
  udg_server_close (server, NULL);
}
END_TEST

/* The server restarts on the same path (a new socket): a long-lived
 * endpoint goes on.  _i == 1: a send while no server is there fails, and
 * does not break the endpoint. */
START_TEST (test_server_restarted)
{
  static const UdgHandlerFuncs funcs = { .handle = echo };
  g_autofree gchar *spath = g_build_filename (dir, "server.sock", NULL);
  g_autoptr(UdgEndpoint) e = NULL;
  g_autoptr(GError) error = NULL;

  for (int run = 0; run < 3; run++)
    {
      g_autoptr(UdgServer) server = udg_server_new (spath, ascii, &funcs, NULL, NULL, NULL, NULL);
      GThread *t = g_thread_new ("serve", serve, server);
      g_autofree gchar *text = g_strdup_printf ("run %d", run);
      g_autofree gchar *got = NULL;

      ck_assert (udg_server_wait_serving (server, 5));
      if (e == NULL)
        e = udg_endpoint_new (spath, NULL, ascii, NULL);
      ck_assert_ptr_nonnull (e);
      ck_assert_msg (udg_endpoint_send_packet (e, text, 1.0, NULL, &error), "run %d: %s", run,
                     error != NULL ? error->message : "");
      got = udg_endpoint_recv_packet (e, 2.0, NULL, &error);
      ck_assert_msg (got != NULL, "run %d: %s", run, error != NULL ? error->message : "");
      ck_assert_str_eq (got, text);
      udg_server_shutdown (server);
      g_thread_join (t);
      udg_server_close (server, NULL);
      if (_i == 1)
        {
          ck_assert (!udg_endpoint_send_packet (e, "nobody", 1.0, NULL, &error));
          ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
                         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED), "%s", error->message);
          g_clear_error (&error);
        }
    }
}
END_TEST

/* "Permission denied" says what decides it: a socket file nobody may
 * write, reached by a user that is not its owner (root drops to nobody in a
 * child: root is never refused). */
START_TEST (test_permission_denied_says_what_to_check)
{
  static const UdgHandlerFuncs funcs = { .handle = echo };
  g_autofree gchar *spath = g_build_filename (dir, "closed.sock", NULL);
  g_autoptr(UdgServer) server = udg_server_new (spath, ascii, &funcs, NULL, NULL, NULL, NULL);
  int status = -1;
  pid_t pid;

  ck_assert (udg_server_activate (server, NULL));
  ck_assert_int_eq (chmod (spath, 0), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(UdgEndpoint) e = NULL;

      if (geteuid () == 0 && (setgid (65534) < 0 || setuid (65534) < 0))
        _exit (3);
      e = udg_endpoint_new (spath, NULL, ascii, &error);
      if (e != NULL)
        _exit (1);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
          strstr (error->message, spath) == NULL || strstr (error->message, "ls -ld") == NULL)
        {
          g_printerr ("%s\n", error->message);
          _exit (2);
        }
      _exit (0);
    }
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "child status %d", status);
  udg_server_close (server, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgEndpoint");
  TCase *tc = udg_test_tcase_create ("endpoint");

  tcase_set_timeout (tc, 30);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_close_idempotent);
  tcase_add_test (tc, test_send_packet_default);
  tcase_add_test (tc, test_send_packet_with_ancillary_data);
  tcase_add_loop_test (tc, test_send_packet_connection_refused, 0, 2);
  tcase_add_test (tc, test_closed_client);
  tcase_add_test (tc, test_recv_packet_default_and_invalid);
  tcase_add_test (tc, test_recv_packet_with_ancillary_data);
  tcase_add_test (tc, test_recv_packet_timeout);
  tcase_add_test (tc, test_iter_received_packets);
  tcase_add_test (tc, test_with_local_name);
  tcase_add_test (tc, test_peer_name_not_set);
  tcase_add_test (tc, test_local_name_not_set);
  tcase_add_test (tc, test_from_fd);
  tcase_add_test (tc, test_close_while_waiting);
  tcase_add_test (tc, test_recv_in_background_thread);
  tcase_add_test (tc, test_lock_acquisition_timeout);
  tcase_add_test (tc, test_cancellable);
  tcase_add_test (tc, test_against_server);
  tcase_add_test (tc, test_permission_denied_says_what_to_check);
  tcase_add_loop_test (tc, test_server_restarted, 0, 2);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
