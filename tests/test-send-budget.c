/* The server socket's send buffer, shared fairly: a connected peer that
 * never reads its replies, a connected flood beside ping/pong clients, many
 * slow unconnected peers, a peer that stops reading and reads again, and a
 * client that reads but is always a little behind (never refused).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static gboolean
echo_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  g_autoptr(GError) local = NULL;

  if (req == NULL)
    return FALSE;
  if (g_str_equal (req, "flood me"))
    {
      /* Replies until one fails (a full queue). */
      for (int i = 0; i < 100000; i++)
        if (!udg_client_send_packet (client, "reply", NULL))
          break;
      return TRUE;
    }
  /* A reply refused because the peer does not read is dropped, as a
   * datagram service does; other errors are the handler's. */
  if (!udg_client_send_packet (client, req, &local))
    {
      if (g_error_matches (local, UDG_ERROR, UDG_ERROR_WOULD_BLOCK))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

static const UdgHandlerFuncs echo = { .handle = echo_handle };

static gpointer
serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

static UdgServer *
start_server (UdgServerOptions *options, GThread **thread)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  UdgServer *server = udg_server_new ("", p, &echo, NULL, NULL, options, NULL);

  *thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  return server;
}

static void
stop_server (UdgServer *server, GThread *thread)
{
  udg_server_shutdown (server);
  g_thread_join (thread);
  udg_server_unref (server);
}

static UdgAddress *
server_address (UdgServer *server)
{
  g_autoptr(GPtrArray) addresses = udg_server_get_addresses (server);

  return udg_address_ref (g_ptr_array_index (addresses, 0));
}

/* A socket bound to an abstract name and connected to @to, as EasyNetwork's
 * client and most clients are. */
static int
connected_socket (UdgAddress *to)
{
  int fd = udg_test_socket ("");
  struct sockaddr_un sa;
  socklen_t len = udg_address_to_sockaddr (to, &sa);

  ck_assert_msg (connect (fd, (struct sockaddr *) &sa, len) == 0, "connect: %s", g_strerror (errno));
  return fd;
}

/* A request to a server answers within @ms: its time, or -1. */
static gint64
ping (int fd, UdgAddress *to, int ms)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autofree gchar *reply = NULL;

  if (!udg_test_send_str (fd, to, "__ping__"))
    return -1;
  reply = udg_test_recv_str (fd, ms);
  if (reply == NULL || !g_str_equal (reply, "__ping__"))
    return -1;
  return g_get_monotonic_time () - t0;
}

static guint
drain (int fd)
{
  char buf[2048];
  guint n = 0;

  while (recv (fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
    n++;
  return n;
}

static gboolean
warned_not_reading (void)
{
  g_autoptr(GPtrArray) records = udg_test_log_records ();

  for (guint i = 0; i < records->len; i++)
    {
      UdgTestLogRecord *r = g_ptr_array_index (records, i);

      if (r->level == G_LOG_LEVEL_WARNING && strstr (r->text, "does not read its replies") != NULL)
        return TRUE;
    }
  return FALSE;
}

/* --- the hog ------------------------------------------------------------------------ */

START_TEST (test_hog)
{
  g_autoptr(UdgAddress) to = NULL;
  UdgServerStats stats;
  GThread *thread;
  UdgServer *server = start_server (NULL, &thread);
  int hog, fresh;
  gint64 worst = 0;

  to = server_address (server);
  udg_test_log_clear ();
  /* 30 000 requests from a connected socket that never reads. */
  hog = connected_socket (to);
  /* Many of its requests are dropped at its full mailbox on a slow machine:
   * the first asks for replies until one fails, whatever the machine. */
  ck_assert (send (hog, "flood me", 8, 0) == 8);
  for (int i = 0; i < 30000; i++)
    ck_assert (send (hog, "hog", 3, 0) == 3);
  /* Every request is read, then handled or dropped at its full mailbox. */
  WAIT_STATS (server, stats, stats.received == 30001 && stats.running_invocations == 0 &&
                             stats.handled + stats.dropped_mailbox == stats.received && stats.not_reading > 0);
  ck_assert_uint_eq (stats.handled + stats.dropped_mailbox, 30001);
  ck_assert_uint_gt (stats.not_reading, 0);
  ck_assert (warned_not_reading ());

  /* A fresh client is answered at once, five times out of five. */
  fresh = udg_test_socket ("");
  for (int i = 0; i < 5; i++)
    {
      gint64 us = ping (fresh, to, 2000);

      ck_assert_msg (us >= 0, "ping %d not answered", i);
      worst = MAX (worst, us);
    }
  printf ("hog: %" G_GUINT64_FORMAT " replies to it refused; a fresh client answered 5/5, the slowest in %.2f ms\n",
          stats.not_reading, worst / 1000.0);
  ck_assert_int_lt (worst, 500 * 1000);
  close (fresh);
  close (hog);
  stop_server (server, thread);
}
END_TEST

/* --- the hog in another network namespace ----------------------------------------------- */

/* sock_diag shows only the sockets of the server's network namespace; a
 * peer reaching the socket's path from another one is bounded from the
 * send buffer alone.  Needs CAP_SYS_ADMIN for unshare() (CI runs as root). */
START_TEST (test_hog_other_netns)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "server.sock", NULL);
  g_autofree gchar *hog_path = g_build_filename (dir, "hog.sock", NULL);
  g_autoptr(UdgSerializer) ser = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (ser);
  g_autoptr(UdgAddress) to = NULL;
  g_autoptr(UdgAddress) hog_address = NULL;
  struct sockaddr_un sa, hog_sa;
  socklen_t len, hog_len;
  UdgServer *server;
  UdgServerStats stats;
  GThread *thread;
  int ready[2], hold[2], status, fresh;
  pid_t child;
  char c = 0;
  gint64 worst = 0;

  server = udg_server_new (path, p, &echo, NULL, NULL, NULL, NULL);
  thread = g_thread_new ("serve", serve, server);
  ck_assert (udg_server_wait_serving (server, 5));
  to = server_address (server);
  ck_assert (pipe (ready) == 0 && pipe (hold) == 0);
  hog_address = udg_address_new_from_string (hog_path, NULL);
  hog_len = udg_address_to_sockaddr (hog_address, &hog_sa);
  len = udg_address_to_sockaddr (to, &sa);
  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0)
    {
      /* Only system calls here: the parent has threads. */
      int hog;

      close (ready[0]);
      close (hold[1]);
      if (unshare (CLONE_NEWNET) != 0)
        _exit (77);
      hog = socket (AF_UNIX, SOCK_DGRAM, 0);
      if (hog < 0 || bind (hog, (struct sockaddr *) &hog_sa, hog_len) != 0 ||
          connect (hog, (struct sockaddr *) &sa, len) != 0)
        _exit (1);
      if (send (hog, "flood me", 8, 0) != 8)
        _exit (1);
      for (int i = 0; i < 30000; i++)
        if (send (hog, "hog", 3, 0) != 3)
          _exit (1);
      if (write (ready[1], "r", 1) != 1)
        _exit (1);
      /* Stays, reading nothing, until the parent closes the pipe. */
      (void) !read (hold[0], &c, 1);
      _exit (0);
    }
  close (ready[1]);
  close (hold[0]);
  if (read (ready[0], &c, 1) != 1)
    {
      ck_assert (waitpid (child, &status, 0) == child);
      close (ready[0]);
      close (hold[1]);
      stop_server (server, thread);
      udg_test_rmdir (dir);
      if (WIFEXITED (status) && WEXITSTATUS (status) == 77)
        {
          printf ("SKIP: test_hog_other_netns needs CAP_SYS_ADMIN\n");
          return;
        }
      ck_abort_msg ("the hog failed (status %d)", status);
    }
  WAIT_STATS (server, stats, stats.received == 30001 && stats.running_invocations == 0 &&
                             stats.handled + stats.dropped_mailbox == stats.received && stats.not_reading > 0);
  ck_assert_msg (stats.not_reading > 0,
                 "no reply refused: %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT " handled, %" G_GUINT64_FORMAT
                 " dropped at the mailbox, %" G_GUINT64_FORMAT " send errors, %" G_GUINT64_FORMAT " running",
                 stats.received, stats.handled, stats.dropped_mailbox, stats.send_errors,
                 stats.running_invocations);
  fresh = udg_test_socket ("");
  for (int i = 0; i < 5; i++)
    {
      gint64 us = ping (fresh, to, 2000);

      ck_assert_msg (us >= 0, "ping %d not answered", i);
      worst = MAX (worst, us);
    }
  printf ("hog in another network namespace: %" G_GUINT64_FORMAT " replies to it refused; "
          "a fresh client answered 5/5, the slowest in %.2f ms\n", stats.not_reading, worst / 1000.0);
  close (fresh);
  close (hold[1]);
  close (ready[0]);
  ck_assert (waitpid (child, &status, 0) == child);
  ck_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  stop_server (server, thread);
  udg_test_rmdir (dir);
}
END_TEST

/* --- a peer that stops reading, then reads again ----------------------------------- */

START_TEST (test_reads_again)
{
  g_autoptr(UdgAddress) to = NULL;
  UdgServerStats stats;
  GThread *thread;
  UdgServer *server = start_server (NULL, &thread);
  int peer;
  gboolean served = FALSE;
  guint pending;
  gint64 until;

  to = server_address (server);
  peer = connected_socket (to);
  ck_assert_int_ge (ping (peer, to, 2000), 0);
  /* It stops reading until the server refuses it. */
  for (int i = 0; i < 200000; i++)
    {
      ck_assert (send (peer, "x", 1, 0) == 1);
      if (i % 1000 == 999)
        {
          udg_server_get_stats (server, &stats);
          if (stats.not_reading > 0)
            break;
        }
    }
  WAIT_STATS (server, stats, stats.not_reading > 0);
  ck_assert_uint_gt (stats.not_reading, 0);
  /* It reads what it was sent, and is served again.  Its requests still
   * queued at the server are answered first: their replies are skipped
   * (counting attempts instead of time failed on a loaded machine, where
   * each attempt met such a reply at once). */
  pending = drain (peer);
  ck_assert_uint_gt (pending, 0);
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!served && g_get_monotonic_time () < until)
    {
      g_autofree gchar *reply = NULL;

      ck_assert (udg_test_send_str (peer, to, "__ping__"));
      while ((reply = udg_test_recv_str (peer, 200)) != NULL && !g_str_equal (reply, "__ping__"))
        g_clear_pointer (&reply, g_free);
      served = reply != NULL;
    }
  ck_assert_msg (served, "not served again within 10 s after reading %u replies", pending);
  ck_assert_int_ge (ping (peer, to, 2000), 0);
  close (peer);
  stop_server (server, thread);
}
END_TEST

/* --- a client that reads, a little behind its replies --------------------------------- */

/* The server's send buffer as the kernel applies it: twice what the server
 * asks, net.core.wmem_max. */
static guint64
server_sndbuf (void)
{
  g_autofree gchar *text = NULL;
  guint64 size = 212992;

  if (g_file_get_contents ("/proc/sys/net/core/wmem_max", &text, NULL, NULL))
    size = g_ascii_strtoull (text, NULL, 10);
  return 2 * MIN (size, (guint64) G_MAXINT / 2);
}

/* A connected client that keeps some replies queued but reads one for each
 * request it sends: its queue is never seen empty, yet it reads, and is
 * never refused.  _i == 0: some 3/16 of the buffer queued, more than twice a
 * peer's free share, less than a quarter; _i == 1: 3/8 of the buffer, under
 * pressure, where the server watches it (it stops sending to it and sees
 * its queue empty). */
START_TEST (test_busy_reader_not_refused)
{
  g_autoptr(UdgAddress) to = NULL;
  g_autofree gchar *request = g_strnfill (3000, 'b');
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  UdgServerStats stats;
  GThread *thread;
  UdgServer *server;
  /* About 4.4 KB charged per 3000-byte reply. */
  guint backlog = (guint) MAX (4, server_sndbuf () * (_i == 0 ? 3 : 6) / 16 / 4400);
  guint sent = 0, received = 0;
  gint64 until;
  int peer;

  /* Room in the mailbox for all its requests, on a slow build too: this
   * is about the send buffer. */
  udg_server_options_set_mailbox_limit (options, backlog * 2);
  udg_server_options_set_mailbox_bytes_limit (options, backlog * 2 * 3000);
  server = start_server (options, &thread);
  to = server_address (server);
  peer = connected_socket (to);
  for (; sent < backlog; sent++)
    ck_assert (send (peer, request, 3000, 0) == 3000);
  /* For 600 ms (more than UDG_NOT_READING_USEC), one in, one out. */
  until = g_get_monotonic_time () + 600 * 1000;
  while (g_get_monotonic_time () < until)
    {
      g_autofree gchar *reply = udg_test_recv_str (peer, 5000);

      ck_assert_msg (reply != NULL, "reply %u of %u missing", received, sent);
      received++;
      ck_assert (send (peer, request, 3000, 0) == 3000);
      sent++;
    }
  while (received < sent)
    {
      g_autofree gchar *reply = udg_test_recv_str (peer, 5000);

      if (reply == NULL)
        udg_server_get_stats (server, &stats);
      ck_assert_msg (reply != NULL, "reply %u of %u missing (%" G_GUINT64_FORMAT " refused, %" G_GUINT64_FORMAT
                     " send errors, %" G_GUINT64_FORMAT " dropped at the mailbox)",
                     received, sent, stats.not_reading, stats.send_errors, stats.dropped_mailbox);
      received++;
    }
  udg_server_get_stats (server, &stats);
  printf ("busy reader: %u requests with %u replies queued (%u/16 of the buffer) for 600 ms, %" G_GUINT64_FORMAT
          " refused\n", sent, backlog, _i == 0 ? 3 : 6, stats.not_reading);
  ck_assert_uint_eq (stats.not_reading, 0);
  close (peer);
  stop_server (server, thread);
}
END_TEST

/* --- a connected flood beside ping/pong clients --------------------------------------- */

typedef struct
{
  UdgAddress *to;
  gint stop;
  guint64 replies;
  guint timeouts;
} Polite;

static gpointer
polite_thread (gpointer data)
{
  Polite *p = data;
  int fd = connected_socket (p->to);
  guint64 replies = 0;
  guint timeouts = 0;

  while (!g_atomic_int_get (&p->stop))
    {
      if (ping (fd, p->to, 2000) >= 0)
        replies++;
      else
        timeouts++;
    }
  close (fd);
  __atomic_fetch_add (&p->replies, replies, __ATOMIC_RELAXED);
  __atomic_fetch_add (&p->timeouts, timeouts, __ATOMIC_RELAXED);
  return NULL;
}

typedef struct
{
  UdgAddress *to;
  gint stop;
  guint64 sent;
} Flooder;

static gpointer
flooder_thread (gpointer data)
{
  Flooder *f = data;
  int fd = g_getenv ("UDG_TEST_UNCONNECTED_FLOOD") ? udg_test_socket ("") : connected_socket (f->to);
  struct sockaddr_un sa;
  socklen_t len = udg_address_to_sockaddr (f->to, &sa);
  char payload[512];

  memset (payload, 'f', sizeof payload);
  fcntl (fd, F_SETFL, O_NONBLOCK);
  while (!g_atomic_int_get (&f->stop))
    if (sendto (fd, payload, sizeof payload, 0, (struct sockaddr *) &sa, len) == (ssize_t) sizeof payload)
      f->sent++;
  close (fd);
  return NULL;
}

static guint64
rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, "VmRSS:")) == NULL)
    return 0;
  return g_ascii_strtoull (line + 6, NULL, 10);
}

/* Replies to 8 ping/pong clients over @seconds, with or without a flooder. */
static guint64
polite_replies (UdgAddress *to, gdouble seconds, gboolean flood, guint64 *flooded)
{
  Polite polite = { to, 0, 0, 0 };
  Flooder flooder = { to, 0, 0 };
  GThread *threads[8], *f = NULL;
  g_autoptr(GTimer) timer = g_timer_new ();

  if (flood)
    f = g_thread_new ("flooder", flooder_thread, &flooder);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("polite", polite_thread, &polite);
  /* The duration is the measurement, not a wait for something to happen. */
  while (g_timer_elapsed (timer, NULL) < seconds)
    g_usleep (10 * 1000);
  g_atomic_int_set (&polite.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  if (f != NULL)
    {
      g_atomic_int_set (&flooder.stop, 1);
      g_thread_join (f);
      *flooded = flooder.sent;
    }
  ck_assert_msg (polite.timeouts == 0, "%u polite requests timed out", polite.timeouts);
  return polite.replies;
}

START_TEST (test_connected_flood)
{
  const gchar *env = g_getenv ("UDG_TEST_FLOOD_SECONDS");
  gdouble seconds = env != NULL ? g_ascii_strtod (env, NULL) : 1.5;
  g_autoptr(UdgAddress) to = NULL;
  UdgServerStats stats;
  GThread *thread;
  UdgServer *server = start_server (NULL, &thread);
  guint64 alone, beside, flooded = 0, rss0, rss1;

  to = server_address (server);
  alone = polite_replies (to, seconds, FALSE, NULL);
  rss0 = rss_kib ();
  beside = polite_replies (to, seconds, TRUE, &flooded);
  rss1 = rss_kib ();
  udg_server_get_stats (server, &stats);
  printf ("connected flood (%.1f s): 8 polite clients got %" G_GUINT64_FORMAT " replies alone, %" G_GUINT64_FORMAT
          " beside a flooder (%.2fx) that sent %" G_GUINT64_FORMAT " requests; %" G_GUINT64_FORMAT
          " replies to it refused; RSS %+.1f MiB\n",
          seconds, alone, beside, (gdouble) beside / (gdouble) MAX (alone, 1), flooded, stats.not_reading,
          ((gdouble) rss1 - (gdouble) rss0) / 1024.0);
  fflush (stdout);
  ck_assert_uint_gt (stats.not_reading, 0);
  /* Without the send budget the polite clients time out (asserted in
   * polite_replies()).  Their share is a figure of the machine: bounded
   * loosely here (0.17-0.32x alone, 0.09-0.10x beside the other suites
   * of make check, whose threads share the two cores), not at all under a
   * sanitizer (which slows the clients more than the server, and whose
   * allocator keeps what is freed). */
  if (udg_test_sanitizer () == NULL)
    {
      ck_assert_uint_ge (beside * 20, alone);
      ck_assert_int_lt ((gint64) rss1 - (gint64) rss0, 16 * 1024);
    }
  stop_server (server, thread);
}
END_TEST

/* --- many slow unconnected peers ---------------------------------------------------- */

START_TEST (test_slow_unconnected_peers)
{
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(UdgAddress) to = NULL;
  UdgServerStats stats;
  GThread *thread;
  UdgServer *server;
  int slow[32], fresh;
  gint64 worst = 0;

  /* Eight threads: at most two may wait for a slow peer at once. */
  udg_server_options_set_max_threads (o, 8);
  udg_server_options_set_send_timeout (o, 1.0);
  server = start_server (o, &thread);
  to = server_address (server);
  for (guint i = 0; i < G_N_ELEMENTS (slow); i++)
    {
      slow[i] = udg_test_socket ("");
      ck_assert (udg_test_send_str (slow[i], to, "flood me"));
    }
  /* While their invocations fill the queues, a fresh client is answered:
   * the slow peers cannot hold all the threads. */
  fresh = udg_test_socket ("");
  for (int i = 0; i < 20; i++)
    {
      gint64 us = ping (fresh, to, 3000);

      ck_assert_msg (us >= 0, "ping %d not answered", i);
      worst = MAX (worst, us);
    }
  WAIT_STATS (server, stats, stats.send_errors >= G_N_ELEMENTS (slow) && stats.running_invocations == 0);
  printf ("32 slow unconnected peers: a fresh client answered 20/20, the slowest in %.1f ms; %" G_GUINT64_FORMAT
          " send errors\n", worst / 1000.0, stats.send_errors);
  ck_assert_uint_ge (stats.send_errors, G_N_ELEMENTS (slow));
  ck_assert_int_lt (worst, 500 * 1000);
  for (guint i = 0; i < G_N_ELEMENTS (slow); i++)
    close (slow[i]);
  close (fresh);
  stop_server (server, thread);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("Send buffer");
  TCase *tc = udg_test_tcase_create ("send-buffer");

  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_hog);
  tcase_add_test (tc, test_hog_other_netns);
  tcase_add_test (tc, test_reads_again);
  tcase_add_loop_test (tc, test_busy_reader_not_refused, 0, 2);
  tcase_add_test (tc, test_connected_flood);
  tcase_add_test (tc, test_slow_unconnected_peers);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
