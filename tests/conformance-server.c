/* conformance-server: EasyNetwork's MyDatagramRequestHandler (its functional tests)
 * over the ASCII serializer, for clients inside and outside this project.
 *
 *   conformance-server [--ancillary] [--unnamed=ignore|warn|handle]
 *                      [--mode=OCTAL] [--serializer=ascii|invalid|bad_serialize]
 *                      [--init-delay=MS] [--reply-delay=MS] [--max-threads=N]
 *                      [--no-record] PATH
 *
 * PATH may be a path, @name, or "" (autobind).  Prints "ready <address>" on
 * stdout once serving, and nothing else there: every log record, of every
 * level, goes to stderr.  On SIGTERM or SIGINT it shuts down cleanly (the
 * library's drain), removes its socket file (unless the service manager
 * holds the socket), says its statistics on stderr and exits 0.  With
 * LISTEN_FDS it serves the socket passed for PATH; with NOTIFY_SOCKET it
 * says READY=1 once serving, and with FDSTORE too it stores the socket it
 * binds (the library's defaults).
 *
 * Commands: __ping__ -> pong; __error__, __os_error__ -> a logged handler
 * error; __closed_client_error__ -> one WARNING; __eq__, __cache__ -> True;
 * __wait__ then X -> "After wait: X"; __recvmsg__ then "fds" with fds ->
 * "Received N file descriptors." (needs --ancillary); __sendmsg__ -> "fds"
 * with 3 fds; anything else -> its uppercase; bytes outside ASCII ->
 * "wrong encoding man.".  Only parse errors are answered: any other error
 * at a receive (ancillary data asked of a server without --ancillary, a
 * crashed deserializer) goes to the log, and the client gets no reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "udg-test-server.h"

/* Every record, of every level, to stderr: stdout carries the ready line
 * and nothing else (GLib's standard-streams writer would put INFO and
 * DEBUG records there). */
static GLogWriterOutput
to_stderr (GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
  g_autofree gchar *line = g_log_writer_format_fields (level, fields, n, FALSE);

  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

/* Prints "ready ADDRESS" once the server serves; nothing if it never does. */
static gpointer
announce_ready (gpointer data)
{
  UdgServer *server = data;

  if (udg_server_wait_serving (server, UDG_TIMEOUT_INFINITE))
    {
      g_autoptr(GPtrArray) addresses = udg_server_get_addresses (server);
      g_autofree gchar *where = udg_address_to_string (g_ptr_array_index (addresses, 0));

      printf ("ready %s\n", where);
      fflush (stdout);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  UdgTestServerConfig config = UDG_TEST_SERVER_CONFIG_INIT;
  g_autoptr(GError) error = NULL;
  GThread *announcer;
  UdgTestServer *ts;
  const gchar *path = NULL;
  gboolean ok;

  for (int i = 1; i < argc; i++)
    {
      const gchar *a = argv[i];

      if (g_str_equal (a, "--ancillary"))
        config.ancillary = TRUE;
      else if (g_str_equal (a, "--unnamed=ignore"))
        config.unnamed = UDG_UNNAMED_ADDRESSES_IGNORE;
      else if (g_str_equal (a, "--unnamed=warn"))
        config.unnamed = UDG_UNNAMED_ADDRESSES_WARN;
      else if (g_str_equal (a, "--unnamed=handle"))
        config.unnamed = UDG_UNNAMED_ADDRESSES_HANDLE;
      else if (g_str_has_prefix (a, "--init-delay="))
        config.init_delay_ms = (guint) strtoul (a + 13, NULL, 10);
      else if (g_str_has_prefix (a, "--reply-delay="))
        config.reply_delay_ms = (guint) strtoul (a + 14, NULL, 10);
      else if (g_str_has_prefix (a, "--max-threads="))
        config.max_threads = (guint) strtoul (a + 14, NULL, 10);
      else if (g_str_has_prefix (a, "--mode="))
        config.mode = (gint) strtol (a + 7, NULL, 8);
      else if (g_str_equal (a, "--serializer=ascii"))
        config.serializer = UDG_TEST_SERIALIZER_ASCII;
      else if (g_str_equal (a, "--serializer=invalid"))
        config.serializer = UDG_TEST_SERIALIZER_CRASH_DESERIALIZE;
      else if (g_str_equal (a, "--serializer=bad_serialize"))
        config.serializer = UDG_TEST_SERIALIZER_CRASH_SERIALIZE;
      else if (g_str_equal (a, "--no-record"))
        config.no_record = TRUE;
      else if (a[0] == '-' && a[1] == '-' && a[2] != '\0')
        {
          fprintf (stderr, "conformance-server: unknown option %s\n", a);
          return 2;
        }
      else if (path == NULL)
        path = a;
      else
        {
          fprintf (stderr, "conformance-server: one PATH only\n");
          return 2;
        }
    }
  if (path == NULL)
    {
      fprintf (stderr, "usage: conformance-server [--ancillary] [--unnamed=ignore|warn|handle] "
                       "[--mode=OCTAL] [--serializer=ascii|invalid|bad_serialize] [--init-delay=MS] "
                       "[--reply-delay=MS] [--max-threads=N] [--no-record] PATH\n");
      return 2;
    }
  config.path = path;
  config.handle_signals = TRUE;
  config.notify = TRUE; /* READY=1 and the rest when NOTIFY_SOCKET is set */
  g_log_set_writer_func (to_stderr, NULL, NULL);

  ts = udg_test_server_new (&config, NULL, &error);
  if (ts == NULL || !udg_server_activate (ts->server, &error))
    {
      fprintf (stderr, "conformance-server: %s\n", error->message);
      udg_test_server_free (ts);
      return 1;
    }
  /* The handler's state is ts; serve in this (main) thread so that SIGINT
   * and SIGTERM are handled, and say "ready" from another thread once it
   * serves: its signal handling is in place by then, so a SIGTERM right
   * after the line is a clean stop. */
  announcer = g_thread_new ("ready", announce_ready, ts->server);
  ok = udg_server_serve_forever (ts->server, &error);
  g_thread_join (announcer);
  if (!ok)
    fprintf (stderr, "conformance-server: %s\n", error->message);
  else
    {
      UdgServerStats st;

      udg_server_get_stats (ts->server, &st);
      fprintf (stderr, "conformance-server: received %" G_GUINT64_FORMAT ", handled %" G_GUINT64_FORMAT
               ", dropped %" G_GUINT64_FORMAT " (mailbox) %" G_GUINT64_FORMAT " (shutdown), %" G_GUINT64_FORMAT
               " waits ended\n", st.received, st.handled, st.dropped_mailbox, st.dropped_shutdown, st.waits_ended);
    }
  udg_test_server_free (ts);
  return ok ? 0 : 1;
}
