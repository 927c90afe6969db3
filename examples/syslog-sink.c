/* syslog-sink: a /dev/log-style receiver.
 *
 *   syslog-sink PATH          (then: logger -u PATH -d message)
 *
 * Parses RFC 3164 ("<13>Nov 27 10:00:00 tag[123]: text") and RFC 5424
 * ("<13>1 2026-11-27T10:00:00Z host app 123 - - text") messages and prints
 * facility, severity, tag and message with the sender's kernel-verified pid
 * and uid.  Anything else is printed escaped as "unparsed": garbage never
 * stops it.  Descriptors sent with a message are closed.  Stops cleanly on
 * SIGINT/SIGTERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <udgram/udgram.h>

static GMutex print_lock;

static const gchar *const facilities[] = {
  "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
  "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
  "local4", "local5", "local6", "local7",
};
static const gchar *const severities[] = {
  "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

typedef struct
{
  gint pri;
  gchar *tag;
  gchar *message;
} Entry;

/* "<PRI>" at the start: returns the rest, or NULL. */
static const gchar *
parse_pri (const gchar *text, gint *pri)
{
  gchar *end;
  gint64 v;

  if (text[0] != '<' || !g_ascii_isdigit (text[1]))
    return NULL;
  v = g_ascii_strtoll (text + 1, &end, 10);
  if (*end != '>' || v < 0 || v > 191 || end - text > 4)
    return NULL;
  *pri = (gint) v;
  return end + 1;
}

static gboolean
parse (const gchar *text, Entry *entry)
{
  const gchar *p = parse_pri (text, &entry->pri);

  if (p == NULL)
    return FALSE;
  if (p[0] == '1' && p[1] == ' ')
    {
      /* RFC 5424: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG],
       * where SD is "-" or [elements] whose quoted values may hold spaces. */
      const gchar *q = p + 2;
      const gchar *app = NULL;
      gsize app_len = 0;

      for (gint field = 0; field < 5; field++)
        {
          const gchar *space = strchr (q, ' ');

          if (space == NULL)
            return FALSE;
          if (field == 2)
            {
              app = q;
              app_len = space - q;
            }
          q = space + 1;
        }
      if (*q == '-')
        q++;
      else
        while (*q == '[')
          {
            gboolean quoted = FALSE;

            for (q++; *q != '\0' && (quoted || *q != ']'); q++)
              {
                if (*q == '\\' && q[1] != '\0')
                  q++;
                else if (*q == '"')
                  quoted = !quoted;
              }
            if (*q != ']')
              return FALSE;
            q++;
          }
      if (*q == ' ')
        q++;
      else if (*q != '\0')
        return FALSE;
      entry->tag = g_strndup (app, app_len);
      entry->message = g_strdup (q);
      return TRUE;
    }
  /* RFC 3164: "Mmm dd hh:mm:ss " (15 characters and a space), then
   * "TAG: MSG" or "TAG[PID]: MSG"; local senders put no hostname. */
  if (strlen (p) > 16 && p[3] == ' ' && p[15] == ' ')
    p += 16;
  {
    const gchar *colon = strstr (p, ": ");
    const gchar *bracket;

    if (colon == NULL)
      {
        entry->tag = g_strdup ("");
        entry->message = g_strdup (p);
        return TRUE;
      }
    bracket = memchr (p, '[', colon - p);
    entry->tag = g_strndup (p, (bracket != NULL ? bracket : colon) - p);
    entry->message = g_strdup (colon + 2);
  }
  return TRUE;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GBytes) datagram = udg_client_recv (client, NULL, error);
  g_autofree gchar *text = NULL;
  UdgCredentials creds = { 0, 0, 0 };
  Entry entry = { 0, NULL, NULL };
  const gchar *data;
  gsize len;

  if (datagram == NULL)
    return FALSE;
  udg_client_get_credentials (client, &creds);
  data = g_bytes_get_data (datagram, &len);
  text = g_strndup (data != NULL ? data : "", len); /* stops at a NUL: fine for a log line */
  g_strchomp (text);
  g_mutex_lock (&print_lock);
  if (g_utf8_validate (text, -1, NULL) && parse (text, &entry))
    {
      g_autofree gchar *message = g_strescape (entry.message, "\xc2\xc3\xc4\xc5\xe2");

      printf ("facility=%s severity=%s tag=%s pid=%ld uid=%ld: %s\n",
              facilities[entry.pri / 8 < (gint) G_N_ELEMENTS (facilities) ? entry.pri / 8 : 1],
              severities[entry.pri % 8], entry.tag, (long) creds.pid, (long) creds.uid, message);
    }
  else
    {
      g_autofree gchar *escaped = g_strescape (text, NULL);

      printf ("unparsed (pid=%ld uid=%ld, %zu bytes): %s\n", (long) creds.pid, (long) creds.uid, len, escaped);
    }
  fflush (stdout);
  g_mutex_unlock (&print_lock);
  g_free (entry.tag);
  g_free (entry.message);
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
  udg_server_options_set_pass_credentials (options, TRUE);
  udg_server_options_set_mode (options, 0666); /* everyone may log, as /dev/log */
  server = udg_server_new (argv[1], protocol, &funcs, NULL, NULL, options, &error);
  if (server == NULL || !udg_server_activate (server, &error))
    {
      fprintf (stderr, "syslog-sink: %s\n", error->message);
      return 1;
    }
  printf ("syslog-sink: listening at %s\n", argv[1]);
  fflush (stdout);
  if (!udg_server_serve_forever (server, &error))
    {
      fprintf (stderr, "syslog-sink: %s\n", error->message);
      return 1;
    }
  udg_server_close (server, NULL);
  return 0;
}
