/* The invariants of docs/design.md, each through real sockets: one invocation
 * per client, FIFO per client, a dispatcher that never waits for a handler,
 * nothing lost silently, a stop that drains within its bound, no leak across runs, per-client
 * context variables, pool saturation, the server's threads under SCHED_BATCH.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/udg-tuning.h"

#define N_CLIENTS 8
#define N_MESSAGES 40

static Fixture f;

/* --- one invocation per client, FIFO ----------------------------------------- */

typedef struct
{
  GMutex lock;
  GHashTable *in_flight;  /* peer string -> count */
  GHashTable *last_seq;   /* peer string -> last sequence number + 1 */
  gint overlap;
  gint disorder;
} Tracker;

static Tracker tracker;

static gboolean
tracking_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *who = udg_address_to_string (udg_client_get_peer_name (client));
  g_autofree gchar *req = NULL;
  gint n, seq;

  g_mutex_lock (&tracker.lock);
  n = GPOINTER_TO_INT (g_hash_table_lookup (tracker.in_flight, who)) + 1;
  g_hash_table_insert (tracker.in_flight, g_strdup (who), GINT_TO_POINTER (n));
  if (n > 1)
    tracker.overlap++;
  g_mutex_unlock (&tracker.lock);

  req = udg_client_recv (client, NULL, error);
  g_usleep (200); /* widen the window an overlap would need */
  seq = req != NULL ? atoi (req) : -1;

  g_mutex_lock (&tracker.lock);
  if (seq != GPOINTER_TO_INT (g_hash_table_lookup (tracker.last_seq, who)))
    tracker.disorder++;
  g_hash_table_insert (tracker.last_seq, g_strdup (who), GINT_TO_POINTER (seq + 1));
  g_hash_table_insert (tracker.in_flight, g_strdup (who), GINT_TO_POINTER (n - 1));
  g_mutex_unlock (&tracker.lock);
  return req != NULL && udg_client_send_packet (client, req, error);
}

typedef struct
{
  Fixture *f;
  int index;
  gint received;
  gint ordered;
} ClientRun;

static gpointer
client_thread (gpointer data)
{
  ClientRun *run = data;
  g_autofree gchar *name = g_strdup_printf ("c%d.sock", run->index);
  int c = fixture_client (run->f, name);

  /* Send everything first, so that datagrams queue behind a running
   * invocation, then read the replies. */
  for (int i = 0; i < N_MESSAGES; i++)
    {
      g_autofree gchar *msg = g_strdup_printf ("%d", i);

      while (!udg_test_send_str (c, run->f->address, msg))
        g_usleep (100); /* the server's queue (max_dgram_qlen) is full */
    }
  run->ordered = TRUE;
  for (int i = 0; i < N_MESSAGES; i++)
    {
      g_autofree gchar *reply = udg_test_recv_str (c, 5000);

      if (reply == NULL)
        break;
      run->received++;
      if (atoi (reply) != i)
        run->ordered = FALSE;
    }
  close (c);
  return NULL;
}

START_TEST (test_one_invocation_per_client_fifo)
{
  static const UdgHandlerFuncs funcs = { .handle = tracking_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  ClientRun runs[N_CLIENTS];
  GThread *threads[N_CLIENTS];
  UdgServerStats stats;

  g_mutex_init (&tracker.lock);
  tracker.in_flight = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tracker.last_seq = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tracker.overlap = tracker.disorder = 0;
  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  for (int i = 0; i < N_CLIENTS; i++)
    {
      runs[i] = (ClientRun) { &f, i, 0, FALSE };
      threads[i] = g_thread_new ("client", client_thread, &runs[i]);
    }
  for (int i = 0; i < N_CLIENTS; i++)
    {
      g_thread_join (threads[i]);
      ck_assert_int_eq (runs[i].received, N_MESSAGES);
      ck_assert (runs[i].ordered);
    }
  g_mutex_lock (&tracker.lock);
  ck_assert_int_eq (tracker.overlap, 0);
  ck_assert_int_eq (tracker.disorder, 0);
  g_mutex_unlock (&tracker.lock);
  udg_server_get_stats (f.ts->server, &stats);
  ck_assert_uint_eq (stats.received, N_CLIENTS * N_MESSAGES);
  ck_assert_uint_eq (stats.handled, N_CLIENTS * N_MESSAGES);
  fixture_stop (&f);
  g_hash_table_unref (tracker.in_flight);
  g_hash_table_unref (tracker.last_seq);
  g_mutex_clear (&tracker.lock);
}
END_TEST

/* --- the dispatcher never waits for a handler ---------------------------------- */

static gboolean
maybe_sleepy_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  GCancellable *cancellable = udg_client_get_cancellable (client);

  if (req == NULL)
    return FALSE;
  if (g_str_equal (req, "sleep"))
    {
      /* 3 s of work, interruptible by shutdown. */
      for (int i = 0; i < 300 && !g_cancellable_is_cancelled (cancellable); i++)
        g_usleep (10 * 1000);
    }
  return udg_client_send_packet (client, req, error);
}

START_TEST (test_dispatcher_not_blocked_by_handler)
{
  static const UdgHandlerFuncs funcs = { .handle = maybe_sleepy_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  guint cores = MAX (1, g_get_num_processors ());
  guint n_sleepers = MAX (1, cores - 1);
  int sleepers[64];
  int fast;
  UdgServerStats stats;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  n_sleepers = MIN (n_sleepers, G_N_ELEMENTS (sleepers));
  fast = fixture_client (&f, "fast.sock");
  /* Handlers busy with 3 s of work on all cores but one. */
  for (guint i = 0; i < n_sleepers; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("s%u.sock", i);

      sleepers[i] = fixture_client (&f, name);
      ck_assert (udg_test_send_str (sleepers[i], f.address, "sleep"));
      /* More behind it: they wait in its mailbox, not in the socket. */
      for (int j = 0; j < 5; j++)
        ck_assert (udg_test_send_str (sleepers[i], f.address, "more"));
    }
  /* The dispatcher reads them all while the handlers sleep. */
  for (int tries = 0; tries < 500; tries++)
    {
      udg_server_get_stats (f.ts->server, &stats);
      if (stats.received == n_sleepers * 6 && stats.running_invocations == n_sleepers &&
          stats.queued_datagrams == n_sleepers * 5)
        break;
      g_usleep (10 * 1000);
    }
  ck_assert_uint_eq (stats.received, n_sleepers * 6);
  ck_assert_uint_eq (stats.running_invocations, n_sleepers);
  ck_assert_uint_eq (stats.queued_datagrams, n_sleepers * 5);
  if (cores >= 2)
    {
      gint64 t0 = udg_test_now_ms ();

      for (int i = 0; i < 20; i++)
        {
          ck_assert (udg_test_send_str (fast, f.address, "quick"));
          ASSERT_REPLY (fast, "quick", 2000);
        }
      /* Served while the sleepers still sleep. */
      ck_assert_int_lt (udg_test_now_ms () - t0, 2000);
    }
  for (guint i = 0; i < n_sleepers; i++)
    close (sleepers[i]);
  close (fast);
  fixture_stop (&f);
}
END_TEST

/* --- handlers that take long use the cores ------------------------------------ */

static gint busy_now, busy_max;

static gboolean
slow_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  gint now;

  if (req == NULL)
    return FALSE;
  now = g_atomic_int_add (&busy_now, 1) + 1;
  for (gint max = g_atomic_int_get (&busy_max); now > max; max = g_atomic_int_get (&busy_max))
    if (g_atomic_int_compare_and_exchange (&busy_max, max, now))
      break;
  /* 4 ms of work, on a thread of its own while it runs. */
  g_usleep (4 * 1000);
  g_atomic_int_add (&busy_now, -1);
  return udg_client_send_packet (client, req, error);
}

/* Eight clients queued behind 4 ms invocations: the pool runs as many
 * threads as there are cores (the scheduler's resize_unlocked()), so two
 * invocations run at once. */
START_TEST (test_long_handlers_use_the_cores)
{
  static const UdgHandlerFuncs funcs = { .handle = slow_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int clients[8];
  gint most;

  if (g_get_num_processors () < 2)
    return; /* one pool thread per core: nothing to show on one core */
  g_atomic_int_set (&busy_now, 0);
  g_atomic_int_set (&busy_max, 0);
  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("long%u.sock", i);

      clients[i] = fixture_client (&f, name);
      ck_assert (udg_test_send_str (clients[i], f.address, name));
    }
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("long%u.sock", i);

      ASSERT_REPLY (clients[i], name, 5000);
      close (clients[i]);
    }
  fixture_stop (&f);
  most = g_atomic_int_get (&busy_max);
  ck_assert_int_ge (most, 2); /* 1 with a pool of one thread */
}
END_TEST

/* --- nothing lost silently: mailbox limit, oversize ---------------------------- */

static gint gate_open;

static gboolean
gated_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  while (!g_atomic_int_get (&gate_open) &&
         !g_cancellable_is_cancelled (udg_client_get_cancellable (client)))
    g_usleep (1000);
  return req != NULL;
}

START_TEST (test_mailbox_limit_drops_are_counted)
{
  static const UdgHandlerFuncs funcs = { .handle = gated_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  UdgServerStats stats;
  int c;

  g_atomic_int_set (&gate_open, 0);
  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  config.mailbox_limit = 4;
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");
  for (int i = 0; i < 20; i++)
    while (!udg_test_send_str (c, f.address, "x"))
      g_usleep (100);
  /* Every datagram read is accounted for: running + queued + dropped. */
  for (int tries = 0; tries < 500; tries++)
    {
      udg_server_get_stats (f.ts->server, &stats);
      if (stats.received == 20 &&
          stats.dropped_mailbox + stats.queued_datagrams + stats.running_invocations == 20)
        break;
      g_usleep (10 * 1000);
    }
  ck_assert_uint_eq (stats.received, 20);
  ck_assert_uint_le (stats.queued_datagrams, 4);
  ck_assert_uint_eq (stats.dropped_mailbox + stats.queued_datagrams + stats.running_invocations, 20);
  ck_assert_uint_ge (stats.dropped_mailbox, 15);
  g_atomic_int_set (&gate_open, 1);
  for (int tries = 0; tries < 500; tries++)
    {
      udg_server_get_stats (f.ts->server, &stats);
      if (stats.handled + stats.dropped_mailbox == 20 && stats.active_clients == 0)
        break;
      g_usleep (10 * 1000);
    }
  ck_assert_uint_eq (stats.handled + stats.dropped_mailbox, 20);
  ck_assert_uint_eq (stats.active_clients, 0);
  ck_assert_uint_eq (stats.queued_datagrams, 0);
  close (c);
  fixture_stop (&f);
}
END_TEST

START_TEST (test_oversize_is_never_parsed)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  UdgServerStats stats;
  g_autofree gchar *big = g_strnfill (101, 'a');
  g_autofree gchar *fits = g_strnfill (100, 'b');
  g_autofree gchar *fits_upper = g_strnfill (100, 'B');
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  config.max_datagram_size = 100;
  fixture_start (&f, &config, NULL);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, big));
  ck_assert (udg_test_send_str (c, f.address, fits));
  ASSERT_REPLY (c, fits_upper, 3000);
  udg_server_get_stats (f.ts->server, &stats);
  ck_assert_uint_eq (stats.truncated, 1);
  ck_assert_uint_eq (stats.received, 2);
  ck_assert_uint_eq (udg_test_server_count_requests (f.ts, NULL), 1);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* Empty datagrams are requests, not EOF. */
static gboolean
length_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  g_autofree gchar *text = NULL;

  if (req == NULL)
    return FALSE;
  text = g_strdup_printf ("len=%zu", strlen (req));
  return udg_client_send_packet (client, text, error);
}

START_TEST (test_empty_datagram)
{
  static const UdgHandlerFuncs funcs = { .handle = length_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_sendto (c, f.address, "", 0));
  ASSERT_REPLY (c, "len=0", 3000);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* --- the server's threads run under SCHED_BATCH ------------------------------ */

static gboolean
policy_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  g_autofree gchar *text = NULL;

  if (req == NULL)
    return FALSE;
  text = g_strdup_printf ("policy=%d", sched_getscheduler (0));
  return udg_client_send_packet (client, text, error);
}

/* Threads of this process whose scheduling policy is @policy (the 41st
 * field of /proc/self/task/TID/stat). */
static guint
count_threads_with_policy (int policy)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const gchar *tid;
  guint n = 0;

  ck_assert (dir != NULL);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_strdup_printf ("/proc/self/task/%s/stat", tid);
      g_autofree gchar *stat = NULL;
      g_auto(GStrv) fields = NULL;
      const gchar *end;

      if (!g_file_get_contents (path, &stat, NULL, NULL) || (end = strrchr (stat, ')')) == NULL)
        continue;                         /* the thread is gone */
      /* After the command's ')' come fields 3 on. */
      fields = g_strsplit (end + 2, " ", -1);
      if (g_strv_length (fields) > 38 && atoi (fields[38]) == policy)
        n++;
    }
  return n;
}

START_TEST (test_threads_run_sched_batch)
{
  static const UdgHandlerFuncs funcs = { .handle = policy_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  g_autofree gchar *expected = NULL;
  int c;

  /* A policy the application chose is kept: this only holds for a test run
   * under SCHED_OTHER, as it is everywhere but under chrt. */
  if (!UDG_SCHED_BATCH || sched_getscheduler (0) != SCHED_OTHER)
    return;
  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "x"));
  /* The handler's pool thread... */
  expected = g_strdup_printf ("policy=%d", SCHED_BATCH);
  ASSERT_REPLY (c, expected, 3000);
  /* ... and the reader (the test's own threads stay as they were). */
  ck_assert_int_eq (sched_getscheduler (0), SCHED_OTHER);
  ck_assert_uint_ge (count_threads_with_policy (SCHED_BATCH), 2);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* --- pool saturation: waiting handlers never lose a new client ----------------- */

/* Both threads of the pool wait in udg_client_recv(): a new client's
 * datagram ends the longest wait (its recv fails with UDG_ERROR_TIMED_OUT,
 * counted in waits_ended, one WARNING naming the uid) and is answered; the
 * other wait goes on. */
START_TEST (test_pool_saturation)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  UdgServerStats stats;
  g_autofree gchar *uid_text = g_strdup_printf ("uid %u holds 2", (guint) getuid ());
  int w1, w2, late;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  config.max_threads = 2;
  fixture_start (&f, &config, NULL);
  udg_test_log_clear ();
  w1 = fixture_client (&f, "w1.sock");
  w2 = fixture_client (&f, "w2.sock");
  late = fixture_client (&f, "late.sock");
  ck_assert (udg_test_send_str (w1, f.address, "__wait__"));
  WAIT_STATS (f.ts->server, stats, stats.blocked_in_recv == 1);
  ck_assert (udg_test_send_str (w2, f.address, "__wait__"));
  WAIT_STATS (f.ts->server, stats, stats.blocked_in_recv == 2);
  ck_assert_uint_eq (stats.blocked_in_recv, 2);
  ck_assert_uint_eq (stats.waits_ended, 0);
  /* Both threads wait: the new client ends w1's wait, the longest. */
  ck_assert (udg_test_send_str (late, f.address, "late"));
  ASSERT_REPLY (late, "LATE", 3000);
  udg_server_get_stats (f.ts->server, &stats);
  ck_assert_uint_eq (stats.waits_ended, 1);
  ck_assert (udg_test_wait_log (G_LOG_LEVEL_WARNING, "All 2 handler threads are taken", 1, 2000));
  {
    g_autoptr(GPtrArray) records = udg_test_log_records ();
    gboolean named = FALSE;

    for (guint i = 0; i < records->len; i++)
      {
        UdgTestLogRecord *r = g_ptr_array_index (records, i);

        named |= strstr (r->text, uid_text) != NULL && strstr (r->text, "raise max_threads") != NULL;
      }
    ck_assert_msg (named, "no WARNING says '%s' and names the option", uid_text);
  }
  /* w1's handler saw a timeout and returned: its next datagram starts a new
   * invocation; w2 still waits for its second one. */
  ck_assert (udg_test_send_str (w1, f.address, "go"));
  ASSERT_REPLY (w1, "GO", 3000);
  ck_assert (udg_test_send_str (w2, f.address, "go"));
  ASSERT_REPLY (w2, "After wait: go", 3000);
  ck_assert_uint_eq (udg_test_log_count_text (G_LOG_LEVEL_WARNING, "All 2 handler threads are taken"), 1);
  close (w1);
  close (w2);
  close (late);
  fixture_stop (&f);
}
END_TEST

/* --- a stop drains what was read -------------------------------------------------- */

/* A handler that takes @user_data milliseconds per request, then echoes it. */
static gboolean
slow_echo_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  if (req == NULL)
    return FALSE;
  g_usleep ((gulong) GPOINTER_TO_UINT (user_data) * 1000);
  return udg_client_send_packet (client, req, error);
}

typedef struct
{
  UdgServer *server;
  gboolean ok;
} Run;

static gpointer
run_thread (gpointer data)
{
  Run *run = data;

  run->ok = udg_server_serve_forever (run->server, NULL);
  return NULL;
}

/* 100 numbered requests, a stop while most are queued, and a second run on
 * the same socket: every request answered exactly once, in order, none
 * dropped.  The stop handled what the first run had read, and what was
 * still in the socket's queue waited there for the second run. */
START_TEST (test_stop_drains)
{
  static const UdgHandlerFuncs funcs = { .handle = slow_echo_handle };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, GUINT_TO_POINTER (5), NULL, NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  UdgServerStats stats;
  Run run = { server, FALSE };
  GThread *thread;
  int c = udg_test_socket ("");
  guint next = 0;

  ck_assert_ptr_nonnull (server);
  thread = g_thread_new ("serve", run_thread, &run);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  /* Connected, as most clients are: its queue holds all the replies (an
   * unconnected one holds net.unix.max_dgram_qlen). */
  {
    struct sockaddr_un sa;
    socklen_t len = udg_address_to_sockaddr (g_ptr_array_index (addresses, 0), &sa);

    ck_assert (connect (c, (struct sockaddr *) &sa, len) == 0);
  }
  for (guint i = 0; i < 100; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("%u", i);

      ck_assert (udg_test_send_str (c, g_ptr_array_index (addresses, 0), text));
    }
  /* Stopped with some 90 requests in the mailbox (5 ms each). */
  udg_server_shutdown (server);
  g_thread_join (thread);
  ck_assert (run.ok);
  udg_server_get_stats (server, &stats);
  ck_assert_uint_eq (stats.dropped_shutdown, 0);
  ck_assert_uint_eq (stats.handled, stats.received);
  ck_assert_uint_ge (stats.received, 50);
  /* The second run serves what the socket kept. */
  thread = g_thread_new ("serve", run_thread, &run);
  ck_assert (udg_server_wait_serving (server, 5));
  for (; next < 100; next++)
    {
      g_autofree gchar *expected = g_strdup_printf ("%u", next);
      g_autofree gchar *got = udg_test_recv_str (c, 3000);

      ck_assert_msg (got != NULL, "reply %u missing", next);
      ck_assert_str_eq (got, expected);
    }
  udg_server_shutdown (server);
  g_thread_join (thread);
  udg_server_get_stats (server, &stats);
  printf ("stop drains: 100 requests over two runs, %" G_GUINT64_FORMAT " handled, %" G_GUINT64_FORMAT
          " dropped at shutdown\n", stats.handled, stats.dropped_shutdown);
  ck_assert_uint_eq (stats.received, 100);
  ck_assert_uint_eq (stats.handled, 100);
  ck_assert_uint_eq (stats.dropped_shutdown, 0);
  ASSERT_NO_REPLY (c, 100);
  close (c);
}
END_TEST

/* The drain is bounded: a handler of 100 ms per request, 20 requests
 * queued, a bound of 0.25 s: the stop returns soon after the bound, and
 * what was left is dropped and counted. */
START_TEST (test_drain_bound)
{
  static const UdgHandlerFuncs funcs = { .handle = slow_echo_handle };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  UdgServerStats stats;
  Run run = { NULL, FALSE };
  GThread *thread;
  int c = udg_test_socket ("");
  gint64 t0;

  udg_server_options_set_drain_timeout (o, 0.25);
  server = udg_server_new ("", p, &funcs, GUINT_TO_POINTER (100), NULL, o, NULL);
  run.server = server;
  thread = g_thread_new ("serve", run_thread, &run);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  for (guint i = 0; i < 20; i++)
    ck_assert (udg_test_send_str (c, g_ptr_array_index (addresses, 0), "x"));
  WAIT_STATS (server, stats, stats.received == 20);
  t0 = udg_test_now_ms ();
  udg_server_shutdown (server);
  g_thread_join (thread);
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  udg_server_get_stats (server, &stats);
  ck_assert_uint_eq (stats.received, 20);
  ck_assert_uint_gt (stats.dropped_shutdown, 0);
  ck_assert_uint_eq (stats.handled + stats.dropped_shutdown, 20);
  ck_assert_uint_eq (udg_test_log_count_text (G_LOG_LEVEL_WARNING, "The drain bound (0.25 s) passed"), 1);
  close (c);
}
END_TEST

/* --- no leak across 100 runs ---------------------------------------------------- */

START_TEST (test_serve_shutdown_cycles)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "s.sock", NULL);
  g_autofree gchar *cpath = g_build_filename (dir, "c.sock", NULL);
  int c = udg_test_socket (cpath);
  guint baseline;
  g_autoptr(UdgAddress) to = udg_address_new_from_string (path, NULL);
  UdgTestServer *ts;
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;

  config.path = path;
  ts = udg_test_server_new (&config, NULL, NULL);
  ck_assert_ptr_nonnull (ts);
  baseline = 0;
  for (int i = 0; i < 100; i++)
    {
      g_autoptr(GError) error = NULL;

      ck_assert_msg (udg_test_server_start (ts, &error), "run %d: %s", i, error ? error->message : "");
      ck_assert (udg_test_send_str (c, to, "__ping__"));
      ASSERT_REPLY (c, "pong", 3000);
      udg_test_server_stop (ts);
      g_clear_pointer (&ts->address, udg_address_unref);
      if (i == 0)
        baseline = udg_test_count_fds ();
      else
        ck_assert_uint_eq (udg_test_count_fds (), baseline);
    }
  udg_test_server_free (ts);
  close (c);
  ck_assert (!g_file_test (path, G_FILE_TEST_EXISTS));
  udg_test_rmdir (dir);
}
END_TEST

/* --- per-client context variables ---------------------------------------------- */

static UdgContextVar *service_var;
static UdgContextVar *client_var;

static gboolean
ctx_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  udg_context_var_set (service_var, g_strdup ("from service_init"));
  return TRUE;
}

static gboolean
ctx_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *who = udg_address_to_string (udg_client_get_peer_name (client));
  const gchar *before = udg_context_var_get (client_var);
  g_autofree gchar *req = NULL;
  g_autofree gchar *text = NULL;

  /* Set before the first recv; it must survive across recv calls. */
  udg_context_var_set (client_var, g_strdup (who));
  req = udg_client_recv (client, NULL, error);
  if (req == NULL)
    return FALSE;
  text = g_strdup_printf ("%s|%s|%s", (const gchar *) udg_context_var_get (service_var),
                          before != NULL ? before : "unset",
                          g_str_equal (udg_context_var_get (client_var), who) ? "mine" : "other");
  return udg_client_send_packet (client, text, error);
}

START_TEST (test_context_vars)
{
  static const UdgHandlerFuncs funcs = { ctx_init, ctx_handle, NULL, { NULL } };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int a, b;

  service_var = udg_context_var_new ("service", g_free);
  client_var = udg_context_var_new ("client", g_free);
  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  a = fixture_client (&f, "a.sock");
  b = fixture_client (&f, "b.sock");
  for (int round = 0; round < 3; round++)
    {
      ck_assert (udg_test_send_str (a, f.address, "x"));
      ck_assert (udg_test_send_str (b, f.address, "x"));
      ASSERT_REPLY (a, "from service_init|unset|mine", 3000);
      ASSERT_REPLY (b, "from service_init|unset|mine", 3000);
    }
  /* The server's own thread never sees what handlers set. */
  ck_assert_ptr_null (udg_context_var_get (client_var));
  ck_assert_ptr_null (udg_context_var_get (service_var));
  close (a);
  close (b);
  fixture_stop (&f);
  udg_context_var_unref (service_var);
  udg_context_var_unref (client_var);
}
END_TEST

/* --- per-client state is freed -------------------------------------------------- */

START_TEST (test_client_state_freed)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  UdgServerStats stats;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &(const UdgHandlerFuncs) { .handle = length_handle });
  /* One-shot peers, each a client that ends with its invocation. */
  for (int i = 0; i < 300; i++)
    {
      int c = udg_test_socket ("");

      ck_assert (udg_test_send_str (c, f.address, "abc"));
      ASSERT_REPLY (c, "len=3", 3000);
      close (c);
    }
  for (int tries = 0; tries < 500; tries++)
    {
      udg_server_get_stats (f.ts->server, &stats);
      if (stats.active_clients == 0 && stats.running_invocations == 0)
        break;
      g_usleep (10 * 1000);
    }
  ck_assert_uint_eq (stats.active_clients, 0);
  ck_assert_uint_eq (stats.queued_datagrams, 0);
  ck_assert_uint_eq (stats.handled, 300);
  /* Each client holds a reference to the server: one not freed would keep
   * the server alive past fixture_stop(), which the leak checkers of the
   * sanitizer and valgrind runs report. */
  fixture_stop (&f);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgServer invariants");
  TCase *tc = udg_test_tcase_create ("invariants");

  tcase_set_timeout (tc, 60);
  tcase_add_loop_test (tc, test_one_invocation_per_client_fifo, 0, 4);
  tcase_add_loop_test (tc, test_dispatcher_not_blocked_by_handler, 0, 2);
  tcase_add_loop_test (tc, test_long_handlers_use_the_cores, 0, 2);
  tcase_add_loop_test (tc, test_mailbox_limit_drops_are_counted, 0, 2);
  tcase_add_loop_test (tc, test_oversize_is_never_parsed, 0, 4);
  tcase_add_loop_test (tc, test_empty_datagram, 0, 2);
  tcase_add_loop_test (tc, test_threads_run_sched_batch, 0, 2);
  tcase_add_loop_test (tc, test_pool_saturation, 0, 2);
  tcase_add_test (tc, test_serve_shutdown_cycles);
  tcase_add_test (tc, test_stop_drains);
  tcase_add_test (tc, test_drain_bound);
  tcase_add_loop_test (tc, test_context_vars, 0, 2);
  tcase_add_loop_test (tc, test_client_state_freed, 0, 2);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
