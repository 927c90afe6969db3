/* Reliability: stale socket files, adopted sockets and socket activation,
 * slow and vanished peers, a flood beside well-behaved clients, and bad
 * datagrams in a loop.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static gboolean
echo_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  return req != NULL && udg_client_send_packet (client, req, error);
}

static const UdgHandlerFuncs echo = { .handle = echo_handle };

static UdgServer *
new_server (const gchar *path, UdgServerOptions *options, GError **error)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);

  return udg_server_new (path, p, &echo, NULL, NULL, options, error);
}

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

/* --- stale socket files ------------------------------------------------------ */

START_TEST (test_stale_socket)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "s.sock", NULL);
  g_autofree gchar *plain = g_build_filename (dir, "plain", NULL);
  g_autoptr(UdgServerOptions) reuse = udg_server_options_new ();
  g_autoptr(GError) error = NULL;
  int stale = udg_test_socket (path);

  close (stale); /* the file stays: a crashed run's leftover */
  udg_server_options_set_reuse_stale (reuse, TRUE);
  {
    g_autoptr(UdgServer) by_default = new_server (path, NULL, NULL);

    ck_assert (!udg_server_activate (by_default, &error));
    ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE));
    ck_assert_ptr_nonnull (strstr (error->message, path));
    ck_assert_ptr_nonnull (strstr (error->message, "udg_server_options_set_reuse_stale"));
    g_clear_error (&error);
  }
  {
    g_autoptr(UdgServer) replacing = new_server (path, reuse, NULL);
    g_autoptr(UdgServer) thief = new_server (path, reuse, NULL);

    ck_assert (udg_server_activate (replacing, NULL));
    /* A live server's socket is never taken. */
    ck_assert (!udg_server_activate (thief, &error));
    ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE));
    ck_assert_ptr_nonnull (strstr (error->message, "a server is listening there"));
    g_clear_error (&error);
    ck_assert (udg_server_is_listening (replacing));
    udg_server_close (replacing, NULL);
  }
  {
    /* A file that is not a socket is never removed. */
    g_autoptr(UdgServer) server = new_server (plain, reuse, NULL);

    ck_assert (g_file_set_contents (plain, "data", -1, NULL));
    ck_assert (!udg_server_activate (server, &error));
    ck_assert_ptr_nonnull (strstr (error->message, "not a socket"));
    ck_assert (g_file_test (plain, G_FILE_TEST_IS_REGULAR));
  }
  udg_test_rmdir (dir);
}
END_TEST

/* --- adopted sockets ----------------------------------------------------------- */

START_TEST (test_new_from_fd)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "adopted.sock", NULL);
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(UdgAddress) address = udg_address_new_pathname (path, NULL);
  int fd = udg_test_socket (path);
  int c = udg_test_socket ("");
  GThread *thread;

  server = udg_server_new_from_fd (fd, p, &echo, NULL, NULL, NULL, &error);
  ck_assert_ptr_nonnull (server);
  ck_assert (udg_server_is_listening (server));
  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  ck_assert (udg_test_send_str (c, address, "adopted"));
  ASSERT_REPLY (c, "adopted", 3000);
  udg_server_shutdown (server);
  g_thread_join (thread);
  udg_server_close (server, NULL);
  /* Its file belongs to whoever bound it. */
  ck_assert (g_file_test (path, G_FILE_TEST_EXISTS));
  close (c);

  /* Not a bound datagram socket: refused, and the fd closed. */
  {
    int stream = socket (AF_UNIX, SOCK_STREAM, 0);
    int unbound = socket (AF_UNIX, SOCK_DGRAM, 0);

    ck_assert_ptr_null (udg_server_new_from_fd (stream, p, &echo, NULL, NULL, NULL, &error));
    ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
    ck_assert (!udg_test_fd_is_open (stream));
    g_clear_error (&error);
    ck_assert_ptr_null (udg_server_new_from_fd (unbound, p, &echo, NULL, NULL, NULL, &error));
    ck_assert (!udg_test_fd_is_open (unbound));
  }
  udg_test_rmdir (dir);
}
END_TEST

START_TEST (test_listen_fds)
{
  pid_t child = fork ();
  int status;

  ck_assert_int_ge (child, 0);
  if (child == 0)
    {
      /* As systemd would: the socket on fd 3, LISTEN_PID our pid. */
      int s = socket (AF_UNIX, SOCK_DGRAM, 0);
      g_autofree gchar *pid = g_strdup_printf ("%d", (int) getpid ());
      g_autoptr(GArray) fds = NULL;
      g_autoptr(GError) error = NULL;

      if (dup2 (s, 3) != 3)
        _exit (10);
      g_setenv ("LISTEN_PID", pid, TRUE);
      g_setenv ("LISTEN_FDS", "1", TRUE);
      g_setenv ("LISTEN_FDNAMES", "udgram", TRUE);
      fds = udg_listen_fds (TRUE, &error);
      if (fds == NULL || fds->len != 1 || g_array_index (fds, gint, 0) != 3)
        _exit (11);
      if (g_getenv ("LISTEN_FDS") != NULL || !(fcntl (3, F_GETFD) & FD_CLOEXEC))
        _exit (12);
      /* For another process: nothing. */
      g_setenv ("LISTEN_PID", "1", TRUE);
      g_setenv ("LISTEN_FDS", "1", TRUE);
      g_clear_pointer (&fds, g_array_unref);
      fds = udg_listen_fds (FALSE, NULL);
      if (fds == NULL || fds->len != 0)
        _exit (13);
      g_setenv ("LISTEN_PID", "x", TRUE);
      g_clear_pointer (&fds, g_array_unref);
      fds = udg_listen_fds (FALSE, &error);
      _exit (fds == NULL && g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT) ? 0 : 14);
    }
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert (WIFEXITED (status));
  ck_assert_int_eq (WEXITSTATUS (status), 0);
}
END_TEST

/* A server for a path serves the socket the service manager passed for
 * that path (LISTEN_FDS), whatever its name, and leaves its file; the
 * option's name picks another; what a server took is not handed out
 * again.  In a child, as systemd starts a service. */
START_TEST (test_inherit_passed_socket)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "app.sock", NULL);
  g_autofree gchar *other = g_build_filename (dir, "other.sock", NULL);
  pid_t child = fork ();
  int status;

  ck_assert_int_ge (child, 0);
  if (child == 0)
    {
      /* Out of the way of 3 and 4 first. */
      int a = fcntl (udg_test_socket (path), F_DUPFD, 100), b = fcntl (udg_test_socket (other), F_DUPFD, 100);
      g_autofree gchar *pid = g_strdup_printf ("%d", (int) getpid ());
      g_autoptr(UdgAddress) to = udg_address_new_pathname (path, NULL);
      g_autoptr(UdgServer) server = NULL;
      g_autoptr(UdgServer) named = NULL;
      g_autoptr(UdgServerOptions) by_name = udg_server_options_new ();
      g_autoptr(GArray) sockets = NULL;
      g_autoptr(GArray) rest = NULL;
      g_autoptr(GPtrArray) addresses = NULL;
      GThread *thread;
      int c;

      if (dup2 (a, 3) != 3 || dup2 (b, 4) != 4)
        _exit (10);
      close (a);
      close (b);
      c = udg_test_socket ("");
      g_setenv ("LISTEN_PID", pid, TRUE);
      g_setenv ("LISTEN_FDS", "2", TRUE);
      g_setenv ("LISTEN_FDNAMES", "app.socket:second", TRUE);
      /* By address: fd 3, whatever it is called. */
      server = new_server (path, NULL, NULL);
      if (!udg_server_activate (server, NULL))
        _exit (11);
      sockets = udg_server_get_sockets (server);
      if (sockets->len != 1 || g_array_index (sockets, gint, 0) != 3)
        _exit (12);
      thread = g_thread_new ("serve", serve, server);
      if (!udg_server_wait_serving (server, 5) || !udg_test_send_str (c, to, "inherited"))
        _exit (13);
      {
        g_autofree gchar *got = udg_test_recv_str (c, 3000);

        if (got == NULL || !g_str_equal (got, "inherited"))
          _exit (14);
      }
      udg_server_shutdown (server);
      g_thread_join (thread);
      udg_server_close (server, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        _exit (15); /* the manager's file */
      /* By name: fd 4, bound elsewhere. */
      udg_server_options_set_fd_name (by_name, "second");
      named = new_server (path, by_name, NULL);
      if (!udg_server_activate (named, NULL))
        _exit (16);
      addresses = udg_server_get_addresses (named);
      if (addresses->len != 1 || g_strcmp0 (udg_address_get_path (g_ptr_array_index (addresses, 0)), other) != 0)
        _exit (17);
      /* Both taken: nothing left for udg_listen_fds(). */
      rest = udg_listen_fds (FALSE, NULL);
      _exit (rest != NULL && rest->len == 0 ? 0 : 18);
    }
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert (WIFEXITED (status));
  ck_assert_int_eq (WEXITSTATUS (status), 0);
  udg_test_rmdir (dir);
}
END_TEST

/* The fd store: with $FDSTORE and $NOTIFY_SOCKET, a server hands the socket
 * it bound to the service manager (FDSTORE=1, FDNAME=, the descriptor)
 * before READY=1, and leaves its file when it closes; a fresh server
 * cannot take the path while the manager holds the socket, and takes it
 * once the manager let go (a stop for good). */
START_TEST (test_fd_store)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "app.sock", NULL);
  g_autofree gchar *notify = g_build_filename (dir, "notify.sock", NULL);
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(UdgServer) fresh = NULL;
  g_autoptr(GError) error = NULL;
  int manager = udg_test_socket (notify);
  char buf[256];
  int got[4];
  guint n = G_N_ELEMENTS (got);
  gssize len;
  GThread *thread;
  struct stat held, bound;

  g_setenv ("NOTIFY_SOCKET", notify, TRUE);
  g_setenv ("FDSTORE", "1", TRUE);
  udg_server_options_set_notify (o, TRUE);
  server = new_server (path, o, NULL);
  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  len = udg_test_recv_fds (manager, buf, sizeof buf - 1, got, &n, 3000);
  ck_assert_int_gt (len, 0);
  buf[len] = '\0';
  ck_assert_str_eq (buf, "FDSTORE=1\nFDNAME=udgram");
  ck_assert_uint_eq (n, 1);
  ck_assert_int_eq (fstat (got[0], &held), 0);
  {
    g_autoptr(GArray) fds = udg_server_get_sockets (server);

    ck_assert_int_eq (fstat (g_array_index (fds, gint, 0), &bound), 0);
    ck_assert (held.st_ino == bound.st_ino && held.st_dev == bound.st_dev);
  }
  /* READY=1 comes after. */
  len = udg_test_recv (manager, buf, sizeof buf - 1, 3000);
  ck_assert_int_gt (len, 0);
  buf[len] = '\0';
  ck_assert (g_str_has_prefix (buf, "READY=1"));
  udg_server_shutdown (server);
  g_thread_join (thread);
  udg_server_close (server, NULL);
  ck_assert (g_file_test (path, G_FILE_TEST_EXISTS));
  /* The manager holds the socket: not taken over. */
  fresh = new_server (path, NULL, NULL);
  ck_assert (!udg_server_activate (fresh, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE));
  ck_assert_ptr_nonnull (strstr (error->message, "a server is listening there"));
  /* A stop for good: the manager lets go, and a fresh start binds again. */
  close (got[0]);
  ck_assert (udg_server_activate (fresh, NULL));
  udg_server_close (fresh, NULL);
  g_unsetenv ("NOTIFY_SOCKET");
  g_unsetenv ("FDSTORE");
  close (manager);
  udg_test_rmdir (dir);
}
END_TEST

/* --- slow and vanished peers ----------------------------------------------------- */

static gboolean
chatty_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  g_autoptr(GError) local = NULL;

  if (req == NULL)
    return FALSE;
  if (g_str_equal (req, "flood me"))
    {
      /* Reply until the peer's queue is full. */
      for (int i = 0; i < 10000; i++)
        if (!udg_client_send_packet (client, "reply", &local))
          break;
      return udg_client_send_packet (client, local != NULL && g_error_matches (local, UDG_ERROR, UDG_ERROR_WOULD_BLOCK)
                                     ? "would block" : "no error", NULL) || TRUE;
    }
  if (!udg_client_send_packet (client, req, &local))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

START_TEST (test_slow_peer)
{
  static const UdgHandlerFuncs funcs = { .handle = chatty_handle };
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  UdgServerStats stats;
  GThread *thread;
  int slow = udg_test_socket (""), fast = udg_test_socket ("");
  gint64 t0;

  udg_server_options_set_send_timeout (o, 0.3);
  server = udg_server_new ("", p, &funcs, NULL, NULL, o, NULL);
  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  /* The slow peer asks for a flood and never reads. */
  ck_assert (udg_test_send_str (slow, g_ptr_array_index (addresses, 0), "flood me"));
  /* Meanwhile another client is answered at once. */
  t0 = udg_test_now_ms ();
  for (int i = 0; i < 20; i++)
    {
      ck_assert (udg_test_send_str (fast, g_ptr_array_index (addresses, 0), "quick"));
      ASSERT_REPLY (fast, "quick", 2000);
    }
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  WAIT_STATS (server, stats, stats.send_errors >= 1 && stats.running_invocations == 0);
  ck_assert_uint_ge (stats.send_errors, 1);
  udg_server_shutdown (server);
  g_thread_join (thread);
  close (slow);
  close (fast);
}
END_TEST

/* The handler of test_vanished_peer replies only once the peer is gone:
 * the test writes to this pipe after it closed and removed its socket. */
static gboolean
gated_echo_handle (UdgClient *client, gpointer user_data, GError **error)
{
  int *gate = user_data;
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  struct pollfd pfd = { gate[0], POLLIN, 0 };

  if (req == NULL)
    return FALSE;
  if (poll (&pfd, 1, 5000) != 1)
    {
      /* The test then fails: the error it waits for is not this one. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the test never opened the gate");
      return FALSE;
    }
  return udg_client_send_packet (client, req, error);
}

START_TEST (test_vanished_peer)
{
  static const UdgHandlerFuncs funcs = { .handle = gated_echo_handle };
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *cpath = g_build_filename (dir, "gone.sock", NULL);
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  int gate[2];
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  UdgServerStats stats;
  GThread *thread;
  int c;

  ck_assert_int_eq (pipe (gate), 0);
  server = udg_server_new ("", p, &funcs, gate, NULL, NULL, NULL);
  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  udg_test_log_clear ();
  /* A client that sends, then closes and removes its socket at once. */
  c = udg_test_socket (cpath);
  ck_assert (udg_test_send_str (c, g_ptr_array_index (addresses, 0), "bye"));
  close (c);
  unlink (cpath);
  ck_assert_int_eq (write (gate[1], "", 1), 1);
  /* What a peer causes is a WARNING, not a CRITICAL. */
  ck_assert (udg_test_wait_log (G_LOG_LEVEL_WARNING, "Exception occurred during processing of request from", 1, 3000));
  ck_assert_uint_eq (udg_test_log_count (G_LOG_LEVEL_CRITICAL), 0);
  {
    g_autoptr(GPtrArray) records = udg_test_log_records ();
    gboolean clear = FALSE;

    for (guint i = 0; i < records->len; i++)
      {
        UdgTestLogRecord *r = g_ptr_array_index (records, i);

        /* Named as in C, with what to do about it. */
        if (r->error != NULL && strstr (r->error, "Unable to send a datagram to") != NULL &&
            r->error_name != NULL && g_str_has_prefix (r->error_name, "G_IO_ERROR_") &&
            r->remedy != NULL && strstr (r->remedy, "gone") != NULL)
          clear = TRUE;
      }
    ck_assert_msg (clear, "the error does not say the peer is gone");
  }
  WAIT_STATS (server, stats, stats.active_clients == 0 && stats.running_invocations == 0);
  ck_assert_uint_eq (stats.send_errors, 1);
  ck_assert_uint_eq (stats.active_clients, 0);
  udg_server_shutdown (server);
  g_thread_join (thread);
  close (gate[0]);
  close (gate[1]);
  udg_test_rmdir (dir);
}
END_TEST

/* --- a flood beside well-behaved clients ------------------------------------------ */

typedef struct
{
  UdgAddress *to;
  gint stop;
  guint64 sent;
} Flood;

static gpointer
flood_thread (gpointer data)
{
  Flood *f = data;
  int s = udg_test_socket ("");
  struct sockaddr_un sa;
  socklen_t len = udg_address_to_sockaddr (f->to, &sa);

  fcntl (s, F_SETFL, O_NONBLOCK);
  while (!g_atomic_int_get (&f->stop))
    if (sendto (s, "flood", 5, 0, (struct sockaddr *) &sa, len) == 5)
      f->sent++;
  close (s);
  return NULL;
}

static gdouble
p99_of_clients (UdgAddress *to, guint n_clients, guint rounds)
{
  g_autoptr(GArray) lat = g_array_new (FALSE, FALSE, sizeof (gdouble));
  int fds[8];

  for (guint i = 0; i < n_clients; i++)
    fds[i] = udg_test_socket ("");
  for (guint r = 0; r < rounds; r++)
    for (guint i = 0; i < n_clients; i++)
      {
        gint64 t0 = g_get_monotonic_time ();
        gdouble us;

        ck_assert (udg_test_send_str (fds[i], to, "request"));
        ASSERT_REPLY (fds[i], "request", 3000);
        us = (gdouble) (g_get_monotonic_time () - t0);
        g_array_append_val (lat, us);
      }
  for (guint i = 0; i < n_clients; i++)
    close (fds[i]);
  {
    gdouble *v = (gdouble *) (gpointer) lat->data;

    for (guint i = 1; i < lat->len; i++) /* insertion sort: a few hundred values */
      for (guint j = i; j > 0 && v[j - 1] > v[j]; j--)
        {
          gdouble t = v[j];

          v[j] = v[j - 1];
          v[j - 1] = t;
        }
    return v[(guint) (lat->len * 0.99)];
  }
}

START_TEST (test_flood)
{
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  UdgServerStats stats;
  Flood flood = { NULL, 0, 0 };
  GThread *thread, *flooder;
  gdouble quiet, noisy;

  udg_server_options_set_mailbox_limit (o, 32);
  server = new_server ("", o, NULL);
  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  flood.to = g_ptr_array_index (addresses, 0);
  quiet = p99_of_clients (flood.to, 8, 40);
  flooder = g_thread_new ("flood", flood_thread, &flood);
  noisy = p99_of_clients (flood.to, 8, 40);
  g_atomic_int_set (&flood.stop, 1);
  g_thread_join (flooder);
  WAIT_STATS (server, stats, stats.queued_datagrams == 0 && stats.running_invocations == 0);
  printf ("flood: p99 of 8 well-behaved clients %.0f us without, %.0f us with the flood; "
          "%" G_GUINT64_FORMAT " flood datagrams sent, %" G_GUINT64_FORMAT " dropped at the mailbox\n",
          quiet, noisy, flood.sent, stats.dropped_mailbox);
  /* Everything read is accounted for, and the well-behaved were served. */
  ck_assert_uint_eq (stats.received, stats.handled + stats.dropped_mailbox);
  ck_assert_uint_lt (noisy, 1000 * 1000); /* every request answered within 1 s even then */
  udg_server_shutdown (server);
  g_thread_join (thread);
}
END_TEST

/* --- bad datagrams in a loop ------------------------------------------------------ */

/* Peers sending garbage in a loop: every parse error is counted, and the
 * log gets one WARNING per peer (none CRITICAL), 32 at most in all: a loop
 * of bad datagrams cannot flood the journal. */
START_TEST (test_bad_datagrams_logged_sparingly)
{
  g_autoptr(UdgServer) server = new_server ("", NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  UdgAddress *to;
  UdgServerStats stats;
  GThread *thread;
  int peers[40];
  guint warnings;

  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  to = g_ptr_array_index (addresses, 0);
  udg_test_log_clear ();
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    peers[i] = udg_test_socket ("");
  /* 100 from the first peer, then 5 from each of the others. */
  for (guint i = 0; i < 100; i++)
    ck_assert (udg_test_send_str (peers[0], to, "\xe9t\xe9"));
  for (guint i = 1; i < G_N_ELEMENTS (peers); i++)
    for (guint j = 0; j < 5; j++)
      ck_assert (udg_test_send_str (peers[i], to, "\xff"));
  WAIT_STATS (server, stats, stats.parse_errors == 100 + 39 * 5 && stats.running_invocations == 0);
  ck_assert_uint_eq (stats.parse_errors, 100 + 39 * 5);
  ck_assert_uint_eq (stats.handler_errors, 100 + 39 * 5);
  warnings = udg_test_log_count_text (G_LOG_LEVEL_WARNING, "Exception occurred during processing of request from");
  printf ("bad datagrams: %" G_GUINT64_FORMAT " parse errors from 40 peers, %u records\n", stats.parse_errors, warnings);
  ck_assert_uint_ge (warnings, 1);
  ck_assert_uint_le (warnings, 32);
  ck_assert_uint_eq (udg_test_log_count (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL), warnings);
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    close (peers[i]);
  udg_server_shutdown (server);
  g_thread_join (thread);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("Reliability");
  TCase *tc = udg_test_tcase_create ("reliability");

  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_stale_socket);
  tcase_add_test (tc, test_new_from_fd);
  tcase_add_test (tc, test_listen_fds);
  tcase_add_test (tc, test_inherit_passed_socket);
  tcase_add_test (tc, test_fd_store);
  tcase_add_test (tc, test_slow_peer);
  tcase_add_test (tc, test_vanished_peer);
  tcase_add_test (tc, test_flood);
  tcase_add_test (tc, test_bad_datagrams_logged_sparingly);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
