/* udgram - a server's run: udg_server_serve_forever(), its stop and its teardown
 *
 * A run goes through the phases of udg-server-private.h (UdgPhase), one
 * value under the server's lock: SETUP (bind, signals, service_init, the
 * pool, the reader), SERVING (the main loop: timers, signals, the stop
 * source), DRAINING (the reader off, what was read handled), CLOSING (the
 * cancellable cancelled, the pool joined, the exit stack closed), then
 * IDLE again, or CLOSED when a close was asked meanwhile.  A stop is asked
 * from anywhere (udg_server_shutdown()): a high-priority idle source on
 * the server's context quits the loop whenever it runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <glib-unix.h>

/* With the lock held. */
static void
set_phase_unlocked (UdgServer *server, UdgPhase phase)
{
  g_atomic_int_set (&server->phase, (gint) phase);
  pthread_cond_broadcast (&server->cond);
}

static void
set_phase (UdgServer *server, UdgPhase phase)
{
  pthread_mutex_lock (&server->lock);
  set_phase_unlocked (server, phase);
  pthread_mutex_unlock (&server->lock);
}

static gboolean
running_unlocked (UdgServer *server)
{
  return server->phase != UDG_PHASE_IDLE && server->phase != UDG_PHASE_CLOSED;
}

static gboolean
on_stop_signal (gpointer data)
{
  udg_server_shutdown (data);
  return G_SOURCE_CONTINUE;
}

static GSource *
attach_signal (UdgServer *server, int signum)
{
  GSource *source = g_unix_signal_source_new (signum);

  g_source_set_callback (source, on_stop_signal, server, NULL);
  g_source_attach (source, server->context);
  return source;
}

static gboolean
in_main_thread (void)
{
  return getpid () == (pid_t) syscall (SYS_gettid);
}

/* Whether this thread is the run's own: the serving thread, or a handler's. */
static gboolean
in_own_thread (UdgServer *server)
{
  return server->serve_thread == g_thread_self () || udg_client_current_server () == server;
}

/* The STATUS= text for the service manager. */
static gchar *
status_text (gpointer data)
{
  UdgServer *server = data;
  UdgServerStats st;
  g_autofree gchar *where = udg_address_to_string (server->bound);

  udg_server_get_stats (server, &st);
  return g_strdup_printf ("Serving at %s: %" G_GUINT64_FORMAT " datagrams received, %" G_GUINT64_FORMAT
                          " handled, %" G_GUINT64_FORMAT " active clients, %" G_GUINT64_FORMAT
                          " send errors (%" G_GUINT64_FORMAT " to peers not reading), %" G_GUINT64_FORMAT
                          " waits ended under pressure",
                          where, st.received, st.handled, st.active_clients, st.send_errors, st.not_reading,
                          st.waits_ended);
}

/* The service manager is told: the socket stored first when the fd store
 * is wanted (only a socket this process bound: the others' owners keep
 * them), then READY=1 when the notify option is on. */
static void
notify_ready (UdgServer *server)
{
  const gchar *name = server->options.fd_name_set ? server->options.fd_name : "udgram";
  gboolean store;

  pthread_mutex_lock (&server->lock);
  store = !server->adopted && !server->stored && udg_notify_fd_store_wanted (server->options.fd_store);
  pthread_mutex_unlock (&server->lock);
  if (udg_notifier_ready (&server->notifier, server->options.notify, store ? server->fd : -1, name,
                          server->context, status_text, server))
    {
      pthread_mutex_lock (&server->lock);
      server->stored = TRUE;
      pthread_mutex_unlock (&server->lock);
    }
}

/* Stops what a run started: serving off, the reader, the drain, then the
 * invocations, the service (exit stack), then service_quit. */
static void
teardown (UdgServer *server, UdgExitStack *stack)
{
  udg_log (G_LOG_LEVEL_INFO, NULL, "Server loop break, waiting for remaining tasks...");
  udg_notifier_stopping (&server->notifier);
  set_phase (server, UDG_PHASE_DRAINING);

  /* No datagram is routed after this: what is still in the socket stays
   * there, for the next run or the next process. */
  udg_reader_stop (server);
  /* What was read is handled, within the drain bound. */
  if (!udg_scheduler_drain (&server->scheduler, udg_deadline_from_timeout (server->options.drain_timeout)) &&
      server->options.drain_timeout > 0)
    udg_log (G_LOG_LEVEL_WARNING, NULL,
             "The drain bound (%g s) passed with invocations still running: what is still queued is dropped "
             "(see udg_server_options_set_drain_timeout())", server->options.drain_timeout);
  set_phase (server, UDG_PHASE_CLOSING);
  g_cancellable_cancel (server->cancellable);
  /* Waits for all to return, drops what is still queued. */
  udg_scheduler_stop (&server->scheduler);

  udg_server_destroy_sources (server);
  udg_exit_stack_close (stack);
  if (server->funcs.service_quit != NULL)
    server->funcs.service_quit (server, server->user_data);
  g_clear_pointer (&server->base_context, udg_context_free);
  udg_notifier_close (&server->notifier);
  udg_log (G_LOG_LEVEL_INFO, NULL, "Server stopped");
}

/* The run is over: IDLE, or CLOSED (and the socket closed) when a close was
 * asked meanwhile. */
static void
finish_run (UdgServer *server)
{
  gboolean close;

  pthread_mutex_lock (&server->lock);
  close = server->close_requested;
  server->close_requested = FALSE;
  server->serve_thread = NULL;
  server->generation++;
  set_phase_unlocked (server, close ? UDG_PHASE_CLOSED : UDG_PHASE_IDLE);
  pthread_mutex_unlock (&server->lock);
  if (close)
    udg_server_close_socket (server);
}

/* The run's setup past the socket: the signals (before service_init, so that
 * SIGTERM during it is a clean stop, not the default action), service_init,
 * the pool and the reader.  TRUE when it may serve. */
static gboolean
setup (UdgServer *server, UdgExitStack *stack, GSource **signals, GError **error)
{
  gboolean ok = TRUE;

  if (server->options.handle_signals && in_main_thread ())
    {
      signals[0] = attach_signal (server, SIGINT);
      signals[1] = attach_signal (server, SIGTERM);
    }
  server->base_context = udg_context_new (NULL);
  if (server->funcs.service_init != NULL)
    {
      UdgContext *previous = udg_context_push (server->base_context);

      ok = server->funcs.service_init (stack, server, server->user_data, error);
      udg_context_pop (previous);
      if (!ok && error != NULL && *error == NULL)
        g_set_error_literal (error, UDG_ERROR, UDG_ERROR_FAILED, _("service_init failed without saying why"));
    }
  if (!ok)
    return FALSE;
  pthread_mutex_lock (&server->lock);
  ok = !server->stop_requested;
  pthread_mutex_unlock (&server->lock);
  if (!ok)
    return FALSE;
  udg_scheduler_start (&server->scheduler, server->options.max_threads);
  if (!udg_reader_start (server, error))
    return FALSE;
  /* Said before it is so: whoever waits for the run to serve sees the
   * record first. */
  {
    g_autofree gchar *where = udg_address_to_string (server->bound);

    udg_log (G_LOG_LEVEL_INFO, NULL, "Start serving at %s", where);
  }
  /* Serving, unless a stop was asked meanwhile. */
  pthread_mutex_lock (&server->lock);
  ok = !server->stop_requested;
  if (ok)
    set_phase_unlocked (server, UDG_PHASE_SERVING);
  pthread_mutex_unlock (&server->lock);
  return ok;
}

/**
 * udg_server_serve_forever:
 * @server: a #UdgServer
 * @error: return location for a #GError
 *
 * Binds if needed, runs the handler's `service_init`, then serves until
 * udg_server_shutdown() or udg_server_close() (from any thread, a handler,
 * a timer, or SIGINT/SIGTERM when serving in the main thread with
 * handle_signals).  Meanwhile the calling thread runs a #GMainLoop on the
 * server's #GMainContext, where background timers run.  The server can serve again
 * after it returns.
 *
 * Returns: %TRUE after a shutdown; %FALSE with %UDG_ERROR_ALREADY_RUNNING,
 *   %UDG_ERROR_SERVER_CLOSED, a bind error, or the error of `service_init`
 *
 * Since: 0.1
 */
gboolean
udg_server_serve_forever (UdgServer *server,
                          GError   **error)
{
  g_autoptr(UdgExitStack) stack = NULL;
  g_autoptr(GError) failure = NULL;
  GSource *signals[2] = { NULL, NULL };

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  pthread_mutex_lock (&server->lock);
  if (running_unlocked (server))
    {
      pthread_mutex_unlock (&server->lock);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_ALREADY_RUNNING, _("Server is already running"));
      return FALSE;
    }
  if (server->phase == UDG_PHASE_CLOSED)
    {
      pthread_mutex_unlock (&server->lock);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED, _("Closed server"));
      return FALSE;
    }
  set_phase_unlocked (server, UDG_PHASE_SETUP);
  server->stop_requested = FALSE;
  server->close_requested = FALSE;
  server->serve_thread = g_thread_self ();
  server->loop = g_main_loop_new (server->context, FALSE);
  /* No handler holds it between two runs. */
  g_cancellable_reset (server->cancellable);
  pthread_mutex_unlock (&server->lock);

  udg_server_ref (server);
  if (!udg_server_activate (server, error))
    {
      pthread_mutex_lock (&server->lock);
      g_clear_pointer (&server->loop, g_main_loop_unref);
      pthread_mutex_unlock (&server->lock);
      finish_run (server);
      udg_server_unref (server);
      return FALSE;
    }

  g_main_context_push_thread_default (server->context);
  stack = udg_exit_stack_new ();
  /* FALSE without an error: a stop was asked during the setup. */
  if (setup (server, stack, signals, &failure))
    {
      /* READY=1 after the socket, the signal handling and the reader. */
      notify_ready (server);
      /* A stop asked at any time since the run began is the idle source
       * that request_stop_unlocked() attached: it quits the loop at its
       * first iteration if it came before. */
      g_main_loop_run (server->loop);
    }

  teardown (server, stack);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    if (signals[i] != NULL)
      {
        g_source_destroy (signals[i]);
        g_source_unref (signals[i]);
      }
  g_main_context_pop_thread_default (server->context);
  pthread_mutex_lock (&server->lock);
  if (server->stop_source != NULL)
    {
      /* Asked during setup, or not yet dispatched: nothing to quit now. */
      g_source_destroy (server->stop_source);
      g_clear_pointer (&server->stop_source, g_source_unref);
    }
  g_clear_pointer (&server->loop, g_main_loop_unref);
  pthread_mutex_unlock (&server->lock);
  finish_run (server);
  udg_server_unref (server);
  if (failure != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&failure));
      return FALSE;
    }
  return TRUE;
}

/**
 * udg_server_wait_serving:
 * @server: a #UdgServer
 * @timeout: seconds to wait at most: 0 to look only, or
 *   %UDG_TIMEOUT_INFINITE; a negative or NaN timeout is a programming error
 *
 * Waits, from another thread, until udg_server_serve_forever() is serving:
 * EasyNetwork's `is_up_event`.  Serving means the socket exists, the
 * SIGINT/SIGTERM handling is in place and datagrams are read.  A run that
 * ends without ever serving (an error, or a shutdown during setup) makes it
 * return %FALSE at once.
 *
 * Returns: %TRUE when serving; %FALSE on timeout or when the run ended
 *
 * Since: 0.1
 */
gboolean
udg_server_wait_serving (UdgServer *server,
                         gdouble    timeout)
{
  gint64 deadline;
  guint generation;
  gboolean serving;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (timeout >= 0, FALSE); /* false for NaN too */
  deadline = udg_deadline_from_timeout (timeout);

  pthread_mutex_lock (&server->lock);
  generation = server->generation;
  while (server->phase != UDG_PHASE_SERVING && server->generation == generation)
    {
      struct timespec ts;

      if (deadline == G_MAXINT64)
        {
          pthread_cond_wait (&server->cond, &server->lock);
          continue;
        }
      if (g_get_monotonic_time () >= deadline)
        break;
      udg_timespec_from_usec (deadline, &ts);
      pthread_cond_timedwait (&server->cond, &server->lock, &ts);
    }
  serving = server->phase == UDG_PHASE_SERVING;
  pthread_mutex_unlock (&server->lock);
  return serving;
}

static gboolean
on_stop_requested (gpointer data)
{
  UdgServer *server = data;

  pthread_mutex_lock (&server->lock);
  g_clear_pointer (&server->stop_source, g_source_unref);
  g_main_loop_quit (server->loop);
  pthread_mutex_unlock (&server->lock);
  return G_SOURCE_REMOVE;
}

/* With the lock held: asks the run to stop; TRUE if the caller may wait.
 * The stop is a high-priority idle source on the server's context, which
 * quits the loop whenever it runs: a stop asked before g_main_loop_run()
 * (from service_init, or another thread during setup) is not lost, as a
 * g_main_loop_quit() before the run would be.  The flag tells the setup
 * not to start serving at all. */
static gboolean
request_stop_unlocked (UdgServer *server)
{
  if (!running_unlocked (server))
    return FALSE;
  server->stop_requested = TRUE;
  if (server->stop_source == NULL)
    {
      server->stop_source = g_idle_source_new ();
      g_source_set_priority (server->stop_source, G_PRIORITY_HIGH);
      g_source_set_callback (server->stop_source, on_stop_requested, server, NULL);
      g_source_attach (server->stop_source, server->context);
    }
  return !in_own_thread (server);
}

static void
wait_run_end_unlocked (UdgServer *server)
{
  guint generation = server->generation;

  while (running_unlocked (server) && server->generation == generation)
    pthread_cond_wait (&server->cond, &server->lock);
}

/**
 * udg_server_shutdown:
 * @server: a #UdgServer
 *
 * Stops udg_server_serve_forever() and waits until its teardown is over.
 * Safe from any thread and idempotent; concurrent calls all return.  It
 * returns at once when the server is not running, and also, without
 * waiting, when called from the run itself (a handler, a timer or
 * `service_init`), since the run cannot end before it returns.  The socket
 * stays open.
 *
 * Since: 0.1
 */
void
udg_server_shutdown (UdgServer *server)
{
  g_return_if_fail (server != NULL);

  pthread_mutex_lock (&server->lock);
  if (request_stop_unlocked (server))
    wait_run_end_unlocked (server);
  pthread_mutex_unlock (&server->lock);
}

/**
 * udg_server_close:
 * @server: a #UdgServer
 * @error: return location for a #GError
 *
 * Stops serving (as udg_server_shutdown()), closes the socket and removes
 * the socket file, if it is still the one bind() created (same inode); a
 * file already gone or replaced is left alone silently, and another failure
 * is one CRITICAL log record.  Idempotent; the server cannot serve again.
 * Called from the run itself, the socket is closed when the run ends.
 *
 * Returns: %FALSE with %UDG_ERROR_BUSY while `service_init` runs
 *
 * Since: 0.1
 */
gboolean
udg_server_close (UdgServer *server,
                  GError   **error)
{
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  pthread_mutex_lock (&server->lock);
  if (server->phase == UDG_PHASE_SETUP && !in_own_thread (server))
    {
      pthread_mutex_unlock (&server->lock);
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_BUSY,
                           _("Cannot close server during serve_forever() setup."));
      return FALSE;
    }
  if (running_unlocked (server))
    {
      /* The run ends CLOSED, and closes the socket. */
      server->close_requested = TRUE;
      if (!request_stop_unlocked (server))
        {
          pthread_mutex_unlock (&server->lock);
          return TRUE;
        }
      wait_run_end_unlocked (server);
    }
  set_phase_unlocked (server, UDG_PHASE_CLOSED);
  pthread_mutex_unlock (&server->lock);
  udg_server_close_socket (server);
  return TRUE;
}

/**
 * udg_server_is_serving:
 * @server: a #UdgServer
 *
 * Tells whether a run of udg_server_serve_forever() is under way and reading
 * datagrams.
 *
 * Returns: whether udg_server_serve_forever() is serving datagrams now
 *
 * Since: 0.1
 */
gboolean
udg_server_is_serving (UdgServer *server)
{
  gboolean serving;

  g_return_val_if_fail (server != NULL, FALSE);
  pthread_mutex_lock (&server->lock);
  serving = server->phase == UDG_PHASE_SERVING && server->fd >= 0;
  pthread_mutex_unlock (&server->lock);
  return serving;
}
