/* UdgServer: construction and the lifecycle (EasyNetwork's server test cases
 * 1-13 and its server test suite), through real sockets.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define CRIT G_LOG_LEVEL_CRITICAL
#define WARN G_LOG_LEVEL_WARNING



static gboolean
echo_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  return req != NULL && udg_client_send_packet (client, req, error);
}

static const UdgHandlerFuncs echo = { .handle = echo_handle };

static UdgServer *
new_server (const gchar *path, const UdgServerOptions *options, GError **error)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);

  return udg_server_new (path, p, &echo, NULL, NULL, options, error);
}

typedef struct
{
  UdgServer *server;
  gboolean ok;
  GError *error;
} Run;

static gpointer
run_thread (gpointer data)
{
  Run *run = data;

  run->ok = udg_server_serve_forever (run->server, &run->error);
  return NULL;
}

/* --- construction --------------------------------------------------------- */

START_TEST (test_constructor_validation)
{
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *toolong = g_strnfill (120, 'a');
  UdgServer *server;

  udg_server_options_set_ancillary_bufsize (o, 8192);
  ck_assert_ptr_null (new_server ("@x", o, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  ck_assert_str_eq (error->message, "ancillary_bufsize is only meaningful with receive_ancillary_data set to TRUE");
  g_clear_error (&error);

  udg_server_options_set_receive_ancillary_data (o, TRUE);
  for (gssize bad = -42; bad <= 0; bad += 42)
    {
      udg_server_options_set_ancillary_bufsize (o, bad);
      ck_assert_ptr_null (new_server ("@x", o, &error));
      ck_assert_str_eq (error->message, "ancillary_bufsize must be a strictly positive integer");
      g_clear_error (&error);
    }
  for (gssize good = 1; good <= 65536; good *= 8192)
    {
      udg_server_options_set_ancillary_bufsize (o, good);
      server = new_server ("@x", o, &error);
      ck_assert_ptr_nonnull (server);
      ck_assert (!udg_server_is_listening (server)); /* nothing bound yet */
      udg_server_unref (server);
    }

  udg_server_options_set_unnamed_addresses_behavior (o, (UdgUnnamedAddressesBehavior) 42);
  ck_assert_ptr_null (new_server ("@x", o, &error));
  ck_assert (g_str_has_prefix (error->message, "Invalid unnamed_addresses_behavior value"));
  g_clear_error (&error);
  udg_server_options_set_unnamed_addresses_behavior (o, UDG_UNNAMED_ADDRESSES_WARN);

  udg_server_options_set_max_threads (o, 0);
  ck_assert_ptr_null (new_server ("@x", o, &error));
  g_clear_error (&error);
  udg_server_options_set_max_threads (o, 4);
  udg_server_options_set_mailbox_limit (o, 0);
  ck_assert_ptr_null (new_server ("@x", o, &error));
  g_clear_error (&error);
  udg_server_options_set_mailbox_limit (o, 4);
  udg_server_options_set_max_datagram_size (o, 0);
  ck_assert_ptr_null (new_server ("@x", o, &error));
  g_clear_error (&error);

  ck_assert_ptr_null (new_server (toolong, NULL, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
}
END_TEST

START_TEST (test_bind_errors_and_mode)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "s.sock", NULL);
  g_autofree gchar *missing = g_build_filename (dir, "no", "s.sock", NULL);
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgServer) a = NULL;
  g_autoptr(UdgServer) b = NULL;
  g_autoptr(UdgServer) c = NULL;
  g_autofree gchar *expected = NULL;
  struct stat st;

  udg_server_options_set_mode (o, 0600);
  a = new_server (path, o, NULL);
  ck_assert (udg_server_activate (a, &error));
  ck_assert (udg_server_activate (a, &error)); /* idempotent */
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert (S_ISSOCK (st.st_mode));
  ck_assert_int_eq (st.st_mode & 07777, 0600);

  /* The mode is set on the socket before bind(), and Linux creates the
   * file from the socket's mode: the file is never more open than asked.
   * The socket's own inode shows it (an untouched one is 0777). */
  {
    g_autoptr(GArray) fds = udg_server_get_sockets (a);
    struct stat sst;

    ck_assert_int_eq (fstat (g_array_index (fds, gint, 0), &sst), 0);
    ck_assert_int_eq (sst.st_mode & 07777, 0600);
  }

  /* An existing file is never removed: EADDRINUSE. */
  b = new_server (path, NULL, NULL);
  ck_assert (!udg_server_activate (b, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE));
  expected = g_strdup_printf ("error while attempting to bind on address '%s'", path);
  ck_assert (g_str_has_prefix (error->message, expected));
  g_clear_error (&error);
  ck_assert (udg_server_is_listening (a));

  c = new_server (missing, NULL, NULL);
  ck_assert (!udg_server_activate (c, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));

  ck_assert (udg_server_close (a, NULL));
  ck_assert (!g_file_test (path, G_FILE_TEST_EXISTS));
  udg_test_rmdir (dir);
}
END_TEST

/* --- lifecycle ------------------------------------------------------------ */

/* 1 */
START_TEST (test_server_close_idempotent)
{
  g_autoptr(UdgServer) server = new_server ("", NULL, NULL);

  ck_assert (udg_server_activate (server, NULL));
  for (int i = 0; i < 3; i++)
    ck_assert (udg_server_close (server, NULL));
  ck_assert (!udg_server_is_listening (server));
}
END_TEST

/* 2, 8: close while running stops it; then serve_forever -> SERVER_CLOSED. */
START_TEST (test_server_close_while_running)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "s.sock", NULL);
  g_autoptr(UdgServer) server = new_server ((_i & 1) ? "" : path, NULL, NULL);
  Run run = { server, FALSE, NULL };
  GThread *thread = g_thread_new ("serve", run_thread, &run);
  g_autoptr(GError) error = NULL;
  gint64 t0;

  ck_assert (udg_server_wait_serving (server, 5));
  ck_assert (udg_server_is_serving (server));
  t0 = udg_test_now_ms ();
  ck_assert (udg_server_close (server, NULL));
  ck_assert_int_lt (udg_test_now_ms () - t0, 500);
  ck_assert (!udg_server_is_serving (server));
  ck_assert (!udg_server_is_listening (server));
  ck_assert (!g_file_test (path, G_FILE_TEST_EXISTS));
  g_thread_join (thread);
  ck_assert (run.ok);
  ck_assert (!udg_server_serve_forever (server, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED));
  g_clear_error (&error);
  ck_assert (!udg_server_activate (server, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED));
  udg_test_rmdir (dir);
}
END_TEST

/* 4, 5, 6: the unlink rule. */
START_TEST (test_server_close_unlink_rule)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *sub = g_build_filename (dir, "sub", NULL);
  g_autofree gchar *moved = g_build_filename (dir, "moved", NULL);
  g_autofree gchar *path = g_build_filename (sub, "s.sock", NULL);
  g_autofree gchar *moved_path = g_build_filename (moved, "s.sock", NULL);
  g_autofree gchar *expected = NULL;

  ck_assert_int_eq (mkdir (sub, 0700), 0);
  udg_test_log_clear ();
  {
    /* server_close____unix_socket_already_removed:
     * Already removed: nothing logged. */
    g_autoptr(UdgServer) server = new_server (path, NULL, NULL);

    ck_assert (udg_server_activate (server, NULL));
    ck_assert_int_eq (unlink (path), 0);
    ck_assert (udg_server_close (server, NULL));
    ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 0);
  }
  {
    /* server_close____unix_socket_removed_then_reused:
     * Replaced by a regular file: left alone, nothing logged. */
    g_autoptr(UdgServer) server = new_server (path, NULL, NULL);

    ck_assert (udg_server_activate (server, NULL));
    ck_assert_int_eq (unlink (path), 0);
    ck_assert (g_file_set_contents (path, "mine", -1, NULL));
    ck_assert (udg_server_close (server, NULL));
    ck_assert (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 0);
    unlink (path);
  }
  {
    /* server_close____unix_socket_cannot_be_removed:
     * stat() fails otherwise (a path component is no longer a
     * directory): exactly one ERROR, and the file is still there. */
    g_autoptr(UdgServer) server = new_server (path, NULL, NULL);

    ck_assert (udg_server_activate (server, NULL));
    ck_assert_int_eq (rename (sub, moved), 0);
    ck_assert (g_file_set_contents (sub, "not a dir", -1, NULL));
    ck_assert (udg_server_close (server, NULL));
    ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 1);
    expected = g_strdup_printf ("Unable to clean up listening Unix socket '%s': [Errno %d] ", path, ENOTDIR);
    ck_assert_uint_eq (udg_test_log_count_text (CRIT, expected), 1);
    ck_assert (g_file_test (moved_path, G_FILE_TEST_EXISTS));
  }
  udg_test_rmdir (dir);
}
END_TEST

/* 7 */
START_TEST (test_serve_forever_already_running)
{
  g_autoptr(UdgServer) server = new_server ("", NULL, NULL);
  Run run = { server, FALSE, NULL };
  GThread *thread = g_thread_new ("serve", run_thread, &run);
  g_autoptr(GError) error = NULL;

  ck_assert (udg_server_wait_serving (server, 5));
  ck_assert (!udg_server_serve_forever (server, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_ALREADY_RUNNING));
  ck_assert_str_eq (error->message, "Server is already running");
  udg_server_shutdown (server);
  g_thread_join (thread);
  ck_assert (run.ok);
  /* The socket stays open after shutdown. */
  ck_assert (udg_server_is_listening (server));
}
END_TEST

/* serve_forever____shutdown_during_setup:
 * Shutdown during setup: serve_forever returns, never serving. */
static gint init_entered;
static gint init_release;

static gboolean
slow_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  g_atomic_int_set (&init_entered, 1);
  while (!g_atomic_int_get (&init_release))
    g_usleep (1000);
  return TRUE;
}

START_TEST (test_shutdown_during_setup)
{
  static const UdgHandlerFuncs funcs = { .service_init = slow_init, .handle = echo_handle };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, NULL, NULL, NULL, NULL);
  Run run = { server, FALSE, NULL };
  GThread *thread;
  g_autoptr(GError) error = NULL;
  gint64 t0;

  g_atomic_int_set (&init_entered, 0);
  g_atomic_int_set (&init_release, 0);
  thread = g_thread_new ("serve", run_thread, &run);
  while (!g_atomic_int_get (&init_entered))
    g_usleep (1000);
  /* 12-equivalent: close during setup is BUSY. */
  ck_assert (!udg_server_close (server, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_BUSY));
  ck_assert_str_eq (error->message, "Cannot close server during serve_forever() setup.");
  ck_assert (!udg_server_is_serving (server));
  g_atomic_int_set (&init_release, 1);
  t0 = udg_test_now_ms ();
  udg_server_shutdown (server);
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  g_thread_join (thread);
  ck_assert (!udg_server_wait_serving (server, 0));
  ck_assert_uint_eq (udg_test_log_count_text (G_LOG_LEVEL_INFO, "Start serving at"), 0);
}
END_TEST

/* 10, 11: serving without waiting for an event; 10 concurrent shutdowns. */
static gpointer
shutdown_thread (gpointer server)
{
  udg_server_shutdown (server);
  return NULL;
}

START_TEST (test_concurrent_shutdown)
{
  g_autoptr(UdgServer) server = new_server ("", NULL, NULL);
  Run run = { server, FALSE, NULL };
  GThread *thread = g_thread_new ("serve", run_thread, &run);
  GThread *stoppers[10];

  if (_i == 1)
    ck_assert (udg_server_wait_serving (server, 5));
  for (int i = 0; i < 10; i++)
    stoppers[i] = g_thread_new ("stop", shutdown_thread, server);
  /* When the server was not up yet, some shutdowns may come before the
   * run: keep asking until the run is over. */
  if (_i == 0)
    {
      udg_server_wait_serving (server, 5);
      udg_server_shutdown (server);
    }
  for (int i = 0; i < 10; i++)
    g_thread_join (stoppers[i]);
  g_thread_join (thread);
  ck_assert (run.ok);
  ck_assert (!udg_server_is_serving (server));
}
END_TEST

START_TEST (test_shutdown_when_idle_is_noop)
{
  g_autoptr(UdgServer) server = new_server ("", NULL, NULL);

  ck_assert (!udg_server_is_serving (server));
  udg_server_shutdown (server);
  udg_server_shutdown (server);
  ck_assert (!udg_server_is_serving (server));
}
END_TEST

/* 13 + service_init's exit stack (LIFO) and service_quit. */
static GString *order;

static void
push_a (gpointer d)
{
  g_string_append (order, "A");
}

static void
push_b (gpointer d)
{
  g_string_append (order, "B");
}

static UdgServer *init_got;

static gboolean
recording_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  init_got = server;
  g_string_append (order, "i");
  udg_exit_stack_push (stack, push_a, NULL);
  udg_exit_stack_push (stack, push_b, NULL);
  return TRUE;
}

static void
recording_quit (UdgServer *server, gpointer data)
{
  g_string_append (order, "q");
}

static gboolean
failing_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  udg_exit_stack_push (stack, push_a, NULL);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "no way");
  return FALSE;
}

START_TEST (test_service_init_and_exit_stack)
{
  static const UdgHandlerFuncs funcs = { recording_init, echo_handle, recording_quit, { NULL } };
  static const UdgHandlerFuncs failing = { failing_init, echo_handle, NULL, { NULL } };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(UdgServer) bad = udg_server_new ("", p, &failing, NULL, NULL, NULL, NULL);
  g_autoptr(GError) error = NULL;
  Run run = { server, FALSE, NULL };
  GThread *thread;

  order = g_string_new (NULL);
  for (int i = 0; i < 3; i++) /* EasyNetwork's serve_several_times */
    {
      thread = g_thread_new ("serve", run_thread, &run);
      ck_assert (udg_server_wait_serving (server, 5));
      ck_assert_ptr_eq (init_got, server);
      udg_server_shutdown (server);
      g_thread_join (thread);
      ck_assert (run.ok);
    }
  ck_assert_str_eq (order->str, "iBAqiBAqiBAq");

  g_string_truncate (order, 0);
  ck_assert (!udg_server_serve_forever (bad, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED));
  ck_assert_str_eq (order->str, "A"); /* unwound */
  ck_assert (!udg_server_is_serving (bad));
  g_string_free (order, TRUE);
}
END_TEST

/* Log records of a run (feature 11 of README.md's table). */
START_TEST (test_lifecycle_logs)
{
  /* Abstract names are machine-wide: one per process. */
  g_autofree gchar *name = g_strdup_printf ("@udg-test-logs-%d", (int) getpid ());
  g_autofree gchar *started = g_strdup_printf ("Start serving at %s", name);
  g_autoptr(UdgServer) server = new_server (name, NULL, NULL);
  Run run = { server, FALSE, NULL };
  GThread *thread;
  g_autoptr(GPtrArray) records = NULL;
  guint n_info = 0;

  udg_test_log_clear ();
  thread = g_thread_new ("serve", run_thread, &run);
  ck_assert (udg_server_wait_serving (server, 5));
  udg_server_shutdown (server);
  g_thread_join (thread);
  records = udg_test_log_records ();
  for (guint i = 0; i < records->len; i++)
    {
      UdgTestLogRecord *r = g_ptr_array_index (records, i);
      const gchar *expected[] = { started,
                                  "Server loop break, waiting for remaining tasks...", "Server stopped" };

      if (r->level != G_LOG_LEVEL_INFO)
        continue;
      ck_assert_uint_lt (n_info, 3);
      ck_assert_str_eq (r->text, expected[n_info]);
      ck_assert_str_eq (r->domain, "udgram");
      n_info++;
    }
  ck_assert_uint_eq (n_info, 3);
}
END_TEST

/* get_addresses / get_sockets in each state (EasyNetwork's socket_property test). */
START_TEST (test_addresses_and_sockets)
{
  g_autoptr(UdgServer) server = new_server ("", NULL, NULL);
  g_autoptr(GPtrArray) a0 = udg_server_get_addresses (server);
  g_autoptr(GArray) s0 = udg_server_get_sockets (server);
  g_autoptr(GPtrArray) a1 = NULL;
  g_autoptr(GArray) s1 = NULL;
  g_autoptr(GPtrArray) a2 = NULL;
  int type;
  socklen_t len = sizeof type;

  ck_assert_uint_eq (a0->len, 0);
  ck_assert_uint_eq (s0->len, 0);
  ck_assert (udg_server_activate (server, NULL));
  a1 = udg_server_get_addresses (server);
  s1 = udg_server_get_sockets (server);
  ck_assert_uint_eq (a1->len, 1);
  ck_assert_uint_eq (s1->len, 1);
  ck_assert_int_eq (udg_address_get_kind (g_ptr_array_index (a1, 0)), UDG_ADDRESS_ABSTRACT);
  ck_assert_int_eq (getsockopt (g_array_index (s1, gint, 0), SOL_SOCKET, SO_TYPE, &type, &len), 0);
  ck_assert_int_eq (type, SOCK_DGRAM);
  ck_assert (fcntl (g_array_index (s1, gint, 0), F_GETFD) & FD_CLOEXEC);
  ck_assert (udg_server_close (server, NULL));
  a2 = udg_server_get_addresses (server);
  ck_assert_uint_eq (a2->len, 0);
  ck_assert_ptr_nonnull (udg_server_get_main_context (server));
  ck_assert_ptr_nonnull (udg_server_get_protocol (server));
}
END_TEST

/* Background timers on the server's context stop at teardown. */
static gint ticks;

static gboolean
tick (gpointer server)
{
  if (g_atomic_int_add (&ticks, 1) + 1 == 3)
    udg_server_shutdown (server); /* from the serving thread: no wait */
  return G_SOURCE_CONTINUE;
}

static gboolean
timer_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  udg_server_add_timeout (server, 0.01, tick, server, NULL);
  return TRUE;
}

START_TEST (test_background_timer)
{
  static const UdgHandlerFuncs funcs = { .service_init = timer_init, .handle = echo_handle };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, NULL, NULL, NULL, NULL);

  g_atomic_int_set (&ticks, 0);
  ck_assert (udg_server_serve_forever (server, NULL));
  ck_assert_int_eq (g_atomic_int_get (&ticks), 3);
}
END_TEST

/* Timers started by service_init see its context variables; what a timer
 * sets stays its own, from one call to the next, unseen by the handlers. */
static UdgContextVar *init_var;
static gint timer_saw_init, timer_kept_own;

static gboolean
var_tick (gpointer server)
{
  static gint calls;
  const gchar *v = udg_context_var_get (init_var);

  if (++calls == 1)
    {
      g_atomic_int_set (&timer_saw_init, v != NULL && g_str_equal (v, "from service_init"));
      udg_context_var_set (init_var, g_strdup ("the timer's own"));
      return G_SOURCE_CONTINUE;
    }
  g_atomic_int_set (&timer_kept_own, v != NULL && g_str_equal (v, "the timer's own"));
  return G_SOURCE_REMOVE;
}

static gboolean
var_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  udg_context_var_set (init_var, g_strdup ("from service_init"));
  udg_server_add_timeout (server, 0.001, var_tick, server, NULL);
  return TRUE;
}

static gpointer
serve_thread (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

static gboolean
var_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  const gchar *v = udg_context_var_get (init_var);

  return req != NULL && udg_client_send_packet (client, v != NULL ? v : "(none)", error);
}

START_TEST (test_timer_context_vars)
{
  static const UdgHandlerFuncs funcs = { .service_init = var_init, .handle = var_handle };
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, NULL, NULL, NULL, NULL);
  g_autoptr(GPtrArray) addresses = NULL;
  GThread *thread;
  int c = udg_test_socket ("");

  init_var = udg_context_var_new ("init", g_free);
  thread = g_thread_new ("serve", serve_thread, server);
  ck_assert (udg_server_wait_serving (server, 5));
  addresses = udg_server_get_addresses (server);
  for (int i = 0; i < 500 && !g_atomic_int_get (&timer_kept_own); i++)
    g_usleep (10 * 1000);
  ck_assert_msg (g_atomic_int_get (&timer_saw_init), "the timer did not see service_init's value");
  ck_assert_msg (g_atomic_int_get (&timer_kept_own), "the timer's own value was not kept");
  ck_assert (udg_test_send_str (c, g_ptr_array_index (addresses, 0), "which?"));
  ASSERT_REPLY (c, "from service_init", 3000);
  udg_server_shutdown (server);
  g_thread_join (thread);
  close (c);
  g_clear_pointer (&init_var, udg_context_var_unref);
}
END_TEST

/* SIGTERM stops serve_forever in the main thread (handle_signals). */
static int ready_pipe[2];

static gboolean
notify_ready (gpointer data)
{
  if (write (ready_pipe[1], "r", 1) != 1)
    _exit (4);
  return G_SOURCE_REMOVE;
}

static gboolean
ready_init (UdgExitStack *stack, UdgServer *server, gpointer data, GError **error)
{
  /* Runs once the loop iterates: the signal sources are in place. */
  udg_server_add_timeout (server, 0, notify_ready, NULL, NULL);
  return TRUE;
}

START_TEST (test_signal_shutdown)
{
  static const UdgHandlerFuncs funcs = { .service_init = ready_init, .handle = echo_handle };
  pid_t pid;
  int status = 0;
  char c;

  ck_assert_int_eq (pipe (ready_pipe), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
      g_autoptr(UdgProtocol) p = udg_protocol_new (s);
      g_autoptr(UdgServer) server = udg_server_new ("", p, &funcs, NULL, NULL, NULL, NULL);

      _exit (udg_server_serve_forever (server, NULL) ? 0 : 3);
    }
  {
    struct pollfd pfd = { ready_pipe[0], POLLIN, 0 };

    ck_assert_int_eq (poll (&pfd, 1, 5000), 1);
    ck_assert_int_eq (read (ready_pipe[0], &c, 1), 1);
  }
  ck_assert_int_eq (kill (pid, SIGTERM), 0);
  for (int i = 0; i < 500 && waitpid (pid, &status, WNOHANG) == 0; i++)
    g_usleep (10 * 1000);
  if (!WIFEXITED (status) && !WIFSIGNALED (status))
    {
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      ck_abort_msg ("SIGTERM did not stop the server within 5 s");
    }
  ck_assert (WIFEXITED (status));
  ck_assert_int_eq (WEXITSTATUS (status), 0);
  close (ready_pipe[0]);
  close (ready_pipe[1]);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgServer lifecycle");
  TCase *tc = udg_test_tcase_create ("lifecycle");

  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_constructor_validation);
  tcase_add_test (tc, test_bind_errors_and_mode);
  tcase_add_test (tc, test_server_close_idempotent);
  tcase_add_loop_test (tc, test_server_close_while_running, 0, 2);
  tcase_add_test (tc, test_server_close_unlink_rule);
  tcase_add_test (tc, test_serve_forever_already_running);
  tcase_add_test (tc, test_shutdown_during_setup);
  tcase_add_loop_test (tc, test_concurrent_shutdown, 0, 2);
  tcase_add_test (tc, test_shutdown_when_idle_is_noop);
  tcase_add_test (tc, test_service_init_and_exit_stack);
  tcase_add_test (tc, test_lifecycle_logs);
  tcase_add_test (tc, test_addresses_and_sockets);
  tcase_add_test (tc, test_background_timer);
  tcase_add_test (tc, test_timer_context_vars);
  tcase_add_test (tc, test_signal_shutdown);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
