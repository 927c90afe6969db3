/* notify-monitor: the service manager's side of the sd_notify protocol.
 *
 *   notify-monitor PATH       (then run services with NOTIFY_SOCKET=PATH)
 *
 * Accepts datagrams from unbound senders (systemd-notify, sd_notify()),
 * parses their KEY=VALUE lines (READY, STATUS, MAINPID, ERRNO, WATCHDOG,
 * RELOADING, STOPPING, BARRIER, ...) and prints each with the sender's pid
 * as the kernel vouches for it.  Every descriptor that comes with a message
 * is closed as soon as the message is read: systemd-notify's BARRIER step
 * waits for exactly that, so `systemd-notify --ready` returns at once.
 * Stops cleanly on SIGINT/SIGTERM.
 */
#include <stdio.h>
#include <string.h>
#include <udgram/udgram.h>

static GMutex print_lock;

static const gchar *const known[] = {
  "READY", "STATUS", "MAINPID", "ERRNO", "BUSERROR", "WATCHDOG", "WATCHDOG_USEC",
  "RELOADING", "STOPPING", "BARRIER", "FDSTORE", "FDNAME", "EXTEND_TIMEOUT_USEC", "MONOTONIC_USEC", NULL,
};

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  /* recv without an ancillary callback: the descriptors (BARRIER=1's pipe,
   * FDSTORE=1's fds) are closed by the server right here. */
  g_autoptr(GBytes) message = udg_client_recv (client, NULL, error);
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;
  UdgCredentials creds = { 0, 0, 0 };
  gsize len;
  const gchar *data;

  if (message == NULL)
    return FALSE;
  udg_client_get_credentials (client, &creds);
  data = g_bytes_get_data (message, &len);
  text = g_strndup (data != NULL ? data : "", len);
  lines = g_strsplit (text, "\n", -1);
  g_mutex_lock (&print_lock);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const gchar *eq = strchr (lines[i], '=');
      g_autofree gchar *key = NULL;
      g_autofree gchar *shown = NULL;

      if (lines[i][0] == '\0')
        continue;
      if (eq == NULL)
        {
          printf ("pid %ld: malformed line: %s\n", (long) creds.pid, lines[i]);
          continue;
        }
      key = g_strndup (lines[i], eq - lines[i]);
      shown = g_strescape (eq + 1, NULL);
      printf ("pid %ld uid %ld: %s=%s%s\n", (long) creds.pid, (long) creds.uid, key, shown,
              g_strv_contains (known, key) ? "" : " (unknown key)");
    }
  fflush (stdout);
  g_mutex_unlock (&print_lock);
  return TRUE;
}

int
main (int argc, char **argv)
{
  static const UdgHandlerFuncs funcs = { .handle = handle };
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) bytes = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (bytes);
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s PATH\n", argv[0]);
      return 2;
    }
  udg_server_options_set_unnamed_addresses_behavior (options, UDG_UNNAMED_ADDRESSES_HANDLE);
  udg_server_options_set_receive_ancillary_data (options, TRUE);
  udg_server_options_set_pass_credentials (options, TRUE);
  server = udg_server_new (argv[1], protocol, &funcs, NULL, NULL, options, &error);
  if (server == NULL || !udg_server_activate (server, &error))
    {
      fprintf (stderr, "notify-monitor: %s\n", error->message);
      return 1;
    }
  printf ("notify-monitor: listening; export NOTIFY_SOCKET=%s\n", argv[1]);
  fflush (stdout);
  if (!udg_server_serve_forever (server, &error))
    {
      fprintf (stderr, "notify-monitor: %s\n", error->message);
      return 1;
    }
  udg_server_close (server, NULL);
  return 0;
}
