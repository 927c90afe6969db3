/* udgram: poke any Unix datagram server from a shell, or be one.
 *
 *   udgram serve  [OPTION...] [PATH]         a ready-made echo server
 *   udgram send   [OPTION...] PATH MESSAGE... send, print each reply
 *   udgram listen [OPTION...] [PATH]         print every datagram received
 *   udgram demo                              a server and a client, in one process
 *   udgram keygen                            a fresh HMAC key for --key-file
 *
 * Exit status: 0 success, 1 failure (no server, no reply in time, cannot
 * bind...), 2 usage error.  See udgram(1).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <udgram/udgram.h>

enum { EXIT_USAGE = 2 };

typedef enum { PROTO_BYTES, PROTO_LINE, PROTO_JSON } ProtoKind; /* msgpack, cbor: JSON packets */

/* --- protocol stacks (shared by serve, send and listen) -------------------- */

static gchar *opt_protocol = NULL;
static gchar *opt_compress = NULL;
static gchar *opt_base64 = NULL;
static gboolean opt_base64_flag = FALSE;
static gboolean opt_checksum = FALSE;
static gchar *opt_key_file = NULL;

static gboolean
base64_cb (const gchar *name, const gchar *value, gpointer data, GError **error)
{
  opt_base64_flag = TRUE;
  g_free (opt_base64);
  opt_base64 = g_strdup (value != NULL ? value : "urlsafe");
  return TRUE;
}

static GOptionEntry protocol_entries[] = {
  { "protocol", 'p', 0, G_OPTION_ARG_STRING, &opt_protocol, "bytes (default), line, json, msgpack or cbor", "NAME" },
  { "compress", 0, 0, G_OPTION_ARG_STRING, &opt_compress, "zlib, bz2, zstd or lz4, inside base64", "NAME" },
  { "base64", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, base64_cb,
    "base64 outermost, urlsafe (default) or standard alphabet", "ALPHABET" },
  { "checksum", 0, 0, G_OPTION_ARG_NONE, &opt_checksum, "append a SHA-256 digest (with --base64)", NULL },
  { "key-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_key_file,
    "append an HMAC-SHA256 digest with the key in FILE (with --base64)", "FILE" },
  { NULL }
};

static ProtoKind proto_kind;

/* protocol innermost, then compression, then base64 outermost: as
 * Base64EncoderSerializer(ZlibCompressorSerializer(JSONSerializer())). */
static UdgProtocol *
build_protocol (GError **error)
{
  g_autoptr(UdgSerializer) s = NULL;

  if (opt_protocol == NULL || g_str_equal (opt_protocol, "bytes"))
    {
      proto_kind = PROTO_BYTES;
      s = udg_bytes_serializer_new ();
    }
  else if (g_str_equal (opt_protocol, "line"))
    {
      proto_kind = PROTO_LINE;
      s = udg_line_serializer_new (UDG_NEWLINE_LF, "utf-8", FALSE, error);
    }
  else if (g_str_equal (opt_protocol, "json"))
    {
      proto_kind = PROTO_JSON;
      s = udg_json_serializer_new ();
    }
  else if (g_str_equal (opt_protocol, "msgpack") || g_str_equal (opt_protocol, "cbor"))
    {
      /* Packets are JSON documents too: MESSAGE is JSON text. */
      proto_kind = PROTO_JSON;
      s = g_str_equal (opt_protocol, "msgpack") ? udg_msgpack_serializer_new (error) : udg_cbor_serializer_new (error);
      if (s == NULL)
        return NULL;
    }
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "unknown protocol '%s' (bytes, line, json, msgpack or cbor)", opt_protocol);
      return NULL;
    }
  if (opt_compress != NULL)
    {
      static const gchar *const names[] = { "zlib", "gzip", "bz2", "zstd", "lz4" };
      g_autoptr(UdgSerializer) inner = g_steal_pointer (&s);

      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        if (g_str_equal (opt_compress, names[i]))
          s = udg_compressor_serializer_new (inner, i, -1, 0, error);
      if (s == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "unknown compressor '%s' (zlib, bz2, zstd or lz4)", opt_compress);
          return NULL;
        }
    }
  if ((opt_checksum || opt_key_file != NULL) && !opt_base64_flag)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--checksum and --key-file go with --base64");
      return NULL;
    }
  if (opt_base64_flag)
    {
      g_autoptr(UdgSerializer) inner = g_steal_pointer (&s);
      g_autofree gchar *key = NULL;
      UdgBase64Alphabet alphabet;
      UdgBase64Checksum checksum = UDG_BASE64_CHECKSUM_NONE;

      if (g_str_equal (opt_base64, "urlsafe"))
        alphabet = UDG_BASE64_URLSAFE;
      else if (g_str_equal (opt_base64, "standard"))
        alphabet = UDG_BASE64_STANDARD;
      else
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "unknown base64 alphabet '%s' (urlsafe or standard)", opt_base64);
          return NULL;
        }
      if (opt_key_file != NULL)
        {
          if (!g_file_get_contents (opt_key_file, &key, NULL, error))
            return NULL;
          g_strchomp (key);
          checksum = UDG_BASE64_CHECKSUM_HMAC_SHA256;
        }
      else if (opt_checksum)
        checksum = UDG_BASE64_CHECKSUM_SHA256;
      s = udg_base64_serializer_new (inner, alphabet, checksum, key, error);
      if (s == NULL)
        return NULL;
    }
  return s != NULL ? udg_protocol_new (s) : NULL;
}

/* MESSAGE text -> packet of the protocol. */
static gpointer
packet_from_text (const gchar *text, GError **error)
{
  switch (proto_kind)
    {
    case PROTO_LINE:
      return g_strdup (text);
    case PROTO_JSON:
      return json_from_string (text, error);
    case PROTO_BYTES:
    default:
      return g_bytes_new (text, strlen (text));
    }
}

static void
packet_free (gpointer packet)
{
  if (packet == NULL)
    return;
  switch (proto_kind)
    {
    case PROTO_LINE:
      g_free (packet);
      break;
    case PROTO_JSON:
      json_node_unref (packet);
      break;
    case PROTO_BYTES:
    default:
      g_bytes_unref (packet);
      break;
    }
}

static gchar *
packet_to_text (gconstpointer packet)
{
  gsize len;
  const gchar *data;

  switch (proto_kind)
    {
    case PROTO_LINE:
      return g_strdup (packet);
    case PROTO_JSON:
      return json_to_string ((JsonNode *) packet, FALSE);
    case PROTO_BYTES:
    default:
      data = g_bytes_get_data ((GBytes *) packet, &len);
      return g_strndup (data != NULL ? data : "", len);
    }
}

static gpointer
packet_upper (gconstpointer packet)
{
  g_autofree gchar *text = NULL;
  gchar *upper;

  switch (proto_kind)
    {
    case PROTO_LINE:
      return g_utf8_strup (packet, -1);
    case PROTO_JSON:
      if (JSON_NODE_HOLDS_VALUE ((JsonNode *) packet) &&
          json_node_get_value_type ((JsonNode *) packet) == G_TYPE_STRING)
        {
          JsonNode *node = json_node_new (JSON_NODE_VALUE);
          g_autofree gchar *up = g_utf8_strup (json_node_get_string ((JsonNode *) packet), -1);

          json_node_set_string (node, up);
          return node;
        }
      return json_node_copy ((JsonNode *) packet);
    case PROTO_BYTES:
    default:
      text = packet_to_text (packet);
      upper = g_ascii_strup (text, g_bytes_get_size ((GBytes *) packet));
      return g_bytes_new_take (upper, g_bytes_get_size ((GBytes *) packet));
    }
}

static void
print_stats (UdgServer *server, FILE *out)
{
  UdgServerStats st;

  udg_server_get_stats (server, &st);
  fprintf (out,
           "udgram: received %" G_GUINT64_FORMAT ", handled %" G_GUINT64_FORMAT ", refused %" G_GUINT64_FORMAT
           ", dropped %" G_GUINT64_FORMAT " (mailbox) %" G_GUINT64_FORMAT " (shutdown), truncated %" G_GUINT64_FORMAT
           ", unnamed %" G_GUINT64_FORMAT ", denied %" G_GUINT64_FORMAT ", parse errors %" G_GUINT64_FORMAT
           ", handler errors %" G_GUINT64_FORMAT ", send errors %" G_GUINT64_FORMAT
           " (%" G_GUINT64_FORMAT " to peers not reading), waits ended under pressure %" G_GUINT64_FORMAT "\n",
           st.received, st.handled, st.refused, st.dropped_mailbox, st.dropped_shutdown, st.truncated,
           st.unnamed, st.denied, st.parse_errors, st.handler_errors, st.send_errors, st.not_reading,
           st.waits_ended);
  fflush (out);
}

static gboolean
on_sigusr1 (gpointer server)
{
  print_stats (server, stdout);
  return G_SOURCE_CONTINUE;
}

static gchar *
default_path (void)
{
  const gchar *runtime = g_getenv ("XDG_RUNTIME_DIR");

  if (runtime != NULL && g_file_test (runtime, G_FILE_TEST_IS_DIR))
    return g_build_filename (runtime, "udgram.sock", NULL);
  return g_strdup ("./udgram.sock");
}

static gchar *
where_of (UdgServer *server)
{
  g_autoptr(GPtrArray) addresses = udg_server_get_addresses (server);

  return addresses->len > 0 ? udg_address_to_string (g_ptr_array_index (addresses, 0)) : g_strdup ("?");
}

/* The line saying where the server serves ("udgram: serving at PATH"),
 * and where it goes: printed once it serves, so that whoever waits for it
 * may signal the server at once (SIGTERM is handled by then). */
static const gchar *ready_verb = "serving";
static FILE *ready_stream;

static gboolean
announce_ready (gpointer server)
{
  g_autofree gchar *where = where_of (server);

  fprintf (ready_stream != NULL ? ready_stream : stdout, "udgram: %s at %s\n", ready_verb, where);
  fflush (ready_stream != NULL ? ready_stream : stdout);
  return G_SOURCE_REMOVE;
}

static gboolean
tool_service_init (UdgExitStack *stack, UdgServer *server, gpointer user_data, GError **error)
{
  GSource *source = g_unix_signal_source_new (SIGUSR1);

  g_source_set_callback (source, on_sigusr1, server, NULL);
  g_source_attach (source, udg_server_get_main_context (server));
  udg_exit_stack_push_source (stack, source);
  /* Runs at the loop's first iteration: the server serves by then. */
  udg_server_add_timeout (server, 0, announce_ready, server, NULL);
  return TRUE;
}

/* --- serve ------------------------------------------------------------------ */

static gboolean serve_upper = FALSE;
static GMutex complaints_lock;
static GHashTable *last_complaint; /* address string -> gint64 */

/* One line per client and @what every few seconds at most: a sender of
 * garbage, or a peer that does not read its replies, cannot flood the
 * terminal. */
static void
complain (UdgClient *client, const gchar *what, const GError *error)
{
  g_autofree gchar *who = udg_address_to_string (udg_client_get_peer_name (client));
  g_autofree gchar *key = g_strconcat (what, " ", who, NULL);
  gint64 now = g_get_monotonic_time ();
  gint64 *last;

  g_mutex_lock (&complaints_lock);
  last = g_hash_table_lookup (last_complaint, key);
  if (last == NULL || now - *last > 5 * G_USEC_PER_SEC)
    {
      if (last == NULL)
        {
          last = g_new (gint64, 1);
          g_hash_table_insert (last_complaint, g_steal_pointer (&key), last);
        }
      *last = now;
      g_printerr ("udgram: %s %s: %s\n", what, who, error->message);
    }
  g_mutex_unlock (&complaints_lock);
}

static gboolean
serve_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = NULL;
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autoptr(GError) local = NULL;
  gpointer request, reply;
  gboolean ok;

  if (GPOINTER_TO_INT (user_data))
    {
      /* --ancillary: take whatever comes, and close it (with ancillary). */
      ancillary = udg_ancillary_new ();
      params.recv_with_ancillary = udg_ancillary_receive_func;
      params.ancillary_user_data = ancillary;
    }
  request = udg_client_recv (client, &params, &local);
  if (request == NULL)
    {
      if (g_error_matches (local, UDG_ERROR, UDG_ERROR_PARSE))
        {
          complain (client, "bad datagram from", local);
          return TRUE; /* forged or corrupted: no answer */
        }
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  reply = serve_upper ? packet_upper (request) : request;
  ok = udg_client_send_packet (client, reply, &local);
  if (reply != request)
    packet_free (reply);
  udg_client_free_packet (client, request);
  if (!ok && !g_error_matches (local, UDG_ERROR, UDG_ERROR_CLOSED))
    {
      complain (client, "cannot answer", local);
      return TRUE;
    }
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local));
  return ok;
}

static int
cmd_serve (int argc, char **argv)
{
  static gboolean echo = FALSE, ancillary = FALSE, listen_fds = FALSE, reuse_stale = FALSE, no_notify = FALSE;
  static gdouble drain_timeout = 5.0;
  static gchar *fd_store = NULL;
  static gchar *fd_name = NULL;
  static gchar *mode = NULL;
  static gint64 *allow_uids = NULL;
  static gchar **allow_uid_texts = NULL;
  static GOptionEntry entries[] = {
    { "listen-fds", 0, 0, G_OPTION_ARG_NONE, &listen_fds, "serve the socket systemd passed (LISTEN_FDS)", NULL },
    { "reuse-stale", 0, 0, G_OPTION_ARG_NONE, &reuse_stale, "replace a socket file nobody listens on", NULL },
    { "no-notify", 0, 0, G_OPTION_ARG_NONE, &no_notify, "do not tell systemd (NOTIFY_SOCKET) when serving", NULL },
    { "drain-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &drain_timeout,
      "seconds a stop may take to answer what was read (default 5; inf: until done)", "SECONDS" },
    { "fd-store", 0, 0, G_OPTION_ARG_STRING, &fd_store,
      "keep the socket in systemd's fd store across restarts: auto (default: when $FDSTORE is set), always or never", "WHEN" },
    { "fd-name", 0, 0, G_OPTION_ARG_STRING, &fd_name, "the socket's name in the fd store (default udgram)", "NAME" },
    { "allow-uid", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allow_uid_texts, "accept datagrams from this user only (repeatable)", "UID" },
    { "echo", 0, 0, G_OPTION_ARG_NONE, &echo, "send every packet back (the default)", NULL },
    { "upper", 0, 0, G_OPTION_ARG_NONE, &serve_upper, "send it back in upper case", NULL },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "permissions of the socket file, in octal", "OCTAL" },
    { "ancillary", 0, 0, G_OPTION_ARG_NONE, &ancillary, "receive control messages (descriptors are closed)", NULL },
    { NULL }
  };
  static const UdgHandlerFuncs funcs = { .service_init = tool_service_init, .handle = serve_handle };
  g_autoptr(GOptionContext) context = g_option_context_new ("[PATH] - a ready-made echo server");
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgProtocol) protocol = NULL;
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autofree gchar *path = NULL;

  (void) echo; /* the default: --echo is there to say it */
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, protocol_entries, NULL);
  g_option_context_set_description (context,
    "PATH is a socket path, @name for an abstract name, or \"\" to autobind;\n"
    "by default $XDG_RUNTIME_DIR/udgram.sock, else ./udgram.sock.\n"
    "Ctrl-C stops the server and prints its statistics; so does SIGUSR1, without stopping.\n"
    "A stop answers what was read first (--drain-timeout); what is still in the socket waits\n"
    "there for the next process when the socket outlives this one.\n"
    "Started by systemd (NOTIFY_SOCKET set), it reports READY=1 once serving, its\n"
    "statistics as STATUS=, WATCHDOG=1 when WatchdogSec= asks, and STOPPING=1; it serves\n"
    "the socket systemd passed for PATH (a .socket unit, or the fd store) instead of\n"
    "binding one, and stores the socket it binds when the unit keeps an fd store.");
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 2)
    {
      g_printerr ("udgram serve: %s\n", error != NULL ? error->message : "one PATH at most");
      return EXIT_USAGE;
    }
  protocol = build_protocol (&error);
  if (protocol == NULL)
    {
      g_printerr ("udgram serve: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (mode != NULL)
    {
      gchar *end;
      guint64 m = g_ascii_strtoull (mode, &end, 8);

      if (*end != '\0' || m > 07777)
        {
          g_printerr ("udgram serve: --mode takes an octal mode such as 0660, not '%s'\n", mode);
          return EXIT_USAGE;
        }
      udg_server_options_set_mode (options, (guint) m);
    }
  udg_server_options_set_receive_ancillary_data (options, ancillary);
  udg_server_options_set_reuse_stale (options, reuse_stale);
  if (isnan (drain_timeout) || drain_timeout < 0)
    {
      g_printerr ("udgram serve: --drain-timeout takes a number of seconds, 0 or more, or inf\n");
      return EXIT_USAGE;
    }
  udg_server_options_set_drain_timeout (options, drain_timeout);
  if (fd_store != NULL)
    {
      static const gchar *const names[] = { "auto", "always", "never" };
      guint i;

      for (i = 0; i < G_N_ELEMENTS (names) && !g_str_equal (fd_store, names[i]); i++)
        ;
      if (i == G_N_ELEMENTS (names))
        {
          g_printerr ("udgram serve: --fd-store takes auto, always or never, not '%s'\n", fd_store);
          return EXIT_USAGE;
        }
      udg_server_options_set_fd_store (options, (UdgFdStore) i);
    }
  if (fd_name != NULL)
    udg_server_options_set_fd_name (options, fd_name);
  /* READY=1, STATUS=, WATCHDOG=1, STOPPING=1 when started by systemd. */
  udg_server_options_set_notify (options, !no_notify);
  if (allow_uid_texts != NULL)
    {
      guint n = g_strv_length (allow_uid_texts);
      g_autofree uid_t *uids = g_new (uid_t, n);

      for (guint i = 0; i < n; i++)
        {
          guint64 v;

          if (!g_ascii_string_to_unsigned (allow_uid_texts[i], 10, 0, G_MAXUINT32 - 1, &v, NULL) || n > 32)
            {
              g_printerr ("udgram serve: --allow-uid takes a numeric uid (32 at most), not '%s'\n", allow_uid_texts[i]);
              return EXIT_USAGE;
            }
          uids[i] = (uid_t) v;
        }
      udg_server_options_set_allowed_uids (options, uids, n);
    }
  (void) allow_uids;
  last_complaint = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (listen_fds)
    {
      g_autoptr(GArray) fds = udg_listen_fds (TRUE, &error);

      if (fds == NULL || fds->len != 1 || argc == 2)
        {
          g_printerr ("udgram serve: --listen-fds needs exactly one socket from systemd and no PATH%s%s\n",
                      error != NULL ? ": " : "", error != NULL ? error->message : "");
          return EXIT_USAGE;
        }
      server = udg_server_new_from_fd (g_array_index (fds, gint, 0), protocol, &funcs, GINT_TO_POINTER (ancillary),
                                       NULL, options, &error);
    }
  else
    {
      path = argc == 2 ? g_strdup (argv[1]) : default_path ();
      server = udg_server_new (path, protocol, &funcs, GINT_TO_POINTER (ancillary), NULL, options, &error);
    }
  if (server == NULL || !udg_server_activate (server, &error))
    {
      if (g_error_matches (error, UDG_ERROR, UDG_ERROR_ADDRESS_IN_USE) && !reuse_stale && path != NULL &&
          g_file_test (path, G_FILE_TEST_EXISTS) && !listen_fds)
        /* The library's hint names its C option; this is the tool's. */
        g_printerr ("udgram serve: cannot bind %s: the address is in use (a socket file left by an earlier "
                    "run? --reuse-stale replaces it when nobody listens there)\n", path);
      else
        g_printerr ("udgram serve: %s\n", error->message);
      return EXIT_FAILURE;
    }
  ready_verb = "serving";
  ready_stream = stdout;
  if (!udg_server_serve_forever (server, &error))
    {
      g_printerr ("udgram serve: %s\n", error->message);
      return EXIT_FAILURE;
    }
  print_stats (server, stdout);
  udg_server_close (server, NULL);
  g_hash_table_unref (last_complaint);
  return EXIT_SUCCESS;
}

/* --- send ------------------------------------------------------------------- */

static int
cmd_send (int argc, char **argv)
{
  static gdouble timeout = 2.0;
  static gboolean no_reply = FALSE;
  static gchar **fd_files = NULL;
  static gchar *bind_path = NULL;
  static GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout, "seconds to wait for each reply (default 2; inf: for ever)", "SECONDS" },
    { "no-reply", 'n', 0, G_OPTION_ARG_NONE, &no_reply, "do not wait for replies", NULL },
    { "fd", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &fd_files, "send FILE, opened for reading, with each message (SCM_RIGHTS)", "FILE" },
    { "bind", 'b', 0, G_OPTION_ARG_FILENAME, &bind_path, "bind to PATH (default: an autobound abstract name)", "PATH" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("PATH MESSAGE... - send each MESSAGE, print each reply");
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgProtocol) protocol = NULL;
  g_autoptr(UdgEndpoint) endpoint = NULL;
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (gint));
  int status = EXIT_SUCCESS;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, protocol_entries, NULL);
  g_option_context_set_description (context,
    "With --protocol=json each MESSAGE is JSON text and each reply is printed as compact JSON.\n"
    "Exit status: 0 when every reply came, 1 when the server cannot be reached or a reply\n"
    "did not come within the timeout, 2 on a usage error.");
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 3)
    {
      g_printerr ("udgram send: %s\n", error != NULL ? error->message : "PATH and at least one MESSAGE are needed");
      return EXIT_USAGE;
    }
  /* The library's convention: seconds, 0 for one try, inf for ever. */
  if (isnan (timeout) || timeout < 0)
    {
      g_printerr ("udgram send: --timeout takes a number of seconds, 0 or more, or inf to wait for ever\n");
      return EXIT_USAGE;
    }
  protocol = build_protocol (&error);
  if (protocol == NULL)
    {
      g_printerr ("udgram send: %s\n", error->message);
      return EXIT_USAGE;
    }
  for (guint i = 0; fd_files != NULL && fd_files[i] != NULL; i++)
    {
      gint fd = open (fd_files[i], O_RDONLY | O_CLOEXEC);

      if (fd < 0)
        {
          g_printerr ("udgram send: cannot open %s: %s\n", fd_files[i], g_strerror (errno));
          return EXIT_FAILURE;
        }
      g_array_append_val (fds, fd);
    }
  udg_ancillary_take_fds (ancillary, (const gint *) (gpointer) fds->data, fds->len);
  endpoint = udg_endpoint_new (argv[1], bind_path, protocol, &error);
  if (endpoint == NULL)
    {
      /* With --bind, the message says which failed: binding PATH, or
       * reaching the server. */
      if (bind_path != NULL)
        g_printerr ("udgram send: %s\n", error->message);
      else
        g_printerr ("udgram send: cannot reach %s: %s\n", argv[1], error->message);
      return EXIT_FAILURE;
    }
  for (int i = 2; i < argc && status == EXIT_SUCCESS; i++)
    {
      gpointer packet = packet_from_text (argv[i], &error);
      gpointer reply;
      gboolean sent;

      if (packet == NULL)
        {
          g_printerr ("udgram send: '%s' is not valid for --protocol=%s: %s\n", argv[i], opt_protocol,
                      error->message);
          return EXIT_USAGE;
        }
      sent = udg_endpoint_send_packet_with_ancillary (endpoint, packet, fds->len > 0 ? ancillary : NULL,
                                                      timeout, NULL, &error);
      packet_free (packet);
      if (!sent)
        {
          g_printerr ("udgram send: cannot send to %s: %s\n", argv[1], error->message);
          return EXIT_FAILURE;
        }
      if (no_reply)
        continue;
      reply = udg_endpoint_recv_packet (endpoint, timeout, NULL, &error);
      if (reply == NULL)
        {
          if (g_error_matches (error, UDG_ERROR, UDG_ERROR_TIMED_OUT))
            g_printerr ("udgram send: no reply from %s within %g s\n", argv[1], timeout);
          else
            g_printerr ("udgram send: %s\n", error->message);
          status = EXIT_FAILURE;
          break;
        }
      {
        g_autofree gchar *text = packet_to_text (reply);

        printf ("%s\n", text);
        fflush (stdout);
      }
      udg_endpoint_free_packet (endpoint, reply);
    }
  return status;
}

/* --- listen ----------------------------------------------------------------- */

static gboolean listen_json = FALSE;

/* @len bytes as a C string literal would spell them: printable ASCII as it
 * is, the rest escaped (\n, \t, \r, \\, \", else octal), so that a NUL
 * or a newline in a payload shows and the line stays one line
 * (g_strescape() stops at the first NUL). */
static gchar *
escape_bytes (const gchar *data, gsize len)
{
  /* The bytes C writes with a letter, and their letters. */
  static const gchar specials[] = "\n\t\r\\\"";
  static const gchar letters[] = "ntr\\\"";
  GString *out = g_string_sized_new (len + 1);

  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) data[i];
      const gchar *special = c != '\0' ? strchr (specials, c) : NULL;

      if (special != NULL)
        g_string_append_printf (out, "\\%c", letters[special - specials]);
      else if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, (gchar) c);
      else
        g_string_append_printf (out, "\\%03o", c);
    }
  return g_string_free (out, FALSE);
}

static GMutex print_lock;

static gboolean
listen_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autoptr(GBytes) data = NULL;
  g_autofree gchar *who = udg_address_to_string (udg_client_get_peer_name (client));
  g_autofree gchar *text = NULL;
  UdgCredentials creds;
  gboolean has_creds;
  guint n_fds = 0;
  gsize len;

  params.recv_with_ancillary = udg_ancillary_receive_func;
  params.ancillary_user_data = ancillary;
  data = udg_client_recv (client, &params, error);
  if (data == NULL)
    return FALSE;
  has_creds = GPOINTER_TO_INT (user_data) && udg_client_get_credentials (client, &creds);
  udg_ancillary_get_fds (ancillary, &n_fds);
  udg_ancillary_clear (ancillary); /* close what was sent: nobody waits on it */
  {
    const gchar *bytes = g_bytes_get_data (data, &len);

    /* Every byte, NULs included (g_strndup() would stop at the first). */
    text = g_malloc (len + 1);
    if (len > 0)
      memcpy (text, bytes, len);
    text[len] = '\0';
  }
  g_mutex_lock (&print_lock);
  if (listen_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree gchar *line = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "from");
      json_builder_add_string_value (b, who);
      json_builder_set_member_name (b, "length");
      json_builder_add_int_value (b, len);
      if (has_creds)
        {
          json_builder_set_member_name (b, "pid");
          json_builder_add_int_value (b, creds.pid);
          json_builder_set_member_name (b, "uid");
          json_builder_add_int_value (b, creds.uid);
          json_builder_set_member_name (b, "gid");
          json_builder_add_int_value (b, creds.gid);
        }
      json_builder_set_member_name (b, "fds");
      json_builder_add_int_value (b, n_fds);
      /* Text as it is when it is UTF-8 without NUL, else base64: never lost. */
      if (g_utf8_validate_len (text, len, NULL))
        {
          json_builder_set_member_name (b, "encoding");
          json_builder_add_string_value (b, "utf-8");
          json_builder_set_member_name (b, "data");
          json_builder_add_string_value (b, text);
        }
      else
        {
          g_autofree gchar *encoded = g_base64_encode ((const guchar *) text, len);

          json_builder_set_member_name (b, "encoding");
          json_builder_add_string_value (b, "base64");
          json_builder_set_member_name (b, "data");
          json_builder_add_string_value (b, encoded);
        }
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      line = json_to_string (root, FALSE);
      printf ("%s\n", line);
    }
  else
    {
      g_autofree gchar *escaped = escape_bytes (text, len);

      printf ("from %s, %zu bytes", who, len);
      if (has_creds)
        printf (", pid %ld uid %ld gid %ld", (long) creds.pid, (long) creds.uid, (long) creds.gid);
      if (n_fds > 0)
        printf (", %u descriptors (closed)", n_fds);
      printf (": %s\n", escaped);
    }
  fflush (stdout);
  g_mutex_unlock (&print_lock);
  return TRUE;
}

static int
cmd_listen (int argc, char **argv)
{
  static gboolean credentials = FALSE;
  static GOptionEntry entries[] = {
    { "credentials", 'c', 0, G_OPTION_ARG_NONE, &credentials, "print each sender's pid, uid and gid", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &listen_json, "print one JSON object per datagram", NULL },
    { NULL }
  };
  static const UdgHandlerFuncs funcs = { .service_init = tool_service_init, .handle = listen_handle };
  g_autoptr(GOptionContext) context = g_option_context_new ("[PATH] - print every datagram received");
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) bytes = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (bytes);
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autofree gchar *path = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
    "A sink: unbound senders (logger, systemd-notify) are printed too, and descriptors\n"
    "that come with a datagram are closed at once.");
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 2)
    {
      g_printerr ("udgram listen: %s\n", error != NULL ? error->message : "one PATH at most");
      return EXIT_USAGE;
    }
  udg_server_options_set_unnamed_addresses_behavior (options, UDG_UNNAMED_ADDRESSES_HANDLE);
  udg_server_options_set_receive_ancillary_data (options, TRUE);
  udg_server_options_set_pass_credentials (options, credentials);
  path = argc == 2 ? g_strdup (argv[1]) : default_path ();
  server = udg_server_new (path, protocol, &funcs, GINT_TO_POINTER (credentials), NULL, options, &error);
  if (server == NULL || !udg_server_activate (server, &error))
    {
      g_printerr ("udgram listen: %s\n", error->message);
      return EXIT_FAILURE;
    }
  ready_verb = "listening";
  ready_stream = stderr;
  if (!udg_server_serve_forever (server, &error))
    {
      g_printerr ("udgram listen: %s\n", error->message);
      return EXIT_FAILURE;
    }
  udg_server_close (server, NULL);
  return EXIT_SUCCESS;
}

/* --- demo ------------------------------------------------------------------- */

static gboolean
demo_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  g_autoptr(GError) local = NULL;
  g_autofree gchar *request = NULL;
  g_autofree gchar *reply = NULL;
  guint n_fds;

  params.recv_with_ancillary = udg_ancillary_receive_func;
  params.ancillary_user_data = ancillary;
  request = udg_client_recv (client, &params, &local);
  if (request == NULL)
    {
      /* A datagram the protocol refuses: answer with an error reply. */
      reply = g_strdup_printf ("error: %s", local->message);
      return udg_client_send_packet (client, reply, error);
    }
  udg_ancillary_get_fds (ancillary, &n_fds);
  if (n_fds > 0)
    reply = g_strdup_printf ("received %u file descriptor%s with '%s'", n_fds, n_fds > 1 ? "s" : "", request);
  else if (g_str_equal (request, "wait"))
    {
      UdgRecvParams second = UDG_RECV_PARAMS_INIT;
      g_autofree gchar *more = NULL;

      if (!udg_client_send_packet (client, "send the second part within 2 s", error))
        return FALSE;
      second.timeout = 2.0;
      more = udg_client_recv (client, &second, &local);
      reply = more != NULL ? g_strdup_printf ("got the second part: %s", more)
                           : g_strdup_printf ("no second part: %s", local->message);
    }
  else
    reply = g_utf8_strup (request, -1);
  return udg_client_send_packet (client, reply, error);
}

static gpointer
demo_serve (gpointer server)
{
  udg_server_serve_forever (server, NULL);
  return NULL;
}

static gboolean
demo_exchange (UdgEndpoint *endpoint, const gchar *label, gconstpointer packet, UdgAncillary *ancillary,
               gboolean expect_reply)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *reply = NULL;

  if (!udg_endpoint_send_packet_with_ancillary (endpoint, packet, ancillary, 2.0, NULL, &error))
    {
      g_printerr ("udgram demo: %s\n", error->message);
      return FALSE;
    }
  printf ("  client > %s\n", label);
  if (!expect_reply)
    return TRUE;
  reply = udg_endpoint_recv_packet (endpoint, 3.0, NULL, &error);
  if (reply == NULL)
    {
      g_printerr ("udgram demo: %s\n", error->message);
      return FALSE;
    }
  printf ("  server < %s\n", reply);
  return TRUE;
}

static int
cmd_demo (int argc, char **argv)
{
  static const UdgHandlerFuncs funcs = { .handle = demo_handle };
  g_autoptr(GOptionContext) context = g_option_context_new (
    "- run a server and a client in this process, on a temporary socket");
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgSerializer) line = udg_line_serializer_new (UDG_NEWLINE_LF, "utf-8", FALSE, NULL);
  g_autoptr(UdgSerializer) raw = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) protocol = udg_protocol_new (line);
  g_autoptr(UdgProtocol) raw_protocol = udg_protocol_new (raw);
  g_autoptr(UdgServerOptions) options = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(UdgEndpoint) endpoint = NULL;
  g_autoptr(UdgEndpoint) raw_endpoint = NULL;
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  g_autoptr(GBytes) garbage = g_bytes_new_static ("\xff\xfe not UTF-8", 13);
  g_autofree gchar *where = NULL;
  g_autofree gchar *tmpdir = g_dir_make_tmp ("udgram-demo-XXXXXX", &error);
  g_autofree gchar *path = NULL;
  UdgServerStats st;
  GThread *thread;
  gboolean ok;
  gint devnull;

  g_option_context_set_description (context,
    "Exchanges a few requests in each style of the handler model, prints the transcript,\n"
    "and exits 0 when every reply was the one expected.");
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 1 || tmpdir == NULL)
    {
      g_printerr ("udgram demo: %s\n", error != NULL ? error->message : "no argument is taken");
      return EXIT_USAGE;
    }
  path = g_build_filename (tmpdir, "demo.sock", NULL);
  udg_server_options_set_receive_ancillary_data (options, TRUE);
  udg_server_options_set_handle_signals (options, FALSE);
  server = udg_server_new (path, protocol, &funcs, NULL, NULL, options, &error);
  if (server == NULL)
    {
      g_printerr ("udgram demo: %s\n", error->message);
      return EXIT_FAILURE;
    }
  thread = g_thread_new ("serve", demo_serve, server);
  if (!udg_server_wait_serving (server, 5))
    {
      g_printerr ("udgram demo: the server did not start\n");
      return EXIT_FAILURE;
    }
  endpoint = udg_endpoint_new (path, NULL, protocol, &error);
  raw_endpoint = endpoint != NULL ? udg_endpoint_new (path, NULL, raw_protocol, &error) : NULL;
  if (raw_endpoint == NULL)
    {
      g_printerr ("udgram demo: %s\n", error->message);
      return EXIT_FAILURE;
    }
  where = where_of (server);
  printf ("udgram demo: a server at %s, a client at ", where);
  {
    g_autofree gchar *me = udg_address_to_string (udg_endpoint_get_local_name (endpoint));

    printf ("%s\n", me);
  }
  printf ("1. one request, one reply:\n");
  ok = demo_exchange (endpoint, "hello, udgram", "hello, udgram", NULL, TRUE);
  printf ("2. a handler that waits for a second request, with a timeout:\n");
  ok = ok && demo_exchange (endpoint, "wait", "wait", NULL, TRUE);
  ok = ok && demo_exchange (endpoint, "the second part", "the second part", NULL, TRUE);
  printf ("3. a datagram the protocol refuses, answered with an error reply:\n");
  ok = ok && udg_endpoint_send_packet (raw_endpoint, garbage, 2.0, NULL, NULL);
  if (ok)
    {
      g_autoptr(GBytes) reply = udg_endpoint_recv_packet (raw_endpoint, 3.0, NULL, &error);

      printf ("  client > \\xff\\xfe not UTF-8\n");
      ok = reply != NULL;
      if (ok)
        printf ("  server < %.*s\n", (int) g_bytes_get_size (reply), (const gchar *) g_bytes_get_data (reply, NULL));
    }
  printf ("4. a file descriptor passed with a request (SCM_RIGHTS):\n");
  devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  udg_ancillary_take_fds (ancillary, &devnull, 1);
  ok = ok && demo_exchange (endpoint, "/dev/null, open", "here is /dev/null", ancillary, TRUE);

  udg_endpoint_close (endpoint);
  udg_endpoint_close (raw_endpoint);
  udg_server_shutdown (server);
  g_thread_join (thread);
  udg_server_get_stats (server, &st);
  udg_server_close (server, NULL);
  rmdir (tmpdir);
  printf ("udgram demo: the server stopped cleanly: %" G_GUINT64_FORMAT " datagrams received, %"
          G_GUINT64_FORMAT " handled, %" G_GUINT64_FORMAT " parse error\n", st.received, st.handled, st.parse_errors);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* --- keygen ----------------------------------------------------------------- */

static int
cmd_keygen (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- print a fresh HMAC-SHA256 key for --key-file");
  g_autoptr(GError) error = NULL;
  g_autofree gchar *key = NULL;

  g_option_context_set_description (context,
    "The key is 32 random bytes in url-safe base64 (44 characters), the form of\n"
    "EasyNetwork's generate_key().  Save it with: udgram keygen > key; chmod 600 key");
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 1)
    {
      g_printerr ("udgram keygen: %s\n", error != NULL ? error->message : "no argument is taken");
      return EXIT_USAGE;
    }
  key = udg_base64_serializer_generate_key ();
  printf ("%s\n", key);
  return EXIT_SUCCESS;
}

/* --- main ------------------------------------------------------------------- */

static const struct
{
  const gchar *name;
  int (*run) (int argc, char **argv);
  const gchar *summary;
} commands[] = {
  { "serve", cmd_serve, "a ready-made echo server" },
  { "send", cmd_send, "send messages to a server and print the replies" },
  { "listen", cmd_listen, "print every datagram received" },
  { "demo", cmd_demo, "a server and a client in one process" },
  { "keygen", cmd_keygen, "print a fresh HMAC key for --key-file" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: udgram COMMAND [OPTION...]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'udgram COMMAND --help' tells more.  Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* stdout is data (replies, received datagrams, statistics): every log
   * record, the library's included, goes to stderr, whatever
   * G_MESSAGES_DEBUG turns on. */
  g_log_writer_default_set_use_stderr (TRUE);
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("udgram %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      {
        g_autofree gchar *prgname = g_strdup_printf ("udgram %s", argv[1]);

        g_set_prgname (prgname);
        return commands[i].run (argc - 1, argv + 1);
      }
  fprintf (stderr, "udgram: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return EXIT_USAGE;
}
