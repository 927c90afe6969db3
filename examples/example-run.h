/* Shared by the examples of EasyNetwork's sections: runs a server in a thread on a fresh socket
 * path, and talks to it with a UdgEndpoint, printing each exchange.  Only
 * the handlers differ between the examples; this file is the scaffolding.
 */
#pragma once

#include <stdio.h>
#include <unistd.h>
#include <udgram/udgram.h>

typedef struct
{
  UdgServer *server;
  GThread *thread;
  gchar *dir;
  gchar *path;
} ExampleRun;

static gpointer
example_serve (gpointer server)
{
  g_autoptr(GError) error = NULL;

  if (!udg_server_serve_forever (server, &error))
    fprintf (stderr, "serve_forever: %s\n", error->message);
  return NULL;
}

/* Starts a server speaking ASCII text with @funcs (and @options). */
static inline ExampleRun *
example_start (const UdgHandlerFuncs *funcs, gpointer user_data, UdgServerOptions *options)
{
  ExampleRun *run = g_new0 (ExampleRun, 1);
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(GError) error = NULL;

  run->dir = g_dir_make_tmp ("udgram-example-XXXXXX", NULL);
  run->path = g_build_filename (run->dir, "app.sock", NULL);
  run->server = udg_server_new (run->path, p, funcs, user_data, NULL, options, &error);
  if (run->server == NULL)
    g_error ("%s", error->message);
  run->thread = g_thread_new ("serve", example_serve, run->server);
  if (!udg_server_wait_serving (run->server, 5))
    g_error ("the server did not start");
  return run;
}

/* A client: autobound, or bound to @name inside the example's directory. */
static inline UdgEndpoint *
example_client (ExampleRun *run, const gchar *name)
{
  g_autoptr(UdgSerializer) s = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autofree gchar *local = name != NULL ? g_build_filename (run->dir, name, NULL) : NULL;
  g_autoptr(GError) error = NULL;
  UdgEndpoint *e = udg_endpoint_new (run->path, local, p, &error);

  if (e == NULL)
    g_error ("%s", error->message);
  return e;
}

/* Sends @request and prints the reply, or that none came within @timeout. */
static inline void
example_ask (UdgEndpoint *e, const gchar *request, gdouble timeout)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *reply = NULL;

  if (!udg_endpoint_send_packet (e, request, 1.0, NULL, &error))
    g_error ("%s", error->message);
  reply = udg_endpoint_recv_packet (e, timeout, NULL, &error);
  printf ("%s -> %s\n", request, reply != NULL ? reply : "(no reply)");
  fflush (stdout);
}

static inline void
example_stop (ExampleRun *run)
{
  udg_server_shutdown (run->server);
  g_thread_join (run->thread);
  udg_server_close (run->server, NULL);
  udg_server_unref (run->server);
  rmdir (run->dir);
  g_free (run->dir);
  g_free (run->path);
  g_free (run);
}
