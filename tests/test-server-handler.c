/* The request handler model through real sockets: EasyNetwork's functional test cases
 * 14-39, each for pathname and abstract addresses, with and without
 * receive_ancillary_data.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-fixture.h"

#include <unistd.h>
#include <sys/socket.h>

#define CRIT G_LOG_LEVEL_CRITICAL
#define WARN G_LOG_LEVEL_WARNING

static Fixture f;

static void
start_default (int variant)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;

  memset (&f, 0, sizeof f);
  fixture_config (variant, &config, &f);
  fixture_start (&f, &config, NULL);
  udg_test_log_clear ();
}

/* serve_forever____handle_request:
 * Each of [RECV|RECVMSG x SEND|SENDMSG] */
START_TEST (test_handle_request)
{
  for (int mode = 0; mode < 4; mode++)
    {
      UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
      gboolean recvmsg = mode & 1, sendmsg = mode & 2;
      int c;
      g_autoptr(UdgAddress) me = NULL;
      g_autofree gchar *who = NULL;

      memset (&f, 0, sizeof f);
      fixture_config (_i, &config, &f);
      config.recvmsg = recvmsg;
      config.sendmsg = sendmsg;
      fixture_start (&f, &config, NULL);
      udg_test_log_clear ();
      c = fixture_client (&f, "client.sock");
      me = udg_test_sockname (c);
      who = udg_address_to_string (me);
      ck_assert (udg_test_send_str (c, f.address, "hello, world."));
      if (recvmsg && !f.ancillary)
        {
          /* Asking for ancillary data of a server that does not receive
           * it: the error goes to the log, the client gets no reply. */
          ck_assert (udg_test_wait_log (CRIT, "Exception occurred during processing of request from", 1, 3000));
          ASSERT_NO_REPLY (c, 200);
          {
            /* The record names the error and says how to fix it. */
            g_autoptr(GPtrArray) records = udg_test_log_records ();
            gboolean named = FALSE;

            for (guint i = 0; i < records->len; i++)
              {
                UdgTestLogRecord *r = g_ptr_array_index (records, i);

                if (r->error_name != NULL && g_str_equal (r->error_name, "UDG_ERROR_UNSUPPORTED") &&
                    r->remedy != NULL && strstr (r->remedy, "udg_server_options_set_receive_ancillary_data") != NULL)
                  named = TRUE;
              }
            ck_assert_msg (named, "no record names UDG_ERROR_UNSUPPORTED with its remedy");
          }
        }
      else
        {
          ASSERT_REPLY (c, "HELLO, WORLD.", 3000);
          ck_assert_uint_eq (udg_test_server_count_requests (f.ts, who), 1);
          ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 0);
        }
      close (c);
      fixture_stop (&f);
    }
}
END_TEST

/* serve_forever____handle_request____server_shutdown:
 * A datagram was sent, then shutdown completes within 1 s. */
START_TEST (test_handle_request_server_shutdown)
{
  int c;
  gint64 t0;

  start_default (_i);
  c = fixture_client (&f, "client.sock");
  ck_assert (udg_test_send_str (c, f.address, "hello, world."));
  t0 = udg_test_now_ms ();
  udg_test_server_stop (f.ts);
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____handle_request____from_unbound_socket:
 * Unbound senders under each policy. */
START_TEST (test_from_unbound_socket)
{
  const UdgUnnamedAddressesBehavior policies[] = {
    UDG_UNNAMED_ADDRESSES_IGNORE, UDG_UNNAMED_ADDRESSES_WARN, UDG_UNNAMED_ADDRESSES_HANDLE,
  };

  for (guint p = 0; p < G_N_ELEMENTS (policies); p++)
    {
      UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
      UdgServerStats stats;
      int c;

      memset (&f, 0, sizeof f);
      fixture_config (_i, &config, &f);
      config.unnamed = policies[p];
      fixture_start (&f, &config, NULL);
      udg_test_log_clear ();
      c = udg_test_socket (UDG_TEST_UNBOUND);
      ck_assert (udg_test_send_str (c, f.address, "hello, world."));
      switch (policies[p])
        {
        case UDG_UNNAMED_ADDRESSES_IGNORE:
          ck_assert_int_eq (udg_test_recv (c, (char[8]) { 0 }, 8, 200), -1);
          WAIT_STATS (f.ts->server, stats, stats.unnamed == 1);
          ck_assert_uint_eq (stats.unnamed, 1);
          ck_assert_uint_eq (f.ts->handle_calls, 0);
          ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 0);
          break;
        case UDG_UNNAMED_ADDRESSES_WARN:
          ck_assert (udg_test_wait_log (WARN, "A datagram received from an unbound UNIX datagram socket has been dropped.", 1, 2000));
          ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 1);
          ck_assert_uint_eq (f.ts->handle_calls, 0);
          break;
        case UDG_UNNAMED_ADDRESSES_HANDLE:
        default:
          /* The handler is called; its reply fails: one error, its own. */
          ck_assert (udg_test_wait_log (CRIT, "Cannot send a datagram to an unnamed address.", 1, 2000));
          ck_assert_uint_eq (udg_test_server_count_requests (f.ts, "<unnamed>"), 1);
          ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 1);
          break;
        }
      close (c);
      fixture_stop (&f);
    }
}
END_TEST

/* serve_forever____client_extra_attributes:
 * Client attributes. */
static UdgClient *seen_client;
static GMutex seen_lock;

static gboolean
attr_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);

  if (req == NULL)
    return FALSE;
  g_mutex_lock (&seen_lock);
  if (seen_client == NULL)
    seen_client = udg_client_ref (client);
  g_mutex_unlock (&seen_lock);
  return udg_client_send_packet (client, req, error);
}

START_TEST (test_client_extra_attributes)
{
  static const UdgHandlerFuncs funcs = { .handle = attr_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;
  g_autoptr(UdgAddress) me = NULL;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");
  me = udg_test_sockname (c);
  ck_assert (udg_test_send_str (c, f.address, "x"));
  ASSERT_REPLY (c, "x", 3000);
  g_mutex_lock (&seen_lock);
  ck_assert (udg_address_equal (udg_client_get_peer_name (seen_client), me));
  ck_assert (udg_address_equal (udg_client_get_local_name (seen_client), f.address));
  ck_assert_ptr_eq (udg_client_get_server (seen_client), f.ts->server);
  ck_assert (!udg_client_is_closing (seen_client));
  ck_assert_ptr_nonnull (udg_client_get_cancellable (seen_client));
  ck_assert_ptr_null (udg_client_get_datagram (seen_client)); /* outside its invocation */
  g_mutex_unlock (&seen_lock);
  udg_test_server_stop (f.ts);
  ck_assert (udg_client_is_closing (seen_client));
  g_clear_pointer (&seen_client, udg_client_unref);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* 18, 19: equality and the client cache for 3 clients. */
START_TEST (test_client_equality_and_cache)
{
  int c[3];

  start_default (_i);
  for (int i = 0; i < 3; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("c%d.sock", i);

      c[i] = fixture_client (&f, name);
      ck_assert (udg_test_send_str (c[i], f.address, "__ping__"));
      ASSERT_REPLY (c[i], "pong", 3000);
      ck_assert (udg_test_send_str (c[i], f.address, "__eq__"));
      ASSERT_REPLY (c[i], "True", 3000);
      ck_assert (udg_test_send_str (c[i], f.address, "__cache__"));
      ASSERT_REPLY (c[i], "True", 3000);
    }
  ck_assert_uint_eq (f.ts->seen->len, 3);
  for (int i = 0; i < 3; i++)
    close (c[i]);
  fixture_stop (&f);
}
END_TEST

/* 20, 21, 37: a second recv, with a datagram queued behind it. */
START_TEST (test_save_request_handler_context)
{
  int c;

  start_default (_i);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "__wait__"));
  ck_assert (udg_test_send_str (c, f.address, "hello, world."));
  ASSERT_REPLY (c, "After wait: hello, world.", 1000);
  ck_assert (udg_test_send_str (c, f.address, "__wait__"));
  ck_assert (udg_test_send_str (c, f.address, "hello, world."));
  ck_assert (udg_test_send_str (c, f.address, "Test 2."));
  ASSERT_REPLY (c, "After wait: hello, world.", 1000);
  ASSERT_REPLY (c, "TEST 2.", 1000);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* 22, 38: handlers blocked in a second recv; shutdown within 1 s. */
START_TEST (test_save_request_handler_context_shutdown)
{
  int c[3];
  gint64 t0;

  start_default (_i);
  f.ts->wait_sleep_ms = 0;
  for (int i = 0; i < 3; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("c%d.sock", i);

      c[i] = fixture_client (&f, name);
      ck_assert (udg_test_send_str (c[i], f.address, "__wait__"));
    }
  /* Wait until all three block in their second recv. */
  for (int tries = 0; tries < 300; tries++)
    {
      UdgServerStats stats;

      udg_server_get_stats (f.ts->server, &stats);
      if (stats.blocked_in_recv == 3)
        break;
      g_usleep (10 * 1000);
    }
  t0 = udg_test_now_ms ();
  udg_test_server_stop (f.ts);
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  /* Woken with CLOSED: one WARNING each, no error. */
  ck_assert_uint_eq (udg_test_log_count_text (WARN, "There have been attempts to do operation on closed client"), 3);
  ck_assert_uint_eq (udg_test_log_count (CRIT), 0);
  for (int i = 0; i < 3; i++)
    close (c[i]);
  fixture_stop (&f);
}
END_TEST

/* 23, 24, 25: ancillary data in both directions, and unclaimed fds. */
START_TEST (test_ancillary_data)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c, p[2];
  int three[3];
  int got[4];
  guint n = 4;
  char buf[64];
  gssize r;

  memset (&f, 0, sizeof f);
  fixture_config (_i | 2, &config, &f);
  fixture_start (&f, &config, NULL);
  c = fixture_client (&f, "c.sock");
  ck_assert_int_eq (pipe (p), 0);
  three[0] = p[0];
  three[1] = p[1];
  three[2] = p[1];

  /* serve_forever____recv_with_ancillary_data:
   * Recv with ancillary data. */
  ck_assert (udg_test_send_str (c, f.address, "__recvmsg__"));
  ck_assert (udg_test_send_fds (c, f.address, "fds", three, 3));
  ASSERT_REPLY (c, "Received 3 file descriptors.", 3000);

  /* serve_forever____send_with_ancillary_data:
   * Send with ancillary data. */
  ck_assert (udg_test_send_str (c, f.address, "__sendmsg__"));
  r = udg_test_recv_fds (c, buf, sizeof buf, got, &n, 3000);
  ck_assert_int_eq (r, 3);
  ck_assert_uint_eq (n, 3);
  for (guint i = 0; i < n; i++)
    close (got[i]);

  /* serve_forever____ancillary_data_unused:
   * A ping carrying 3 fds nobody asked for: "pong", and the server
   * closes them, so the write end's last copy is ours. */
  close (p[0]);
  three[0] = p[1];
  ck_assert (udg_test_send_fds (c, f.address, "__ping__", three, 3));
  ASSERT_REPLY (c, "pong", 3000);
  close (p[1]);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____bad_request:
 * A datagram the serializer refuses. */
START_TEST (test_bad_request)
{
  int c;

  start_default (_i);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_sendto (c, f.address, "\xe9", 1));
  ASSERT_REPLY (c, "wrong encoding man.", 3000);
  ck_assert_uint_eq (udg_test_server_count_requests (f.ts, NULL), 0);
  ck_assert (udg_test_send_str (c, f.address, "ok"));
  ASSERT_REPLY (c, "OK", 3000);
  ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 0);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____internal_error:
 * A crashing deserializer: the reply carries the error, then one
 * CRITICAL record for the error the handler gives back (EasyNetwork writes
 * three: the error between two lines of dashes). */
START_TEST (test_internal_error)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  config.serializer = UDG_TEST_SERIALIZER_CRASH_DESERIALIZE;
  config.answer_errors = TRUE;
  fixture_start (&f, &config, NULL);
  udg_test_log_clear ();
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "hello"));
  ASSERT_REPLY (c, "protocol.build_packet_from_datagram() crashed (caused by: SystemError: CRASH)", 3000);
  ck_assert (udg_test_wait_log (CRIT, NULL, 1, 3000));
  {
    g_autoptr(GPtrArray) records = udg_test_log_records ();
    UdgTestLogRecord *only = g_ptr_array_index (records, 0);
    g_autofree gchar *expected = NULL;
    g_autoptr(UdgAddress) me = udg_test_sockname (c);
    g_autofree gchar *who = udg_address_to_string (me);

    ck_assert_uint_eq (records->len, 1);
    expected = g_strdup_printf ("Exception occurred during processing of request from %s", who);
    ck_assert_str_eq (only->text, expected);
    ck_assert_ptr_nonnull (only->error);
    ck_assert (g_str_has_prefix (only->error, "protocol.build_packet_from_datagram() crashed"));
  }
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____internal_error____ancillary_data_callback:
 * The ancillary callback fails. */
static gboolean
failing_callback (gconstpointer control, gsize len, gint flags, gpointer data, GError **error)
{
  udg_ancillary_close_control_fds (control, len);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "SystemError: CRASH");
  return FALSE;
}

static gboolean
failing_anc_handle (UdgClient *client, gpointer user_data, GError **error)
{
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autoptr(GError) local = NULL;
  g_autofree gchar *req = NULL;

  params.recv_with_ancillary = failing_callback;
  req = udg_client_recv (client, &params, &local);
  ck_assert_ptr_null (req);
  /* The datagram was consumed and not parsed: no raw bytes recorded. */
  ck_assert_ptr_null (udg_client_get_datagram (client));
  udg_client_send_packet (client, local->message, NULL);
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

START_TEST (test_internal_error_ancillary_callback)
{
  static const UdgHandlerFuncs funcs = { .handle = failing_anc_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i | 2, &config, &f);
  fixture_start (&f, &config, &funcs);
  udg_test_log_clear ();
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "x"));
  ASSERT_REPLY (c, "The recv_with_ancillary callback crashed (caused by: SystemError: CRASH)", 3000);
  ck_assert (udg_test_wait_log (CRIT, NULL, 1, 3000));
  ck_assert_uint_eq (udg_test_log_count (CRIT), 1);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* 29, 31: errors escaping the handler: one record each, server goes on. */
START_TEST (test_unexpected_error_during_process)
{
  const gchar *commands[] = { "__error__", "__os_error__" };

  start_default (_i);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("c%u.sock", i);
      int c = fixture_client (&f, name);

      udg_test_log_clear ();
      ck_assert (udg_test_send_str (c, f.address, commands[i]));
      ck_assert (udg_test_wait_log (CRIT, NULL, 1, 3000));
      ck_assert_uint_eq (udg_test_log_count_text (CRIT, "Exception occurred during processing of request from"), 1);
      ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 1);
      ck_assert (udg_test_send_str (c, f.address, "__ping__"));
      ASSERT_REPLY (c, "pong", 3000);
      close (c);
    }
  fixture_stop (&f);
}
END_TEST

/* serve_forever____unexpected_error_during_response_serialization:
 * The serializer fails on send: the handler's own error record. */
START_TEST (test_unexpected_error_during_response_serialization)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  config.serializer = UDG_TEST_SERIALIZER_CRASH_SERIALIZE;
  fixture_start (&f, &config, NULL);
  udg_test_log_clear ();
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "hello"));
  ck_assert (udg_test_wait_log (CRIT, "protocol.make_datagram() crashed (caused by: SystemError: CRASH)", 1, 3000));
  ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 1);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____use_of_a_closed_client_in_request_handler:
 * A closed-client error from the handler: one WARNING. */
START_TEST (test_use_of_a_closed_client)
{
  int c;

  start_default (_i);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "__closed_client_error__"));
  ck_assert (udg_test_wait_log (WARN, "There have been attempts to do operation on closed client", 1, 3000));
  ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 1);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____throw_cancelled_error:
 * Timeouts at recv: 0 and 1 s, after one or two requests. */
static gboolean
timeout_handle (UdgClient *client, gpointer user_data, GError **error)
{
  gdouble timeout = *(gdouble *) user_data;
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autofree gchar *first = udg_client_recv (client, NULL, error);
  g_autoptr(GError) local = NULL;
  g_autofree gchar *again = NULL;

  if (first == NULL)
    return FALSE;
  if (g_str_equal (first, "third_yield"))
    {
      g_autofree gchar *second = udg_client_recv (client, NULL, error);

      if (second == NULL || !udg_client_send_packet (client, second, error))
        return FALSE;
    }
  params.timeout = timeout;
  again = udg_client_recv (client, &params, &local);
  if (again != NULL || !g_error_matches (local, UDG_ERROR, UDG_ERROR_TIMED_OUT))
    return udg_client_send_packet (client, "did not time out", error);
  return udg_client_send_packet (client, "successfully timed out", error);
}

typedef struct
{
  UdgServer *server;
  gboolean ok;
} ServeArgs;

static gpointer
serve (gpointer data)
{
  ServeArgs *args = data;

  args->ok = udg_server_serve_forever (args->server, NULL);
  return NULL;
}

START_TEST (test_throw_timeout)
{
  static const UdgHandlerFuncs funcs = { .handle = timeout_handle };
  gdouble timeouts[] = { 0.0, 1.0 };

  for (guint t = 0; t < G_N_ELEMENTS (timeouts); t++)
    for (int third = 0; third < 2; third++)
      {
        UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
        g_autoptr(GError) error = NULL;
        g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
        g_autoptr(UdgProtocol) p = udg_protocol_new (s);
        g_autoptr(UdgServer) server = NULL;
        g_autoptr(GPtrArray) addrs = NULL;
        ServeArgs args = { NULL, FALSE };
        GThread *thread;
        UdgAddress *to;
        int c;
        gint64 t0;

        memset (&f, 0, sizeof f);
        fixture_config (_i, &config, &f);
        server = udg_server_new (config.path, p, &funcs, &timeouts[t], NULL, NULL, &error);
        ck_assert_ptr_nonnull (server);
        args.server = server;
        thread = g_thread_new ("serve", serve, &args);
        ck_assert (udg_server_wait_serving (server, 5));
        addrs = udg_server_get_addresses (server);
        to = g_ptr_array_index (addrs, 0);
        c = fixture_client (&f, "c.sock");
        t0 = udg_test_now_ms ();
        if (third)
          {
            ck_assert (udg_test_send_str (c, to, "third_yield"));
            ck_assert (udg_test_send_str (c, to, "echo me"));
            ASSERT_REPLY (c, "echo me", 3000);
          }
        else
          ck_assert (udg_test_send_str (c, to, "something"));
        ASSERT_REPLY (c, "successfully timed out", (int) (timeouts[t] * 1000) + 1000);
        ck_assert_int_ge (udg_test_now_ms () - t0, (gint64) (timeouts[t] * 1000) - 50);
        udg_server_shutdown (server);
        g_thread_join (thread);
        ck_assert (args.ok);
        udg_server_close (server, NULL);
        close (c);
        fixture_stop (&f);
      }
}
END_TEST

/* Invalid timeouts (as in EasyNetwork): on the first recv the datagram is
 * lost; on a later recv nothing is consumed. */
static gboolean
invalid_timeout_handle (UdgClient *client, gpointer user_data, GError **error)
{
  UdgRecvParams bad = UDG_RECV_PARAMS_INIT;
  g_autoptr(GError) local = NULL;
  g_autofree gchar *req = NULL;
  g_autofree gchar *req2 = NULL;

  bad.timeout = -1;
  req = udg_client_recv (client, &bad, &local);
  if (req != NULL || !g_error_matches (local, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT) ||
      !g_str_equal (local->message, "Invalid delay: negative value"))
    return udg_client_send_packet (client, "first: wrong", error);
  g_clear_error (&local);
  /* The first datagram is gone: the next recv waits for the second. */
  bad.timeout = NAN;
  req2 = udg_client_recv (client, &bad, &local);
  if (req2 != NULL || !g_str_equal (local->message, "Invalid delay: NaN (not a number)"))
    return udg_client_send_packet (client, "second: wrong", error);
  req2 = udg_client_recv (client, NULL, error);
  if (req2 == NULL)
    return FALSE;
  return udg_client_send_packet (client, req2, error);
}

START_TEST (test_invalid_timeout)
{
  static const UdgHandlerFuncs funcs = { .handle = invalid_timeout_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "lost"));
  ck_assert (udg_test_send_str (c, f.address, "kept"));
  ASSERT_REPLY (c, "kept", 3000);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____request_handler_is_cancelled:
 * A handler sleeping in a cancellable wait: shutdown within 1 s.
 * Differs: a stop first drains what was read, and a handler that neither
 * returns nor waits in udg_client_recv() holds it until the drain bound
 * (0.3 s here), which then cancels the cancellable. */
static void
wake_context (GCancellable *cancellable, gpointer context)
{
  g_main_context_wakeup (context);
}

static gboolean
sleepy_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = udg_client_recv (client, NULL, error);
  GCancellable *cancellable = udg_client_get_cancellable (client);
  GMainContext *context = g_main_context_new ();
  gulong id;

  if (req == NULL || !udg_client_send_packet (client, "response", error))
    {
      g_main_context_unref (context);
      return FALSE;
    }
  /* "sleep 3600 s", honouring cancellation. */
  id = g_cancellable_connect (cancellable, G_CALLBACK (wake_context), context, NULL);
  while (!g_cancellable_is_cancelled (cancellable))
    g_main_context_iteration (context, TRUE);
  g_cancellable_disconnect (cancellable, id);
  g_main_context_unref (context);
  return TRUE;
}

START_TEST (test_request_handler_is_cancelled)
{
  static const UdgHandlerFuncs funcs = { .handle = sleepy_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  int c;
  gint64 t0;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  config.drain_timeout = 0.3;
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");
  ck_assert (udg_test_send_str (c, f.address, "x"));
  ASSERT_REPLY (c, "response", 3000);
  t0 = udg_test_now_ms ();
  udg_test_server_stop (f.ts);
  ck_assert_int_ge (udg_test_now_ms () - t0, 300);
  ck_assert_int_lt (udg_test_now_ms () - t0, 1000);
  ck_assert_uint_eq (udg_test_log_count_text (WARN, "The drain bound (0.3 s) passed"), 1);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* 35, 36: a handler that fails or returns before its first recv. */
static gint refuse_mode; /* 1: fail before recv, 2: return before recv */

static gboolean
refusing_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autofree gchar *req = NULL;

  if (g_atomic_int_get (&refuse_mode) == 1)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "RandomError: before recv");
      return FALSE;
    }
  if (g_atomic_int_get (&refuse_mode) == 2)
    return TRUE;
  req = udg_client_recv (client, NULL, error);
  return req != NULL && udg_client_send_packet (client, req, error);
}

START_TEST (test_request_handler_refuses)
{
  static const UdgHandlerFuncs funcs = { .handle = refusing_handle };
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  UdgServerStats stats;
  int c;

  memset (&f, 0, sizeof f);
  fixture_config (_i, &config, &f);
  fixture_start (&f, &config, &funcs);
  c = fixture_client (&f, "c.sock");

  g_atomic_int_set (&refuse_mode, 1);
  udg_test_log_clear ();
  ck_assert (udg_test_send_str (c, f.address, "something"));
  ck_assert (udg_test_wait_log (CRIT, NULL, 1, 3000));
  ASSERT_NO_REPLY (c, 200);

  g_atomic_int_set (&refuse_mode, 2);
  udg_test_log_clear ();
  ck_assert (udg_test_send_str (c, f.address, "something"));
  ASSERT_NO_REPLY (c, 300);
  ck_assert_uint_eq (udg_test_log_count (CRIT | WARN), 0);
  WAIT_STATS (f.ts->server, stats, stats.refused == 2);
  ck_assert_uint_eq (stats.refused, 2);

  g_atomic_int_set (&refuse_mode, 0);
  ck_assert (udg_test_send_str (c, f.address, "hello world"));
  ASSERT_REPLY (c, "hello world", 3000);
  close (c);
  fixture_stop (&f);
}
END_TEST

/* serve_forever____too_many_datagrams_while_request_handle_is_performed:
 * Pairs sent while the handler sleeps: replies strictly in order,
 * across re-created invocations. */
START_TEST (test_too_many_datagrams_while_handling)
{
  int c;
  const gchar *payloads[] = { "hello, world.", "hello, world 2 times.", "hello, world 3 times.",
                              "hello, world 4 times.", "hello, world. new game +" };

  start_default (_i);
  f.ts->wait_sleep_ms = 100;
  c = fixture_client (&f, "c.sock");
  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    {
      ck_assert (udg_test_send_str (c, f.address, "__wait__"));
      ck_assert (udg_test_send_str (c, f.address, payloads[i]));
    }
  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    {
      g_autofree gchar *expected = g_strdup_printf ("After wait: %s", payloads[i]);

      ASSERT_REPLY (c, expected, 3000);
    }
  close (c);
  fixture_stop (&f);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgServer handler");
  TCase *tc = udg_test_tcase_create ("spec-15.1");

  tcase_set_timeout (tc, 60);
  /* Loop index: bit 0 abstract address, bit 1 receive_ancillary_data. */
  tcase_add_loop_test (tc, test_handle_request, 0, 4);
  tcase_add_loop_test (tc, test_handle_request_server_shutdown, 0, 4);
  tcase_add_loop_test (tc, test_from_unbound_socket, 0, 4);
  tcase_add_loop_test (tc, test_client_extra_attributes, 0, 4);
  tcase_add_loop_test (tc, test_client_equality_and_cache, 0, 4);
  tcase_add_loop_test (tc, test_save_request_handler_context, 0, 4);
  tcase_add_loop_test (tc, test_save_request_handler_context_shutdown, 0, 4);
  tcase_add_loop_test (tc, test_ancillary_data, 0, 2);
  tcase_add_loop_test (tc, test_bad_request, 0, 4);
  tcase_add_loop_test (tc, test_internal_error, 0, 4);
  tcase_add_loop_test (tc, test_internal_error_ancillary_callback, 0, 2);
  tcase_add_loop_test (tc, test_unexpected_error_during_process, 0, 4);
  tcase_add_loop_test (tc, test_unexpected_error_during_response_serialization, 0, 4);
  tcase_add_loop_test (tc, test_use_of_a_closed_client, 0, 4);
  tcase_add_loop_test (tc, test_throw_timeout, 0, 2);
  tcase_add_loop_test (tc, test_invalid_timeout, 0, 4);
  tcase_add_loop_test (tc, test_request_handler_is_cancelled, 0, 4);
  tcase_add_loop_test (tc, test_request_handler_refuses, 0, 4);
  tcase_add_loop_test (tc, test_too_many_datagrams_while_handling, 0, 4);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
