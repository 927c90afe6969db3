/* udgram-bench: echo throughput, latency, CPU per request and memory of the
 * udgram server, compared in the same run with a raw single-threaded
 * recvmmsg/sendmmsg echo loop.  Performance is measured here, never in
 * tests.
 *
 *   udgram-bench [--quick] [--seconds=S] [--clients=1,16,64,256]
 *                [--sizes=64,1024,8192] [--server-cmd='prog %p']
 *                [--memory] [--scale]
 *
 * Each server runs in a child process (CPU time read from /proc/PID/stat);
 * the load generator is this process: N clients, each bound to its own
 * path, closed loop (one request in flight per client), every echoed byte
 * verified, a request lost for 200 ms re-sent and counted.  "full %" is
 * how many sends, per 100 requests, found the server's queue full
 * (net.unix.max_dgram_qlen) and waited for EPOLLOUT.  "refused" is how
 * many replies the udgram server refused to a client it found not reading
 * (its not_reading statistic: these clients all read).  Every wait is
 * bounded; the program stops by itself.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <udgram/udgram.h>

#define MAX_PAYLOAD 65536
#define LOSS_TIMEOUT_US (200 * 1000)

typedef enum { SERVER_RAW, SERVER_ONCE, SERVER_LOOP, SERVER_CMD, SERVER_MEMORY_ONCE } ServerKind;
static const char *const kind_names[] = { "raw recvmmsg loop", "udgram, one reply", "udgram, waiting loop", "command", "udgram, memory" };

static gdouble opt_seconds = 2.0;
static gdouble opt_warmup = 0.5;
static gchar *opt_clients = NULL;
static gchar *opt_sizes = NULL;
static gchar *opt_server_cmd = NULL;
static gboolean opt_quick = FALSE;
static gboolean opt_memory = FALSE;
static gboolean opt_scale = FALSE;
static gchar *opt_perf = NULL;
static guint n_perf_events; /* in opt_perf */
static gchar *tmpdir;

/* --- servers (child processes) ---------------------------------------------- */

static volatile sig_atomic_t child_stop;

static void
on_term (int sig)
{
  child_stop = 1;
}

static int
bind_path (const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int size = 4 << 20;

  g_strlcpy (sa.sun_path, path, sizeof sa.sun_path);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      perror ("bind");
      exit (1);
    }
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

/* The reference: one thread, recvmmsg a batch, sendmmsg it back. */
static void
run_raw (const char *path, int ready_fd)
{
  enum { N = 64 };
  static char bufs[N][MAX_PAYLOAD];
  struct mmsghdr msgs[N];
  struct iovec iov[N];
  struct sockaddr_un names[N];
  int fd = bind_path (path);

  if (write (ready_fd, "r", 1) != 1)
    exit (1);
  while (!child_stop)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      int n;

      for (int i = 0; i < N; i++)
        {
          iov[i].iov_base = bufs[i];
          iov[i].iov_len = MAX_PAYLOAD;
          memset (&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
          msgs[i].msg_hdr.msg_name = &names[i];
          msgs[i].msg_hdr.msg_namelen = sizeof names[i];
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = recvmmsg (fd, msgs, N, MSG_DONTWAIT, NULL);
      if (n <= 0)
        continue;
      for (int i = 0; i < n; i++)
        iov[i].iov_len = msgs[i].msg_len;
      sendmmsg (fd, msgs, n, MSG_DONTWAIT);
    }
  _exit (0);
}

static gboolean
once_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GBytes) request = udg_client_recv (client, NULL, error);

  /* A peer gone at the end of a case is no error for a benchmark. */
  return request != NULL && (udg_client_send_packet (client, request, NULL) || TRUE);
}

/* EasyNetwork's long-lived handler: wait for the client's next datagram. */
static gboolean
loop_handle (UdgClient *client, gpointer user_data, GError **error)
{
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;

  params.timeout = 5.0;
  for (;;)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(GBytes) request = udg_client_recv (client, &params, &local);

      if (request == NULL)
        return TRUE; /* timed out or closed: the session ends */
      if (!udg_client_send_packet (client, request, error))
        return FALSE;
    }
}

/* For the memory cases: the first datagram "hold" takes the only thread
 * until SIGUSR2; "wait" answers then waits 60 s in a second recv. */
static volatile sig_atomic_t release_hold;

static void
on_usr2 (int sig)
{
  release_hold = 1;
}

static gboolean
memory_handle (UdgClient *client, gpointer user_data, GError **error)
{
  g_autoptr(GBytes) request = udg_client_recv (client, NULL, error);
  gsize len;
  const char *data;

  if (request == NULL)
    return FALSE;
  data = g_bytes_get_data (request, &len);
  if (len == 4 && memcmp (data, "hold", 4) == 0)
    {
      while (!release_hold && !g_cancellable_is_cancelled (udg_client_get_cancellable (client)))
        g_usleep (1000);
      return TRUE;
    }
  if (!udg_client_send_packet (client, request, error))
    return FALSE;
  if (len == 4 && memcmp (data, "wait", 4) == 0)
    {
      UdgRecvParams params = UDG_RECV_PARAMS_INIT;
      g_autoptr(GError) local = NULL;
      g_autoptr(GBytes) more = NULL;

      params.timeout = 60.0;
      more = udg_client_recv (client, &params, &local);
    }
  return TRUE;
}

static void
run_udgram (const char *path, int ready_fd, ServerKind kind, guint max_threads)
{
  static const UdgHandlerFuncs once = { .handle = once_handle };
  static const UdgHandlerFuncs loop = { .handle = loop_handle };
  static const UdgHandlerFuncs memory = { .handle = memory_handle };
  g_autoptr(UdgSerializer) s = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(UdgServerOptions) o = udg_server_options_new ();
  g_autoptr(UdgServer) server = NULL;
  g_autoptr(GError) error = NULL;

  signal (SIGUSR2, on_usr2);
  if (max_threads > 0)
    udg_server_options_set_max_threads (o, max_threads);
  server = udg_server_new (path, p, kind == SERVER_ONCE ? &once : kind == SERVER_LOOP ? &loop : &memory,
                           NULL, NULL, o, &error);
  if (server == NULL || !udg_server_activate (server, &error))
    {
      fprintf (stderr, "udgram-bench server: %s\n", error->message);
      exit (1);
    }
  if (write (ready_fd, "r", 1) != 1)
    exit (1);
  /* SIGTERM stops it (handle_signals, main thread). */
  if (!udg_server_serve_forever (server, &error))
    _exit (1);
  /* Replies refused to peers found not reading, for the table. */
  {
    UdgServerStats st;
    g_autofree gchar *stats_path = g_strconcat (path, ".stats", NULL);
    g_autofree gchar *text = NULL;

    udg_server_get_stats (server, &st);
    text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", st.not_reading);
    g_file_set_contents (stats_path, text, -1, NULL);
  }
  udg_server_close (server, NULL);
  _exit (0);
}

typedef struct
{
  pid_t pid;
  gchar *path;
} Server;

/* Starts a server, waits until it listens. */
static Server
start_server (ServerKind kind, guint max_threads)
{
  static guint counter;
  Server server;
  int ready[2];
  char c;

  server.path = g_strdup_printf ("%s/server-%u.sock", tmpdir, counter++);
  if (pipe (ready) < 0)
    exit (1);
  fflush (stdout); /* the child must not print what this buffer holds */
  server.pid = fork ();
  if (server.pid == 0)
    {
      close (ready[0]);
      if (kind == SERVER_RAW)
        {
          signal (SIGTERM, on_term);
          run_raw (server.path, ready[1]);
        }
      else if (kind == SERVER_CMD)
        {
          g_autoptr(GString) cmd = g_string_new (opt_server_cmd);

          g_string_replace (cmd, "%p", server.path, 0);
          execl ("/bin/sh", "sh", "-c", cmd->str, (char *) NULL);
          _exit (127);
        }
      else
        run_udgram (server.path, ready[1], kind, max_threads);
    }
  close (ready[1]);
  if (kind == SERVER_CMD)
    {
      /* A command says nothing: wait for its socket file. */
      for (int i = 0; i < 500 && !g_file_test (server.path, G_FILE_TEST_EXISTS); i++)
        g_usleep (10 * 1000);
    }
  else
    {
      struct pollfd pfd = { ready[0], POLLIN, 0 };

      if (poll (&pfd, 1, 10000) != 1 || read (ready[0], &c, 1) != 1)
        {
          fprintf (stderr, "udgram-bench: the server did not start\n");
          exit (1);
        }
    }
  close (ready[0]);
  return server;
}

/* Stops the server; returns the replies it refused to peers found not
 * reading (-1: not a udgram server). */
static gint64
stop_server (Server *server)
{
  g_autofree gchar *stats_path = g_strconcat (server->path, ".stats", NULL);
  g_autofree gchar *text = NULL;
  gint64 refused = -1;
  int status;

  kill (server->pid, SIGTERM);
  for (int i = 0; i < 500; i++)
    {
      if (waitpid (server->pid, &status, WNOHANG) == server->pid)
        goto done;
      g_usleep (10 * 1000);
    }
  kill (server->pid, SIGKILL);
  waitpid (server->pid, &status, 0);
done:
  if (g_file_get_contents (stats_path, &text, NULL, NULL))
    refused = g_ascii_strtoll (text, NULL, 10);
  unlink (stats_path);
  unlink (server->path);
  g_free (server->path);
  return refused;
}

/* utime + stime of @pid, in seconds. */
static gdouble
cpu_seconds (pid_t pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree gchar *text = NULL;
  g_auto(GStrv) fields = NULL;
  const gchar *close_paren;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (close_paren = strrchr (text, ')')) == NULL)
    return 0;
  fields = g_strsplit (close_paren + 2, " ", -1);
  /* After "pid (comm) ": state is field 0; utime 11, stime 12. */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) / sysconf (_SC_CLK_TCK);
}

static gdouble
rss_kib (pid_t pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree gchar *text = NULL;
  const gchar *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return 0;
  return g_ascii_strtod (line + 6, NULL);
}

/* --- the load generator ---------------------------------------------------- */

static guint64 queue_full_count;

typedef struct
{
  int fd;
  guint64 seq;
  gint64 sent_at;
  gboolean pending;    /* the server's queue was full: sent on EPOLLOUT */
} Client;

typedef struct
{
  gdouble rps;
  gdouble p50_us, p99_us;
  guint64 completed, lost, errors;
  guint64 queue_full;  /* sends that found the server's queue full */
  gdouble cpu_us_per_req;
  gint64 refused;      /* replies the server refused as not read; -1: n/a */
  gdouble perf[8];     /* --perf: each event's count per request */
} Result;

/* --perf: perf stat on the server for the measured window. */
static pid_t
perf_start (pid_t server_pid, const char *out)
{
  g_autofree gchar *pid_text = g_strdup_printf ("%d", (int) server_pid);
  pid_t pid = fork ();

  if (pid == 0)
    {
      execlp ("perf", "perf", "stat", "-x", ",", "-o", out, "-e", opt_perf, "-p", pid_text, (char *) NULL);
      _exit (127);
    }
  return pid;
}

static void
perf_stop (pid_t pid, const char *out, Result *r)
{
  g_autofree gchar *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  kill (pid, SIGINT);
  waitpid (pid, NULL, 0);
  if (!g_file_get_contents (out, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && n < G_N_ELEMENTS (r->perf); i++)
    if (g_ascii_isdigit (lines[i][0]) || g_str_has_prefix (lines[i], "<not"))
      r->perf[n++] = r->completed > 0 ? g_ascii_strtod (lines[i], NULL) / r->completed : 0;
  unlink (out);
}

static int
cmp_double (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

static void
fill (char *buf, gsize size, guint client, guint64 seq)
{
  memcpy (buf, &seq, sizeof seq);
  memcpy (buf + 8, &client, sizeof client);
  for (gsize i = 12; i < size; i++)
    buf[i] = (char) (i * 31 + client + seq);
}

/* Each client socket is connected to the server, so that a full server
 * queue (net.unix.max_dgram_qlen, 10 on Debian) gives EAGAIN and EPOLLOUT
 * says when it has room: the generator goes on with the other clients
 * instead of sleeping. */
static void
try_send (int ep, Client *c, guint index, gsize size, char *buf)
{
  struct epoll_event ev = { EPOLLIN, { .u32 = index } };

  fill (buf, size, index, c->seq);
  if (send (c->fd, buf, size, MSG_DONTWAIT) >= 0 || errno != EAGAIN)
    {
      if (c->pending)
        {
          c->pending = FALSE;
          epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      return;
    }
  queue_full_count++;
  if (!c->pending)
    {
      c->pending = TRUE;
      ev.events |= EPOLLOUT;
      epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

static void
send_request (int ep, Client *c, guint index, gsize size, char *buf)
{
  c->sent_at = g_get_monotonic_time ();
  try_send (ep, c, index, size, buf);
}

static Result
run_load (const char *server_path, pid_t server_pid, guint n_clients, gsize size)
{
  struct sockaddr_un to = { .sun_family = AF_UNIX };
  socklen_t to_len = sizeof to;
  Client *clients = g_new0 (Client, n_clients);
  char *buf = g_malloc (MAX_PAYLOAD), *expect = g_malloc (MAX_PAYLOAD);
  GArray *latencies = g_array_sized_new (FALSE, FALSE, sizeof (gdouble), 1 << 20);
  struct epoll_event events[256];
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  gint64 start = g_get_monotonic_time ();
  gint64 measure_from = start + (gint64) (opt_warmup * G_USEC_PER_SEC);
  gint64 measure_to = measure_from + (gint64) (opt_seconds * G_USEC_PER_SEC);
  gint64 last_loss_check = start;
  gdouble cpu_from = 0;
  gboolean measuring = FALSE;
  g_autofree gchar *perf_out = g_strdup_printf ("%s/perf.out", tmpdir);
  pid_t perf_pid = -1;
  Result r = { 0 };

  g_strlcpy (to.sun_path, server_path, sizeof to.sun_path);
  for (guint i = 0; i < n_clients; i++)
    {
      g_autofree gchar *path = g_strdup_printf ("%s/c%u-%u.sock", tmpdir, (guint) getpid (), i);
      struct epoll_event ev = { EPOLLIN, { .u32 = i } };

      unlink (path);
      clients[i].fd = bind_path (path);
      if (connect (clients[i].fd, (struct sockaddr *) &to, to_len) < 0)
        {
          perror ("connect");
          exit (1);
        }
      epoll_ctl (ep, EPOLL_CTL_ADD, clients[i].fd, &ev);
      send_request (ep, &clients[i], i, size, buf);
    }

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      int n;

      if (!measuring && now >= measure_from)
        {
          measuring = TRUE;
          cpu_from = cpu_seconds (server_pid);
          queue_full_count = 0;
          if (opt_perf != NULL)
            perf_pid = perf_start (server_pid, perf_out);
        }
      if (now >= measure_to)
        break;
      n = epoll_wait (ep, events, G_N_ELEMENTS (events), 50);
      now = g_get_monotonic_time ();
      for (int e = 0; e < n; e++)
        {
          guint i = events[e].data.u32;
          Client *c = &clients[i];
          gssize got;

          if ((events[e].events & EPOLLOUT) && c->pending)
            try_send (ep, c, i, size, buf);
          while ((got = recv (c->fd, buf, MAX_PAYLOAD, MSG_DONTWAIT)) >= 0)
            {
              guint64 seq;

              /* The time of this reply: the request it answers may have
               * been sent in this same pass, after the epoll_wait(). */
              now = g_get_monotonic_time ();
              memcpy (&seq, buf, sizeof seq);
              if (seq != c->seq)
                continue; /* a late reply to a re-sent request */
              fill (expect, size, i, seq);
              if ((gsize) got != size || memcmp (buf, expect, size) != 0)
                r.errors++;
              if (measuring && now < measure_to)
                {
                  gdouble us = (gdouble) (now - c->sent_at);

                  g_array_append_val (latencies, us);
                  r.completed++;
                }
              c->seq++;
              send_request (ep, c, i, size, buf);
            }
        }
      if (now - last_loss_check > LOSS_TIMEOUT_US / 2)
        {
          last_loss_check = now;
          for (guint i = 0; i < n_clients; i++)
            if (now - clients[i].sent_at > LOSS_TIMEOUT_US)
              {
                if (measuring)
                  r.lost++;
                clients[i].seq++;
                send_request (ep, &clients[i], i, size, buf);
              }
        }
    }
  if (perf_pid > 0)
    perf_stop (perf_pid, perf_out, &r);
  r.queue_full = queue_full_count;
  queue_full_count = 0;
  r.cpu_us_per_req = r.completed > 0 ? (cpu_seconds (server_pid) - cpu_from) * 1e6 / r.completed : 0;
  r.rps = r.completed / opt_seconds;
  if (latencies->len > 0)
    {
      qsort (latencies->data, latencies->len, sizeof (gdouble), cmp_double);
      r.p50_us = g_array_index (latencies, gdouble, latencies->len / 2);
      r.p99_us = g_array_index (latencies, gdouble, (gsize) (latencies->len * 0.99));
    }
  for (guint i = 0; i < n_clients; i++)
    {
      g_autofree gchar *path = g_strdup_printf ("%s/c%u-%u.sock", tmpdir, (guint) getpid (), i);

      close (clients[i].fd);
      unlink (path);
    }
  close (ep);
  g_array_unref (latencies);
  g_free (clients);
  g_free (buf);
  g_free (expect);
  return r;
}

static Result
run_case (ServerKind kind, guint n_clients, gsize size)
{
  Server server = start_server (kind, 0);
  Result r = run_load (server.path, server.pid, n_clients, size);

  r.refused = stop_server (&server);
  return r;
}

static void
print_row (ServerKind kind, guint n, gsize size, const Result *r, const Result *raw)
{
  printf ("| %-21s | %7u | %6zu | %9.0f | %7.0f | %7.0f | %5" G_GUINT64_FORMAT " | %3" G_GUINT64_FORMAT
          " | %4.0f | %7.2f |", kind_names[kind], n, size, r->rps, r->p50_us, r->p99_us, r->lost, r->errors,
          r->completed > 0 ? 100.0 * r->queue_full / r->completed : 0, r->cpu_us_per_req);
  if (raw != NULL && raw->rps > 0)
    printf (" %5.2f | %5.2f | %5.2f |", r->rps / raw->rps,
            raw->cpu_us_per_req > 0 ? r->cpu_us_per_req / raw->cpu_us_per_req : 0, raw->p99_us > 0 ? r->p99_us / raw->p99_us : 0);
  else
    printf ("     - |     - |     - |");
  if (r->refused >= 0)
    printf (" %6" G_GINT64_FORMAT " |", r->refused);
  else
    printf ("      - |");
  for (guint i = 0; i < n_perf_events; i++)
    printf (" %.3f |", r->perf[i]);
  printf ("\n");
  fflush (stdout);
}

static GArray *
parse_list (const gchar *text, const gchar *fallback)
{
  g_auto(GStrv) parts = g_strsplit (text != NULL ? text : fallback, ",", -1);
  GArray *list = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint v = (guint) g_ascii_strtoull (parts[i], NULL, 10);

      if (v > 0)
        g_array_append_val (list, v);
    }
  return list;
}

/* --- memory ----------------------------------------------------------------- */

static gboolean
ping (const char *server_path, const char *what, gdouble timeout)
{
  static guint counter;
  struct sockaddr_un to = { .sun_family = AF_UNIX }, self = { .sun_family = AF_UNIX };
  struct pollfd pfd;
  char buf[64];
  gboolean ok;
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int len;

  g_strlcpy (to.sun_path, server_path, sizeof to.sun_path);
  /* A unique name for each peer.  Not autobind: the kernel picks those at
   * random among 2^20, so among thousands of peers two get the same name,
   * and to the server they are then one client (an address is an identity). */
  len = g_snprintf (self.sun_path + 1, sizeof self.sun_path - 1, "udgb-%d-%u", (int) getpid (), counter++);
  bind (fd, (struct sockaddr *) &self, offsetof (struct sockaddr_un, sun_path) + 1 + len);
  while (sendto (fd, what, strlen (what), 0, (struct sockaddr *) &to, sizeof to) < 0 && errno == EAGAIN)
    g_usleep (100);
  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  ok = timeout <= 0 || (poll (&pfd, 1, (int) (timeout * 1000)) == 1 && recv (fd, buf, sizeof buf, 0) > 0);
  close (fd);
  return ok;
}

static void
wait_queue_empty (pid_t pid)
{
  /* Nothing to read in the server's socket any more: let it settle. */
  (void) pid;
  g_usleep (300 * 1000);
}

static void
run_memory (void)
{
  guint peers = opt_quick ? 20000 : 100000;
  guint queued = opt_quick ? 2000 : 10000;
  guint waiting = opt_quick ? 2000 : 10000;
  Server server;
  gdouble base, after;
  gint64 t0;

  printf ("\n## Memory\n\n");

  /* 1. Distinct one-shot peers: per-client state must be freed. */
  server = start_server (SERVER_MEMORY_ONCE, 0);
  for (int i = 0; i < 200; i++)
    ping (server.path, "warm", 2);
  wait_queue_empty (server.pid);
  base = rss_kib (server.pid);
  for (guint i = 0; i < peers; i++)
    if (!ping (server.path, "once", 2))
      fprintf (stderr, "peer %u got no reply\n", i);
  wait_queue_empty (server.pid);
  after = rss_kib (server.pid);
  printf ("- %u one-shot peers: server RSS %.0f KiB before, %.0f KiB after (%+.0f KiB)\n", peers, base, after, after - base);
  stop_server (&server);

  /* 2. Clients with a datagram queued and no invocation running. */
  server = start_server (SERVER_MEMORY_ONCE, 1);
  ping (server.path, "hold", 0); /* takes the only thread */
  g_usleep (100 * 1000);
  base = rss_kib (server.pid);
  for (guint i = 0; i < queued; i++)
    ping (server.path, "q", 0);
  wait_queue_empty (server.pid);
  after = rss_kib (server.pid);
  printf ("- %u clients with a queued datagram, no invocation: %+.0f KiB, %.0f bytes per client\n", queued,
          after - base, (after - base) * 1024 / queued);
  kill (server.pid, SIGUSR2);
  stop_server (&server);

  /* 3. Waiting sessions: each holds a thread in a second udg_client_recv(). */
  server = start_server (SERVER_MEMORY_ONCE, waiting + 100);
  for (int i = 0; i < 50; i++)
    ping (server.path, "warm", 2);
  wait_queue_empty (server.pid);
  base = rss_kib (server.pid);
  t0 = g_get_monotonic_time ();
  {
    guint slow = 0, lost = 0;
    gdouble worst = 0;

    for (guint i = 0; i < waiting; i++)
      {
        gint64 s0 = g_get_monotonic_time ();
        gdouble ms;

        if (!ping (server.path, "wait", 5))
          lost++;
        ms = (g_get_monotonic_time () - s0) / 1000.0;
        worst = MAX (worst, ms);
        slow += ms > 10;
      }
    printf ("- opening them: %u over 10 ms, %u with no reply within 5 s, the slowest %.1f ms\n", slow, lost, worst);
  }
  wait_queue_empty (server.pid);
  after = rss_kib (server.pid);
  printf ("- %u waiting sessions (opened in %.1f s): %+.0f KiB, %.1f KiB per session\n", waiting,
          (g_get_monotonic_time () - t0) / 1e6, after - base, (after - base) / waiting);
  {
    /* Twenty new one-shot clients, one after the other: one sample would
     * be at the mercy of the scheduler. */
    gdouble ms[20];
    guint answered = 0;

    for (guint i = 0; i < G_N_ELEMENTS (ms); i++)
      {
        t0 = g_get_monotonic_time ();
        if (ping (server.path, "new", 5))
          ms[answered++] = (g_get_monotonic_time () - t0) / 1000.0;
      }
    qsort (ms, answered, sizeof ms[0], cmp_double);
    if (answered > 0)
      printf ("- a new client meanwhile: answered in %.2f ms (median of %u; slowest %.2f ms)\n",
              ms[answered / 2], answered, ms[answered - 1]);
    if (answered < G_N_ELEMENTS (ms))
      printf ("- a new client meanwhile: %u of %u with no answer within 5 s\n",
              (guint) G_N_ELEMENTS (ms) - answered, (guint) G_N_ELEMENTS (ms));
  }
  stop_server (&server);
}

int
main (int argc, char **argv)
{
  static GOptionEntry entries[] = {
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &opt_quick, "a short subset", NULL },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &opt_seconds, "measured seconds per case (2)", "S" },
    { "clients", 'c', 0, G_OPTION_ARG_STRING, &opt_clients, "client counts (1,16,64,256)", "LIST" },
    { "sizes", 'z', 0, G_OPTION_ARG_STRING, &opt_sizes, "payload sizes (64,1024,8192)", "LIST" },
    { "perf", 0, 0, G_OPTION_ARG_STRING, &opt_perf, "count these perf events in the server, per request (e.g. raw_syscalls:sys_enter,context-switches)", "EVENTS" },
    { "server-cmd", 0, 0, G_OPTION_ARG_STRING, &opt_server_cmd, "also measure this server; %p is its socket path", "CMD" },
    { "memory", 'm', 0, G_OPTION_ARG_NONE, &opt_memory, "measure memory (idle peers, queued, waiting sessions)", NULL },
    { "scale", 0, 0, G_OPTION_ARG_NONE, &opt_scale, "throughput as clients grow 1 -> 1024", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- udgram's echo performance against a raw loop");
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) clients = NULL;
  g_autoptr(GArray) sizes = NULL;
  struct rlimit nofile = { 65536, 65536 };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "udgram-bench: %s\n", error->message);
      return 2;
    }
  setrlimit (RLIMIT_NOFILE, &nofile);
  signal (SIGPIPE, SIG_IGN);
  tmpdir = g_dir_make_tmp ("udgb-XXXXXX", NULL);
  if (opt_quick)
    {
      opt_seconds = MIN (opt_seconds, 1.0);
      opt_warmup = 0.3;
    }
  clients = parse_list (opt_clients, opt_quick ? "16,64" : "1,16,64,256");
  sizes = parse_list (opt_sizes, opt_quick ? "64,1024" : "64,1024,8192");

  printf ("# udgram-bench: %u cores, %.1f s per case (%.1f s warm-up), %s\n\n", g_get_num_processors (),
          opt_seconds, opt_warmup, opt_quick ? "quick" : "full");
  printf ("| server                | clients | bytes  | requests/s | p50 us | p99 us | lost | err | full %% | CPU us/req | x raw req/s | x raw CPU | x raw p99 | refused |");
  if (opt_perf != NULL)
    {
      g_auto(GStrv) events = g_strsplit (opt_perf, ",", G_N_ELEMENTS (((Result *) NULL)->perf));

      n_perf_events = g_strv_length (events);
      for (guint i = 0; i < n_perf_events; i++)
        printf (" %s/req |", events[i]);
    }
  printf ("\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (guint i = 0; i < n_perf_events; i++)
    printf ("---|");
  printf ("\n");
  for (guint c = 0; c < clients->len; c++)
    for (guint z = 0; z < sizes->len; z++)
      {
        guint n = g_array_index (clients, guint, c);
        gsize size = g_array_index (sizes, guint, z);
        Result raw = run_case (SERVER_RAW, n, size);
        Result once = run_case (SERVER_ONCE, n, size);
        Result loop = run_case (SERVER_LOOP, n, size);

        print_row (SERVER_RAW, n, size, &raw, NULL);
        print_row (SERVER_ONCE, n, size, &once, &raw);
        print_row (SERVER_LOOP, n, size, &loop, &raw);
        if (opt_server_cmd != NULL)
          {
            Result cmd = run_case (SERVER_CMD, n, size);

            print_row (SERVER_CMD, n, size, &cmd, &raw);
          }
      }
  if (opt_scale)
    {
      printf ("\n## Scale (64-byte payload)\n\n| clients | raw req/s | udgram req/s | ratio |\n|---|---|---|---|\n");
      for (guint n = 1; n <= 1024; n *= 4)
        {
          Result raw = run_case (SERVER_RAW, n, 64);
          Result once = run_case (SERVER_ONCE, n, 64);

          printf ("| %u | %.0f | %.0f | %.2f |\n", n, raw.rps, once.rps, raw.rps > 0 ? once.rps / raw.rps : 0);
          fflush (stdout);
        }
    }
  if (opt_memory)
    run_memory ();
  g_rmdir (tmpdir);
  return 0;
}
