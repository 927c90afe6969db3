/* udgram tests - EasyNetwork's MyDatagramRequestHandler, in C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test-server.h"

#include <stdio.h>

#include <malloc.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib-unix.h>

/* --- serializers of EasyNetwork's test suite ------------------------------------ */

static GBytes *
crash_serialize (gconstpointer packet, gpointer d, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "SystemError: CRASH");
  return NULL;
}

static gpointer
crash_deserialize (GBytes *datagram, gpointer d, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "SystemError: CRASH");
  return NULL;
}

static GBytes *
ascii_serialize (gconstpointer packet, gpointer d, GError **error)
{
  UdgSerializer *ascii = d;

  return udg_serializer_serialize (ascii, packet, error);
}

static gpointer
ascii_deserialize (GBytes *datagram, gpointer d, GError **error)
{
  UdgSerializer *ascii = d;

  return udg_serializer_deserialize (ascii, datagram, error);
}

static void
str_free (gpointer packet, gpointer d)
{
  g_free (packet);
}

static UdgSerializer *
make_serializer (UdgTestSerializerKind kind)
{
  static const UdgSerializerFuncs crash_de = { ascii_serialize, crash_deserialize, str_free, { NULL } };
  static const UdgSerializerFuncs crash_ser = { crash_serialize, ascii_deserialize, str_free, { NULL } };

  switch (kind)
    {
    case UDG_TEST_SERIALIZER_CRASH_DESERIALIZE:
      return udg_serializer_new (&crash_de, udg_ascii_serializer_new (), (GDestroyNotify) udg_serializer_unref);
    case UDG_TEST_SERIALIZER_CRASH_SERIALIZE:
      return udg_serializer_new (&crash_ser, udg_ascii_serializer_new (), (GDestroyNotify) udg_serializer_unref);
    case UDG_TEST_SERIALIZER_ASCII:
    default:
      return udg_ascii_serializer_new ();
    }
}

/* --- the handler ------------------------------------------------------------- */

/* SIGUSR2: give the freed heap back to the system, so that an RSS taken
 * next says what is still allocated, not what glibc's arenas keep; and
 * say how much work is left, for a script that waits for the server to
 * be done with what it was sent. */
static gboolean
trim_heap (gpointer data)
{
  static guint count;
  UdgServerStats st;

  udg_server_get_stats (data, &st);
  malloc_trim (0);
  /* Said on stderr (stdout holds the ready line alone), for the script
   * that waits for it. */
  fprintf (stderr, "trimmed %u: %" G_GUINT64_FORMAT " queued, %" G_GUINT64_FORMAT " running but not waiting\n", ++count,
          st.queued_datagrams, st.running_invocations - st.blocked_in_recv);
  fflush (stderr);
  return G_SOURCE_CONTINUE;
}

static gboolean
service_init (UdgExitStack *stack, UdgServer *server, gpointer user_data, GError **error)
{
  UdgTestServer *ts = user_data;

  if (ts->config.handle_signals)
    {
      GSource *source = g_unix_signal_source_new (SIGUSR2);

      g_source_set_callback (source, trim_heap, server, NULL);
      g_source_attach (source, udg_server_get_main_context (server));
      udg_exit_stack_push_source (stack, source);
    }

  pthread_mutex_lock (&ts->lock);
  ts->init_server = server;
  pthread_mutex_unlock (&ts->lock);
  if (ts->config.init_delay_ms > 0)
    {
      /* Said before the wait, so that a test can signal the server while
       * it is inside service_init (its signal handling is in place). */
      fprintf (stderr, "service_init: waiting %u ms\n", ts->config.init_delay_ms);
      fflush (stderr);
      g_usleep ((gulong) ts->config.init_delay_ms * 1000);
    }
  if (ts->config.passcred || ts->config.recvmsg)
    {
      g_autoptr(GArray) fds = udg_server_get_sockets (server);
      int one = 1;

      for (guint i = 0; i < fds->len; i++)
        setsockopt (g_array_index (fds, gint, i), SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    }
  return TRUE;
}

/* The handler reports its own send failures, as the Python one does. */
static gboolean
reply (UdgTestServer *ts, UdgClient *client, const gchar *text, GError **error)
{
  g_autoptr(GError) local = NULL;
  gboolean ok;

  if (ts->config.sendmsg)
    {
      g_autoptr(UdgAncillary) empty = udg_ancillary_new ();

      ok = udg_client_send_packet_with_ancillary (client, text, empty, &local);
    }
  else
    ok = udg_client_send_packet (client, text, &local);
  if (!ok)
    {
      if (g_error_matches (local, UDG_ERROR, UDG_ERROR_CLOSED))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      g_log_structured ("udgram-test", G_LOG_LEVEL_CRITICAL, "UDG_TEXT", local->message,
                        "MESSAGE", "%s", local->message);
    }
  return TRUE;
}

static void
record (UdgTestServer *ts, UdgClient *client, const gchar *request)
{
  g_autofree gchar *who = NULL;
  GPtrArray *list;

  if (ts->config.no_record)
    return;
  who = udg_address_to_string (udg_client_get_peer_name (client));
  pthread_mutex_lock (&ts->lock);
  list = g_hash_table_lookup (ts->requests, who);
  if (list == NULL)
    {
      list = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (ts->requests, g_strdup (who), list);
    }
  g_ptr_array_add (list, g_strdup (request));
  if (!g_hash_table_contains (ts->first_client, who))
    g_hash_table_insert (ts->first_client, g_strdup (who), udg_client_ref (client));
  if (!g_ptr_array_find (ts->seen, client, NULL))
    g_ptr_array_add (ts->seen, udg_client_ref (client));
  pthread_mutex_unlock (&ts->lock);
}

/* One receive as EasyNetwork's test handler does it, at every receive: a
 * request that does not parse is answered "wrong encoding man." and the
 * next one is awaited; any other error is returned for the server to log,
 * unanswered (with answer_errors, as its ErrorInRequestHandler: told to the
 * client first). */
static gchar *
receive (UdgTestServer *ts, UdgClient *client, UdgRecvParams *params, GError **error)
{
  for (;;)
    {
      g_autoptr(GError) local = NULL;
      gchar *request = udg_client_recv (client, params, &local);

      if (request != NULL)
        return request;
      if (g_error_matches (local, UDG_ERROR, UDG_ERROR_PARSE))
        {
          if (!reply (ts, client, "wrong encoding man.", error))
            return NULL;
          continue;
        }
      if (ts->config.answer_errors)
        reply (ts, client, local->message, NULL);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  UdgTestServer *ts = user_data;
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autofree gchar *request = NULL;
  g_autofree gchar *who = udg_address_to_string (udg_client_get_peer_name (client));

  pthread_mutex_lock (&ts->lock);
  ts->handle_calls++;
  pthread_mutex_unlock (&ts->lock);

  if (ts->config.recvmsg)
    {
      params.recv_with_ancillary = udg_ancillary_receive_func;
      params.ancillary_user_data = ancillary;
    }

  request = receive (ts, client, &params, error);
  if (request == NULL)
    return FALSE;
  udg_ancillary_clear (ancillary); /* closes any fds of the first request */
  record (ts, client, request);

  if (g_str_equal (request, "__ping__"))
    return reply (ts, client, "pong", error);
  if (g_str_equal (request, "__error__"))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "RandomError: random error");
      return FALSE;
    }
  if (g_str_equal (request, "__os_error__"))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "OSError: Server issue.");
      return FALSE;
    }
  if (g_str_equal (request, "__closed_client_error__"))
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_CLOSED, "Closed client");
      return FALSE;
    }
  if (g_str_equal (request, "__eq__"))
    {
      gboolean seen;

      pthread_mutex_lock (&ts->lock);
      seen = g_ptr_array_find (ts->seen, client, NULL);
      pthread_mutex_unlock (&ts->lock);
      return reply (ts, client, seen ? "True" : "False", error);
    }
  if (g_str_equal (request, "__cache__"))
    {
      UdgClient *first;

      pthread_mutex_lock (&ts->lock);
      first = g_hash_table_lookup (ts->first_client, who);
      pthread_mutex_unlock (&ts->lock);
      return reply (ts, client, first == client ? "True" : "False", error);
    }
  if (g_str_equal (request, "__wait__"))
    {
      g_autofree gchar *next = NULL;
      g_autofree gchar *text = NULL;

      /* A handler that sleeps, but honours the server's cancellable. */
      for (gint64 slept = 0; slept < ts->wait_sleep_ms; slept += 10)
        {
          if (g_cancellable_is_cancelled (udg_client_get_cancellable (client)))
            break;
          g_usleep (10 * 1000);
        }
      next = receive (ts, client, &params, error);
      if (next == NULL)
        return FALSE;
      record (ts, client, next);
      text = g_strdup_printf ("After wait: %s", next);
      return reply (ts, client, text, error);
    }
  if (g_str_equal (request, "__recvmsg__"))
    {
      g_autoptr(UdgAncillary) received = udg_ancillary_new ();
      UdgRecvParams p2 = UDG_RECV_PARAMS_INIT;
      g_autofree gchar *next = NULL;
      g_autofree gchar *text = NULL;
      guint n = 0;

      p2.recv_with_ancillary = udg_ancillary_receive_func;
      p2.ancillary_user_data = received;
      next = receive (ts, client, &p2, error);
      if (next == NULL)
        return FALSE;
      udg_ancillary_get_fds (received, &n);
      udg_ancillary_clear (received);
      pthread_mutex_lock (&ts->lock);
      ts->closed_fds += n;
      pthread_mutex_unlock (&ts->lock);
      text = g_strdup_printf ("Received %u file descriptors.", n);
      return reply (ts, client, g_str_equal (next, "fds") ? text : "expected fds", error);
    }
  if (g_str_equal (request, "__sendmsg__"))
    {
      g_autoptr(UdgAncillary) out = udg_ancillary_new ();
      int p[2];
      gint three[3];
      gboolean ok;

      if (pipe (p) < 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pipe failed");
          return FALSE;
        }
      three[0] = p[0];
      three[1] = p[1];
      three[2] = p[1];
      udg_ancillary_add_fds (out, three, 3);
      ok = udg_client_send_packet_with_ancillary (client, "fds", out, error);
      close (p[0]);
      close (p[1]);
      return ok;
    }
  {
    g_autofree gchar *upper = g_ascii_strup (request, -1);

    if (ts->config.reply_delay_ms > 0)
      g_usleep ((gulong) ts->config.reply_delay_ms * 1000);
    return reply (ts, client, upper, error);
  }
}

const UdgHandlerFuncs udg_test_handler_funcs = { service_init, handle, NULL, { NULL } };

/* --- running it -------------------------------------------------------------- */

UdgTestServer *
udg_test_server_new (const UdgTestServerConfig *config,
                     const UdgHandlerFuncs     *funcs,
                     GError                   **error)
{
  UdgTestServer *ts = g_new0 (UdgTestServer, 1);
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  g_autoptr(UdgSerializer) serializer = make_serializer (config->serializer);
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (serializer);

  ts->config = *config;
  pthread_mutex_init (&ts->lock, NULL);
  ts->requests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  ts->first_client = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) udg_client_unref);
  ts->seen = g_ptr_array_new_with_free_func ((GDestroyNotify) udg_client_unref);

  udg_server_options_set_receive_ancillary_data (options, config->ancillary);
  udg_server_options_set_unnamed_addresses_behavior (options, config->unnamed);
  udg_server_options_set_handle_signals (options, config->handle_signals);
  if (config->mode >= 0)
    udg_server_options_set_mode (options, config->mode);
  if (config->max_threads > 0)
    udg_server_options_set_max_threads (options, config->max_threads);
  if (config->mailbox_limit > 0)
    udg_server_options_set_mailbox_limit (options, config->mailbox_limit);
  if (config->max_datagram_size > 0)
    udg_server_options_set_max_datagram_size (options, config->max_datagram_size);
  udg_server_options_set_notify (options, config->notify);
  if (config->drain_timeout >= 0)
    udg_server_options_set_drain_timeout (options, config->drain_timeout);

  ts->server = udg_server_new (config->path, protocol, funcs != NULL ? funcs : &udg_test_handler_funcs,
                               ts, NULL, options, error);
  if (ts->server == NULL)
    {
      udg_test_server_free (ts);
      return NULL;
    }
  return ts;
}

static gpointer
serve_thread (gpointer data)
{
  UdgTestServer *ts = data;

  ts->serve_ok = udg_server_serve_forever (ts->server, &ts->serve_error);
  return NULL;
}

gboolean
udg_test_server_start (UdgTestServer *ts, GError **error)
{
  g_autoptr(GPtrArray) addresses = NULL;

  ts->thread = g_thread_new ("udg-serve", serve_thread, ts);
  if (!udg_server_wait_serving (ts->server, 10.0))
    {
      g_thread_join (g_steal_pointer (&ts->thread));
      if (ts->serve_error != NULL)
        g_propagate_error (error, g_steal_pointer (&ts->serve_error));
      else
        g_set_error_literal (error, UDG_ERROR, UDG_ERROR_FAILED, "the server did not start");
      return FALSE;
    }
  addresses = udg_server_get_addresses (ts->server);
  if (addresses->len == 1)
    ts->address = udg_address_ref (g_ptr_array_index (addresses, 0));
  return ts->address != NULL;
}

void
udg_test_server_stop (UdgTestServer *ts)
{
  if (ts->thread == NULL)
    return;
  udg_server_shutdown (ts->server);
  g_thread_join (g_steal_pointer (&ts->thread));
}

gboolean
udg_test_server_teardown_check (UdgTestServer *ts)
{
  gboolean ok = TRUE;

  pthread_mutex_lock (&ts->lock);
  for (guint i = 0; i < ts->seen->len; i++)
    {
      UdgClient *client = g_ptr_array_index (ts->seen, i);
      g_autoptr(GError) error = NULL;

      if (!udg_client_is_closing (client))
        ok = FALSE;
      if (udg_client_send_packet (client, "late", &error) ||
          !g_error_matches (error, UDG_ERROR, UDG_ERROR_CLOSED))
        ok = FALSE;
    }
  pthread_mutex_unlock (&ts->lock);
  return ok;
}

guint
udg_test_server_count_requests (UdgTestServer *ts, const gchar *peer)
{
  GPtrArray *list;
  guint n = 0;

  pthread_mutex_lock (&ts->lock);
  if (peer == NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, ts->requests);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        n += ((GPtrArray *) value)->len;
    }
  else if ((list = g_hash_table_lookup (ts->requests, peer)) != NULL)
    n = list->len;
  pthread_mutex_unlock (&ts->lock);
  return n;
}

void
udg_test_server_free (UdgTestServer *ts)
{
  if (ts == NULL)
    return;
  udg_test_server_stop (ts);
  g_hash_table_unref (ts->requests);
  g_hash_table_unref (ts->first_client);
  g_ptr_array_unref (ts->seen);
  if (ts->server != NULL)
    {
      udg_server_close (ts->server, NULL);
      udg_server_unref (ts->server);
    }
  g_clear_pointer (&ts->address, udg_address_unref);
  g_clear_error (&ts->serve_error);
  pthread_mutex_destroy (&ts->lock);
  g_free (ts);
}
