/* udgram - the server's background timers
 *
 * service_init's background tasks, in C: GSources on the server's
 * GMainContext, which udg_server_serve_forever() runs.  Each call of a
 * timer runs in a context of its own, a child of service_init's (as a task
 * created in service_init keeps its copy of the context variables), kept
 * from one call to the next.  The run destroys them when it tears down.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <math.h>

/* A timer's call, in the timer's own context: a child of service_init's,
 * kept from one call to the next (as a task created in service_init keeps
 * its copy of the context). */
typedef struct
{
  UdgServer *server;       /* (unowned): the source goes before the run ends */
  GSourceFunc function;
  gpointer data;
  GDestroyNotify notify;
  UdgContext *context;     /* (owned) (nullable): made at the first call */
} TimerCall;

static gboolean
timer_call (gpointer user_data)
{
  TimerCall *t = user_data;
  UdgContext *previous;
  gboolean again;

  if (t->context == NULL)
    t->context = udg_context_new (t->server->base_context);
  previous = udg_context_push (t->context);
  again = t->function (t->data);
  udg_context_pop (previous);
  return again;
}

static void
timer_call_free (gpointer user_data)
{
  TimerCall *t = user_data;

  if (t->notify != NULL)
    t->notify (t->data);
  g_clear_pointer (&t->context, udg_context_free);
  g_free (t);
}

static guint
add_source (UdgServer *server, GSource *source, GSourceFunc function, gpointer data, GDestroyNotify notify)
{
  TimerCall *t = g_new0 (TimerCall, 1);
  guint id;

  t->server = server;
  t->function = function;
  t->data = data;
  t->notify = notify;
  g_source_set_callback (source, timer_call, t, timer_call_free);
  id = g_source_attach (source, server->context);
  pthread_mutex_lock (&server->lock);
  server->sources = g_slist_prepend (server->sources, source);
  pthread_mutex_unlock (&server->lock);
  return id;
}

/**
 * udg_server_add_timeout_seconds:
 * @server: a #UdgServer
 * @interval: seconds between calls
 * @function: called on the serving thread while udg_server_serve_forever()
 *   runs; return %G_SOURCE_REMOVE to stop
 * @data: (closure function): its argument
 * @notify: (nullable): frees @data when the timer ends
 *
 * Starts a background timer on the server's main context: the C form of
 * a background task created in `service_init`.  It stops at the latest when
 * the run tears down.  Each call runs in the timer's own context: it sees
 * the #UdgContextVar values set in `service_init`, and what it sets stays
 * its own (kept from one call to the next, unseen by the handlers).
 *
 * Returns: the source id in the server's context
 *
 * Since: 0.1
 */
guint
udg_server_add_timeout_seconds (UdgServer     *server,
                                guint          interval,
                                GSourceFunc    function,
                                gpointer       data,
                                GDestroyNotify notify)
{
  g_return_val_if_fail (server != NULL, 0);
  g_return_val_if_fail (function != NULL, 0);
  return add_source (server, g_timeout_source_new_seconds (interval), function, data, notify);
}

/**
 * udg_server_add_timeout:
 * @server: a #UdgServer
 * @seconds: seconds between calls, fractions allowed (0.25 is 250 ms); 0
 *   calls it at each iteration of the loop until it returns
 *   %G_SOURCE_REMOVE
 * @function: as for udg_server_add_timeout_seconds()
 * @data: (closure function): its argument
 * @notify: (nullable): frees @data when the timer ends
 *
 * Like udg_server_add_timeout_seconds(), with a finer interval, in seconds
 * as every duration of the library.  A negative, NaN or infinite interval
 * is a programming error.
 *
 * Returns: the source id in the server's context, or 0 for a bad interval
 *
 * Since: 0.1
 */
guint
udg_server_add_timeout (UdgServer     *server,
                        gdouble        seconds,
                        GSourceFunc    function,
                        gpointer       data,
                        GDestroyNotify notify)
{
  g_return_val_if_fail (server != NULL, 0);
  g_return_val_if_fail (function != NULL, 0);
  g_return_val_if_fail (isfinite (seconds) && seconds >= 0 && seconds < G_MAXUINT / 1000.0, 0);
  return add_source (server, g_timeout_source_new ((guint) ceil (seconds * 1000)), function, data, notify);
}

/* Destroys the timers: the run is over. */
void
udg_server_destroy_sources (UdgServer *server)
{
  GSList *sources;

  pthread_mutex_lock (&server->lock);
  sources = g_steal_pointer (&server->sources);
  pthread_mutex_unlock (&server->lock);
  for (GSList *l = sources; l != NULL; l = l->next)
    {
      g_source_destroy (l->data);
      g_source_unref (l->data);
    }
  g_slist_free (sources);
}
