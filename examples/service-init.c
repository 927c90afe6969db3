/* EasyNetwork's section "Service Initialization": service_init runs before the first
 * datagram; what it pushes on the exit stack runs, last first, when the
 * service stops; a background timer ticks on the server's main context
 * meanwhile and stops with it.
 */
#include "example-run.h"

typedef struct
{
  gint ticks;
} Service;

static gboolean
tick (gpointer data)
{
  Service *service = data;

  g_atomic_int_inc (&service->ticks); /* "do some stuff each tick in background" */
  return G_SOURCE_CONTINUE;
}

static void
service_quit (gpointer data)
{
  printf ("Service stopped\n");
}

static gboolean
service_init (UdgExitStack *stack, UdgServer *server, gpointer user_data, GError **error)
{
  GSource *timer = g_timeout_source_new (10);

  udg_exit_stack_push (stack, service_quit, user_data);
  g_source_set_callback (timer, tick, user_data, NULL);
  g_source_attach (timer, udg_server_get_main_context (server));
  udg_exit_stack_push_source (stack, timer); /* destroyed at teardown */
  return TRUE;
}

static gboolean
handle (UdgClient *client, gpointer user_data, GError **error)
{
  Service *service = user_data;
  g_autofree gchar *request = udg_client_recv (client, NULL, error);

  if (request == NULL)
    return FALSE;
  return udg_client_send_packet (client, g_atomic_int_get (&service->ticks) > 0 ? "the timer ticks" : "no tick yet",
                                 error);
}

int
main (void)
{
  static const UdgHandlerFuncs funcs = { .service_init = service_init, .handle = handle };
  Service service = { 0 };
  ExampleRun *run = example_start (&funcs, &service, NULL);
  g_autoptr(UdgEndpoint) client = example_client (run, NULL);

  while (g_atomic_int_get (&service.ticks) == 0)
    g_usleep (1000);
  example_ask (client, "how is the timer?", 2);
  example_stop (run);
  return 0;
}
