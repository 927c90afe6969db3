/* udgram - a server's clients: one peer each, its mailbox, its invocations
 *
 * A client stands for one sender address of a server while anything holds
 * it, in a weak table of the server's (clients_lock).  Its mailbox is a
 * GAsyncQueue whose lock also guards the client's state:
 *   IDLE     no invocation; the mailbox is empty
 *   PENDING  a task is queued in the scheduler (which holds a reference)
 *   RUNNING  an invocation runs on a pool thread
 * IDLE -> PENDING when the reader delivers a datagram
 * (udg_client_deliver()); PENDING -> RUNNING when a pool thread takes the
 * first datagram; RUNNING -> IDLE or PENDING (mail left: queued again,
 * behind the other clients) when it returns.  An invocation is the
 * handler's call: udg_client_recv() is Python's `yield`, the first call
 * returning the datagram that started it, the next ones waiting for the
 * client's next datagram in g_async_queue_timeout_pop_unlocked().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <math.h>
#include <string.h>

typedef enum
{
  CLIENT_IDLE,
  CLIENT_PENDING,
  CLIENT_RUNNING,
} ClientState;

struct _UdgClient
{
  gint ref_count;          /* atomic; the server's table holds no reference */
  UdgServer *server;       /* (owned) */
  UdgAddress *peer;        /* (owned): also the key in server->clients */

  /* (owned) (element-type UdgDatagram): the mailbox, used through
   * udg-mailbox.h only.  Its lock guards the three fields after it. */
  GAsyncQueue *mailbox;
  ClientState state;
  guint queued;            /* datagrams in the mailbox */
  guint64 queued_bytes;

  /* The scheduler's (its lock): while a task is queued, or its invocation
   * waits in udg_client_recv(). */
  UdgSchedulerTask task;
};

/* The handler invocation running on this thread, if any. */
typedef struct
{
  UdgClient *client;       /* (unowned): the task holds a reference */
  UdgDatagram *first;      /* (owned) (nullable): not yet consumed */
  GBytes *current;         /* (owned) (nullable): last datagram consumed */
  gboolean has_credentials;
  UdgCredentials credentials; /* of the last datagram consumed */
  uid_t uid;               /* its sender's, or UDG_UID_UNKNOWN */
  gboolean closed;         /* a wait met UDG_MAILBOX_CLOSED */
} UdgInvocation;

/**
 * SECTION:udg-client
 * @title: UdgClient
 * @short_description: one peer of a server, as its handler sees it
 *
 * A #UdgClient stands for one sender address of a #UdgServer
 * (EasyNetwork's `AsyncDatagramClient`).  The server hands the same object
 * for the same address as long as anything holds a reference to it, and
 * runs at most one handler invocation per client at a time: datagrams that
 * arrive meanwhile wait in the client's mailbox, in arrival order.
 *
 * Inside `handle`, udg_client_recv() is Python's `yield`: the first call
 * returns the datagram that started the invocation; later calls wait for the
 * next one.  udg_client_send_packet() replies.
 */

/**
 * UdgClient:
 *
 * One sender address of a #UdgServer, as its handler sees it; reference-counted.
 */

/* A new client of @peer, idle, with one reference (the caller's). */
static UdgClient *
client_new (UdgServer *server, const UdgAddress *peer)
{
  UdgClient *client = g_new0 (UdgClient, 1);

  client->ref_count = 1;
  udg_server_hold (server);
  client->server = server;
  client->peer = udg_address_dup (peer);
  client->mailbox = udg_mailbox_new ();
  client->state = CLIENT_IDLE;
  client->task.mailbox = client->mailbox;
  return client;
}

/* A reference from the weak table: fails once the last one is gone. */
static gboolean
client_try_ref (UdgClient *client)
{
  gint old = g_atomic_int_get (&client->ref_count);

  while (old > 0)
    {
      if (g_atomic_int_compare_and_exchange_full (&client->ref_count, old, old + 1, &old))
        return TRUE;
    }
  return FALSE;
}

/* With clients_lock held: the client of @peer, with a new reference, made
 * if there is none. */
UdgClient *
udg_client_get_unlocked (UdgServer *server, const UdgAddress *peer)
{
  UdgClient *client = g_hash_table_lookup (server->clients, peer);

  if (client != NULL && client_try_ref (client))
    return client;
  /* Absent, or its last reference is being dropped right now (its
   * finalizer removes only its own entry). */
  client = client_new (server, peer);
  g_hash_table_replace (server->clients, client->peer, client);
  return client;
}

/* The reader's: @dg into the client's mailbox, in order; FALSE when the
 * mailbox is full (the datagram is not taken).  @schedule is set when the
 * client had no invocation: the caller hands it to the scheduler
 * (udg_client_schedule()) with its reference. */
gboolean
udg_client_deliver (UdgClient *client, UdgDatagram *dg, gboolean *schedule)
{
  const UdgServerOptions *o = &client->server->options;
  guint64 size = UDG_DATAGRAM_SIZE (dg);
  gboolean full;

  *schedule = FALSE;
  udg_mailbox_lock (client->mailbox);
  /* A mailbox holds one datagram at least, whatever its size. */
  full = client->queued >= o->mailbox_limit ||
         (client->queued > 0 && client->queued_bytes + size > o->mailbox_bytes_limit);
  if (!full)
    {
      udg_mailbox_push_unlocked (client->mailbox, dg);
      client->queued++;
      client->queued_bytes += size;
      if (client->state == CLIENT_IDLE)
        {
          client->state = CLIENT_PENDING;
          *schedule = TRUE;
        }
    }
  udg_mailbox_unlock (client->mailbox);
  return !full;
}

/* The datagrams queued in all the mailboxes, for the statistics. */
void
udg_clients_count (UdgServer *server, guint64 *queued_datagrams)
{
  GHashTableIter iter;
  gpointer value;

  *queued_datagrams = 0;
  pthread_mutex_lock (&server->clients_lock);
  g_hash_table_iter_init (&iter, server->clients);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      UdgClient *client = value;

      udg_mailbox_lock (client->mailbox);
      *queued_datagrams += client->queued;
      udg_mailbox_unlock (client->mailbox);
    }
  pthread_mutex_unlock (&server->clients_lock);
}

/**
 * udg_client_ref:
 * @client: a #UdgClient
 *
 * Takes a reference.  While one is held, datagrams from the same address
 * are given to the handler through this same object.
 *
 * Returns: (transfer full): @client
 *
 * Since: 0.1
 */
UdgClient *
udg_client_ref (UdgClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);
  g_return_val_if_fail (g_atomic_int_get (&client->ref_count) > 0, NULL);
  g_atomic_int_inc (&client->ref_count);
  return client;
}

/* Pops every datagram of @mailbox (locked) into @into; the closing marker
 * is left out. */
static void
take_all_unlocked (GAsyncQueue *mailbox, GQueue *into)
{
  gpointer item;

  while ((item = udg_mailbox_try_pop_unlocked (mailbox)) != NULL)
    if (item != UDG_MAILBOX_CLOSED)
      g_queue_push_tail (into, item);
}

/* Drops the client's queued datagrams, counted in dropped_shutdown (only
 * a stopping run drops mail); the client is idle afterwards. */
static void
drop_mailbox (UdgClient *client)
{
  GQueue dropped = G_QUEUE_INIT;

  udg_mailbox_lock (client->mailbox);
  take_all_unlocked (client->mailbox, &dropped);
  client->queued = 0;
  client->queued_bytes = 0;
  client->state = CLIENT_IDLE;
  udg_mailbox_unlock (client->mailbox);
  if (dropped.length > 0)
    UDG_STAT_ADD (client->server, dropped_shutdown, dropped.length);
  g_queue_clear_full (&dropped, (GDestroyNotify) udg_datagram_free);
}

/* Hands the client (PENDING), and the caller's reference to it, to the
 * scheduler, for a sender of uid @owner; when the run is stopping, its
 * mail is dropped instead. */
void
udg_client_schedule (UdgClient *client, uid_t owner)
{
  if (!udg_scheduler_push (&client->server->scheduler, &client->task, owner))
    {
      drop_mailbox (client);
      udg_client_unref (client);
    }
}

/**
 * udg_client_unref:
 * @client: (transfer full): a #UdgClient
 *
 * Drops a reference.  With the last one the client's state is freed; a
 * later datagram from the same address gets a new #UdgClient.
 *
 * Since: 0.1
 */
void
udg_client_unref (UdgClient *client)
{
  UdgServer *server;
  GQueue left = G_QUEUE_INIT;

  g_return_if_fail (client != NULL);
  if (!g_atomic_int_dec_and_test (&client->ref_count))
    return;

  server = client->server;
  pthread_mutex_lock (&server->clients_lock);
  if (g_hash_table_lookup (server->clients, client->peer) == client)
    g_hash_table_remove (server->clients, client->peer);
  pthread_mutex_unlock (&server->clients_lock);
  /* Nobody else can reach the mailbox now (the reader makes a new client
   * once the count is 0), and the count says whether it holds datagrams:
   * none, on the way of every request, so its lock is not taken. */
  if (client->queued > 0)
    {
      udg_mailbox_lock (client->mailbox);
      take_all_unlocked (client->mailbox, &left);
      udg_mailbox_unlock (client->mailbox);
      g_queue_clear_full (&left, (GDestroyNotify) udg_datagram_free);
    }
  udg_mailbox_free (client->mailbox);
  udg_address_unref (client->peer);
  g_free (client);
  udg_server_release (server);
}

/* --- an invocation ----------------------------------------------------------- */

static _Thread_local UdgInvocation *current_invocation;

/* The server whose handler runs on this thread, if any. */
UdgServer *
udg_client_current_server (void)
{
  UdgInvocation *invocation = current_invocation;

  return invocation != NULL ? invocation->client->server : NULL;
}

/* What a peer can cause by itself (a malformed datagram, a wait that it
 * let time out, a socket that is gone or does not read): logged as a
 * WARNING, so that a peer cannot trip G_DEBUG=fatal-criticals; every other
 * error is the handler's own failure, a CRITICAL record (EasyNetwork's
 * ERROR). */
static gboolean
caused_by_peer (const GError *error)
{
  if (error->domain == UDG_ERROR)
    return error->code == UDG_ERROR_PARSE || error->code == UDG_ERROR_TIMED_OUT ||
           error->code == UDG_ERROR_WOULD_BLOCK || error->code == UDG_ERROR_TRUNCATED;
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
}

/* One record per error, and at most one for the same error of the same
 * peer every UDG_LOG_INTERVAL_USEC: every error is still counted in the
 * statistics. */
static void
log_handler_error (UdgClient *client, const GError *error)
{
  UdgServer *server = client->server;
  g_autofree gchar *who = udg_address_to_string (client->peer);
  g_autofree gchar *key = g_strdup_printf ("%s %u:%d", who, error->domain, error->code);

  if (g_error_matches (error, UDG_ERROR, UDG_ERROR_CLOSED))
    udg_log_limited (server->log_limiter, key, G_LOG_LEVEL_WARNING, error,
                     "There have been attempts to do operation on closed client %s", who);
  else
    udg_log_limited (server->log_limiter, key, caused_by_peer (error) ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_CRITICAL,
                     error, "Exception occurred during processing of request from %s", who);
}

/* With the mailbox locked: the first datagram, counted out; %NULL when
 * there is none, or a marker: the closing one, which stays (@marker set to
 * it), or the scheduler's, taken. */
static UdgDatagram *
pop_datagram_unlocked (UdgClient *client, gint64 timeout_usec, gpointer *marker)
{
  gpointer item = timeout_usec == 0 ? udg_mailbox_try_pop_unlocked (client->mailbox)
                                    : udg_mailbox_timeout_pop_unlocked (client->mailbox, timeout_usec);
  UdgDatagram *dg;

  if (item == NULL)
    return NULL;
  if (item == UDG_MAILBOX_CLOSED || item == UDG_MAILBOX_EVICTED)
    {
      /* Back in front: every later wait of this invocation sees it too. */
      if (item == UDG_MAILBOX_CLOSED)
        udg_mailbox_push_front_unlocked (client->mailbox, item);
      *marker = item;
      return NULL;
    }
  dg = item;
  client->queued--;
  client->queued_bytes -= UDG_DATAGRAM_SIZE (dg);
  return dg;
}

/* One handler invocation for the client of @task (CLIENT_PENDING), whose
 * reference it takes over: what a pool task runs first.  A stopping run
 * past its drain (CLOSING) drops the mail instead. */
void
udg_client_run_invocation (UdgSchedulerTask *task)
{
  UdgClient *client = G_STRUCT_MEMBER_P (task, -G_STRUCT_OFFSET (UdgClient, task));
  UdgServer *server = client->server;
  UdgInvocation invocation = { 0 };
  UdgInvocation *previous;
  UdgContext context = { NULL, NULL };
  UdgContext *previous_context;
  g_autoptr(GError) error = NULL;
  gboolean ok, again;

  udg_mailbox_lock (client->mailbox);
  if (udg_server_phase (server) != UDG_PHASE_CLOSING)
    {
      gpointer marker = NULL;

      invocation.first = pop_datagram_unlocked (client, 0, &marker);
      invocation.closed = marker == UDG_MAILBOX_CLOSED;
    }
  if (invocation.first != NULL)
    invocation.uid = invocation.first->has_uid ? invocation.first->uid : UDG_UID_UNKNOWN;
  if (invocation.first != NULL)
    client->state = CLIENT_RUNNING;
  udg_mailbox_unlock (client->mailbox);
  if (invocation.first == NULL)
    {
      drop_mailbox (client);
      udg_client_unref (client);
      return;
    }

  invocation.client = client;
  context.parent = server->base_context;
  previous = current_invocation;
  current_invocation = &invocation;
  previous_context = udg_context_push (&context);

  ok = server->funcs.handle (client, server->user_data, &error);
  if (!ok && error == NULL)
    g_set_error_literal (&error, UDG_ERROR, UDG_ERROR_FAILED,
                         _("The handler failed without saying why"));

  udg_context_pop (previous_context);
  udg_context_clear (&context);
  current_invocation = previous;

  if (invocation.first != NULL)
    {
      /* Returned before its first udg_client_recv(): the datagram is refused. */
      UDG_STAT_ADD (server, refused, 1);
      udg_datagram_release_ancillary (invocation.first, client->peer);
      udg_datagram_free (invocation.first);
    }
  g_clear_pointer (&invocation.current, g_bytes_unref);
  if (!ok)
    {
      UDG_STAT_ADD (server, handler_errors, 1);
      log_handler_error (client, error);
    }

  udg_mailbox_lock (client->mailbox);
  /* The marker that ended a wait is for this invocation only. */
  if (invocation.closed)
    udg_mailbox_remove_unlocked (client->mailbox, UDG_MAILBOX_CLOSED);
  again = client->queued > 0;
  client->state = again ? CLIENT_PENDING : CLIENT_IDLE;
  udg_mailbox_unlock (client->mailbox);

  if (again)
    udg_client_schedule (client, invocation.uid);
  else
    udg_client_unref (client);
}

static UdgInvocation *
own_invocation (UdgClient *client)
{
  UdgInvocation *invocation = current_invocation;

  return invocation != NULL && invocation->client == client ? invocation : NULL;
}

/* Waits for the next datagram of @client; NULL with an error on timeout
 * (also when the scheduler ended the wait to give its thread to another
 * client), or with UDG_ERROR_CLOSED when the run stops (no datagram comes
 * any more).  Called by the client's own running invocation only: the wait
 * is the mailbox's g_async_queue_timeout_pop_unlocked(). */
static UdgDatagram *
wait_datagram (UdgClient *client, UdgInvocation *invocation, gdouble timeout, GError **error)
{
  UdgServer *server = client->server;
  gint64 deadline = udg_deadline_from_timeout (timeout);
  gpointer marker = NULL;
  UdgDatagram *dg;

  udg_mailbox_lock (client->mailbox);
  dg = pop_datagram_unlocked (client, 0, &marker);
  udg_mailbox_unlock (client->mailbox);
  if (dg == NULL && marker == NULL && timeout > 0)
    {
      /* This invocation holds its thread while it waits: the pool grows by
       * one meanwhile.  A stopping run refuses the wait: the reader is off,
       * nothing would come. */
      if (udg_scheduler_wait_begin (&server->scheduler, &client->task, invocation->uid))
        {
          gint64 left = deadline == G_MAXINT64 ? -1 : MAX (1, deadline - g_get_monotonic_time ());

          udg_mailbox_lock (client->mailbox);
          dg = pop_datagram_unlocked (client, left, &marker);
          udg_mailbox_unlock (client->mailbox);
          /* Ended by the scheduler after the wait took something else: its
           * marker must not end a later wait. */
          if (udg_scheduler_wait_end (&server->scheduler, &client->task) && marker != UDG_MAILBOX_EVICTED)
            {
              udg_mailbox_lock (client->mailbox);
              udg_mailbox_remove_unlocked (client->mailbox, UDG_MAILBOX_EVICTED);
              udg_mailbox_unlock (client->mailbox);
            }
        }
      else
        marker = UDG_MAILBOX_CLOSED;
    }
  if (marker == UDG_MAILBOX_CLOSED)
    invocation->closed = TRUE;
  if (dg == NULL)
    {
      if (marker == UDG_MAILBOX_CLOSED || udg_server_phase (server) == UDG_PHASE_CLOSING)
        g_set_error_literal (error, UDG_ERROR, UDG_ERROR_CLOSED, _("The server is shutting down"));
      else
        g_set_error_literal (error, UDG_ERROR, UDG_ERROR_TIMED_OUT,
                             _("No datagram arrived before the timeout"));
    }
  return dg;
}

/* Ancillary dispatch, then parsing, as EasyNetwork does: the callback sees
 * the control data before the bytes are parsed.  Consumes @dg. */
static gpointer
deliver (UdgClient           *client,
         UdgInvocation       *invocation,
         UdgDatagram         *dg,
         const UdgRecvParams *params,
         gboolean             parse,
         GError             **error)
{
  UdgServer *server = client->server;
  gpointer packet;
  g_autoptr(GError) cause = NULL;

  if (params->recv_with_ancillary != NULL)
    {
      if (!server->options.receive_ancillary_data)
        {
          udg_datagram_free (dg);
          g_set_error_literal (error, UDG_ERROR, UDG_ERROR_UNSUPPORTED,
                               _("The server is not configured to handle ancillary data."));
          return NULL;
        }
      /* The callback owns the descriptors from here on, even if it fails. */
      if (!params->recv_with_ancillary (dg->control != NULL ? dg->control : (gconstpointer) "",
                                        dg->control_len, dg->flags,
                                        params->ancillary_user_data, &cause))
        {
          g_clear_pointer (&dg->control, g_free);
          dg->control_len = 0;
          udg_datagram_free (dg);
          g_set_error (error, UDG_ERROR, UDG_ERROR_FAILED,
                       _("The recv_with_ancillary callback crashed (caused by: %s)"),
                       cause != NULL ? cause->message : _("no error was given"));
          return NULL;
        }
      g_clear_pointer (&dg->control, g_free);
      dg->control_len = 0;
    }
  else
    udg_datagram_release_ancillary (dg, client->peer);

  g_clear_pointer (&invocation->current, g_bytes_unref);
  invocation->current = g_bytes_ref (dg->data);
  invocation->has_credentials = dg->has_credentials;
  invocation->credentials = dg->credentials;
  invocation->uid = dg->has_uid ? dg->uid : UDG_UID_UNKNOWN;
  packet = parse ? udg_protocol_build_packet_from_datagram (server->protocol, dg->data, error)
                 : g_bytes_ref (dg->data);
  udg_datagram_free (dg);
  if (packet == NULL)
    UDG_STAT_ADD (server, parse_errors, 1);
  else
    UDG_STAT_ADD (server, handled, 1);
  return packet;
}

/* udg_client_recv() and udg_client_recv_bytes(): the first datagram of
 * the invocation, or the next one waited for; parsed by the protocol, or
 * given as bytes. */
static gpointer
receive (UdgClient           *client,
         UdgInvocation       *invocation,
         const UdgRecvParams *params,
         gboolean             parse,
         GError             **error)
{
  UdgDatagram *dg;

  if (invocation->first != NULL)
    {
      dg = g_steal_pointer (&invocation->first);
      if (!udg_validate_timeout (params->timeout, error))
        {
          udg_datagram_release_ancillary (dg, client->peer);
          udg_datagram_free (dg);
          return NULL;
        }
      return deliver (client, invocation, dg, params, parse, error);
    }

  if (!udg_validate_timeout (params->timeout, error))
    return NULL;
  dg = wait_datagram (client, invocation, params->timeout, error);
  if (dg == NULL)
    return NULL;
  return deliver (client, invocation, dg, params, parse, error);
}

/**
 * udg_client_recv:
 * @client: the #UdgClient given to `handle`
 * @params: (nullable): what to wait for; %NULL for the defaults (wait
 *   forever, no ancillary data)
 * @error: return location for a #GError
 *
 * Receives the client's next request: Python's `request = yield params`.
 * Call it only from the `handle` invocation of @client.
 *
 * The first call of an invocation returns the datagram that started it; its
 * timeout is validated but ignored.  Later calls wait for the next datagram
 * of this client up to @params->timeout.  Errors:
 * %UDG_ERROR_INVALID_ARGUMENT for a negative or NaN timeout (on the first
 * call the datagram is lost, on later calls nothing is consumed);
 * %UDG_ERROR_TIMED_OUT; %UDG_ERROR_CLOSED when the server shuts down;
 * %UDG_ERROR_UNSUPPORTED when ancillary data is asked of a server without
 * receive_ancillary_data; %UDG_ERROR_FAILED when the ancillary callback or
 * the protocol failed; %UDG_ERROR_PARSE for a malformed datagram (whose bytes
 * udg_client_get_datagram() still gives).  In the last four cases the
 * datagram is consumed.  The handler may go on calling udg_client_recv()
 * after any error.
 *
 * The packet is the server's protocol's, and is freed with
 * udg_client_free_packet(), which calls the serializer's own free function;
 * a handler that keeps it (or part of it) takes a reference of its own
 * first.  What the built-in serializers give:
 *
 * - udg_json_serializer_new(), udg_msgpack_serializer_new(),
 *   udg_cbor_serializer_new(): a `JsonNode *` (json-glib's `json_node_unref`);
 * - udg_line_serializer_new(), udg_ascii_serializer_new(): a `gchar *`
 *   (g_free());
 * - udg_variant_serializer_new(): a #GVariant (g_variant_unref());
 * - udg_bytes_serializer_new(): a #GBytes (g_bytes_unref());
 * - udg_base64_serializer_new(), udg_compressor_serializer_new(): the
 *   inner serializer's packet; udg_stapled_serializer_new(): the receiving
 *   serializer's;
 * - a protocol with a converter: what the converter makes, freed by its
 *   `free_packet`.
 *
 * Bindings use udg_client_recv_bytes() instead.
 *
 * Returns: (transfer full) (nullable): the packet, to free with
 *   udg_client_free_packet(), or %NULL with @error set
 *
 * Since: 0.1
 */
gpointer
udg_client_recv (UdgClient           *client,
                 const UdgRecvParams *params,
                 GError             **error)
{
  static const UdgRecvParams defaults = UDG_RECV_PARAMS_INIT;
  UdgInvocation *invocation;

  g_return_val_if_fail (client != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  invocation = own_invocation (client);
  g_return_val_if_fail (invocation != NULL, NULL);

  return receive (client, invocation, params != NULL ? params : &defaults, TRUE, error);
}

/**
 * udg_client_recv_bytes:
 * @client: the #UdgClient given to the handler
 * @timeout: seconds to wait, as #UdgRecvParams.timeout;
 *   %UDG_TIMEOUT_INFINITE to wait for ever
 * @error: return location for a #GError
 *
 * Receives the client's next datagram as udg_client_recv() does, but
 * gives its bytes as they came: the server's protocol is not used.  This
 * is the call for bindings (Python, JavaScript through GObject
 * introspection), which parse in their own language.  Errors are those of
 * udg_client_recv(), but for the protocol's.
 *
 * Returns: (transfer full) (nullable): the datagram, or %NULL with @error
 *   set
 *
 * Since: 0.1
 */
GBytes *
udg_client_recv_bytes (UdgClient *client,
                       gdouble    timeout,
                       GError   **error)
{
  UdgRecvParams params = UDG_RECV_PARAMS_INIT;
  UdgInvocation *invocation;

  g_return_val_if_fail (client != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  invocation = own_invocation (client);
  g_return_val_if_fail (invocation != NULL, NULL);

  params.timeout = timeout;
  return receive (client, invocation, &params, FALSE, error);
}

/**
 * udg_client_free_packet:
 * @client: a #UdgClient
 * @packet: (nullable) (transfer full): a packet from udg_client_recv()
 *
 * Frees a received packet with the server's protocol.
 *
 * Since: 0.1
 */
void
udg_client_free_packet (UdgClient *client,
                        gpointer   packet)
{
  g_return_if_fail (client != NULL);
  udg_protocol_free_packet (client->server->protocol, packet);
}

/**
 * udg_client_get_datagram:
 * @client: a #UdgClient
 *
 * The raw bytes of the datagram the current invocation of @client last took
 * with udg_client_recv(), parsed or not: what a handler logs after a
 * %UDG_ERROR_PARSE error.
 *
 * Returns: (transfer none) (nullable): the bytes, or %NULL outside the
 *   client's invocation or before its first udg_client_recv()
 *
 * Since: 0.1
 */
GBytes *
udg_client_get_datagram (UdgClient *client)
{
  UdgInvocation *invocation;

  g_return_val_if_fail (client != NULL, NULL);
  invocation = own_invocation (client);
  return invocation != NULL ? invocation->current : NULL;
}

/**
 * udg_client_get_credentials:
 * @client: a #UdgClient
 * @credentials: (out caller-allocates): the sender's credentials
 *
 * The kernel-verified credentials of the datagram the current invocation of
 * @client last took with udg_client_recv(): a shortcut for reading
 * SCM_CREDENTIALS without a #UdgRecvAncillaryFunc.  They come with every
 * datagram when the server was built with
 * udg_server_options_set_pass_credentials(), or with receive_ancillary_data
 * and `SO_PASSCRED` set in `service_init` (datagrams queued before that
 * carry pid 0 and uid 65534).
 *
 * Returns: %TRUE when the datagram carried credentials
 *
 * Since: 0.1
 */
gboolean
udg_client_get_credentials (UdgClient      *client,
                            UdgCredentials *credentials)
{
  UdgInvocation *invocation;

  g_return_val_if_fail (client != NULL, FALSE);
  g_return_val_if_fail (credentials != NULL, FALSE);
  invocation = own_invocation (client);
  if (invocation == NULL || invocation->current == NULL || !invocation->has_credentials)
    return FALSE;
  *credentials = invocation->credentials;
  return TRUE;
}

/* Whether a reply may go to the client at all. */
static gboolean
can_send (UdgClient *client, GError **error)
{
  if (udg_client_is_closing (client))
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_CLOSED, _("Closed client"));
      return FALSE;
    }
  if (udg_address_is_unnamed (client->peer))
    {
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                           _("Cannot send a datagram to an unnamed address."));
      return FALSE;
    }
  return TRUE;
}

/**
 * udg_client_send_packet_with_ancillary:
 * @client: a #UdgClient
 * @packet: the packet to send
 * @ancillary: (nullable): control messages to send with it
 * @error: return location for a #GError
 *
 * Sends @packet to the client with sendmsg(), along with the descriptors
 * and credentials of @ancillary.  It works whether or not the server
 * receives ancillary data.  When the peer's queue is full for now, the
 * kernel waits for room at most the server's send timeout (see
 * udg_server_options_set_send_timeout()), then the send fails with
 * %UDG_ERROR_WOULD_BLOCK.  A peer that holds a large share of the server
 * socket's send buffer under pressure is watched first: the send waits, at
 * most the send timeout, while the peer's queue is looked at with nothing
 * more sent to it.  A peer that reads is then served; one whose queue does
 * not move is refused with %UDG_ERROR_WOULD_BLOCK, counted in
 * #UdgServerStats.not_reading, then and until it reads; a datagram service
 * usually drops such a reply and goes on.
 *
 * Errors: %UDG_ERROR_CLOSED when the service is stopping or stopped;
 * %UDG_ERROR_INVALID_ARGUMENT for an unnamed peer; %UDG_ERROR_FAILED when the
 * protocol cannot serialize @packet; %UDG_ERROR_WOULD_BLOCK; a %G_IO_ERROR
 * from the system when the peer is gone (%G_IO_ERROR_CONNECTION_REFUSED,
 * %G_IO_ERROR_NOT_FOUND) or another send error.
 *
 * Returns: %TRUE when sent
 *
 * Since: 0.1
 */
gboolean
udg_client_send_packet_with_ancillary (UdgClient    *client,
                                       gconstpointer packet,
                                       UdgAncillary *ancillary,
                                       GError      **error)
{
  g_autoptr(GBytes) datagram = NULL;
  g_autofree guint8 *control = NULL;
  gsize control_len = 0;

  g_return_val_if_fail (client != NULL, FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!can_send (client, error))
    return FALSE;
  datagram = udg_protocol_make_datagram (client->server->protocol, packet, error);
  if (datagram == NULL)
    return FALSE;
  if (ancillary != NULL)
    control = udg_ancillary_to_control (ancillary, &control_len);
  return udg_sender_send (&client->server->sender, client->peer, datagram, control, control_len,
                          client->server->cancellable, error);
}

/**
 * udg_client_send_bytes:
 * @client: a #UdgClient
 * @datagram: the datagram's bytes
 * @error: return location for a #GError
 *
 * Sends @datagram to the client as it is, without the server's protocol:
 * udg_client_recv_bytes()'s counterpart, for bindings.  Errors are those
 * of udg_client_send_packet_with_ancillary(), but for the protocol's.
 *
 * Returns: %TRUE when sent
 *
 * Since: 0.1
 */
gboolean
udg_client_send_bytes (UdgClient *client,
                       GBytes    *datagram,
                       GError   **error)
{
  g_return_val_if_fail (client != NULL, FALSE);
  g_return_val_if_fail (datagram != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!can_send (client, error))
    return FALSE;
  return udg_sender_send (&client->server->sender, client->peer, datagram, NULL, 0,
                          client->server->cancellable, error);
}

/**
 * udg_client_send_packet:
 * @client: a #UdgClient
 * @packet: the packet to send
 * @error: return location for a #GError
 *
 * Sends @packet to the client: udg_client_send_packet_with_ancillary()
 * without control messages.
 *
 * Returns: %TRUE when sent
 *
 * Since: 0.1
 */
gboolean
udg_client_send_packet (UdgClient    *client,
                        gconstpointer packet,
                        GError      **error)
{
  return udg_client_send_packet_with_ancillary (client, packet, NULL, error);
}

/**
 * udg_client_get_peer_name:
 * @client: a #UdgClient
 *
 * The client's address (EasyNetwork's `UNIXClientAttribute.peer_name`).
 *
 * Returns: (transfer none): the address; unnamed for unbound senders
 *
 * Since: 0.1
 */
UdgAddress *
udg_client_get_peer_name (UdgClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);
  return client->peer;
}

/**
 * udg_client_get_local_name:
 * @client: a #UdgClient
 *
 * The server's address, as the client sees it
 * (`UNIXClientAttribute.local_name`).
 *
 * Returns: (transfer none) (nullable): the address the server was bound
 *   to, or %NULL if it never was
 *
 * Since: 0.1
 */
UdgAddress *
udg_client_get_local_name (UdgClient *client)
{
  UdgServer *server;
  UdgAddress *address;

  g_return_val_if_fail (client != NULL, NULL);
  server = client->server;
  pthread_mutex_lock (&server->lock);
  address = server->bound;
  pthread_mutex_unlock (&server->lock);
  return address;
}

/**
 * udg_client_get_server:
 * @client: a #UdgClient
 *
 * Gets the server that created @client (a handler may call this to reach
 * server-wide state).
 *
 * Returns: (transfer none): the server the client talks to
 *
 * Since: 0.1
 */
UdgServer *
udg_client_get_server (UdgClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);
  return client->server;
}

/**
 * udg_client_is_closing:
 * @client: a #UdgClient
 *
 * Tells whether a reply to @client can still be sent.
 *
 * Returns: %TRUE when the service is not available: no run of the server
 *   is under way, or the run's stop is past handling what was read (see
 *   udg_server_options_set_drain_timeout()): sends would fail with
 *   %UDG_ERROR_CLOSED
 *
 * Since: 0.1
 */
gboolean
udg_client_is_closing (UdgClient *client)
{
  UdgPhase phase;

  g_return_val_if_fail (client != NULL, TRUE);
  phase = udg_server_phase (client->server);
  return phase != UDG_PHASE_SETUP && phase != UDG_PHASE_SERVING && phase != UDG_PHASE_DRAINING;
}

/**
 * udg_client_get_cancellable:
 * @client: a #UdgClient
 *
 * The cancellable of the server's current run, cancelled when it shuts
 * down.  Pass it to every blocking call a handler makes besides
 * udg_client_recv() (which wakes by itself), so that shutdown is quick.
 *
 * Returns: (transfer none): a #GCancellable
 *
 * Since: 0.1
 */
GCancellable *
udg_client_get_cancellable (UdgClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);
  return client->server->cancellable;
}

/**
 * udg_client_get_type:
 *
 * The #GType of #UdgClient, a boxed type: bindings and #GValue copy it with
 * udg_client_ref() and free it with udg_client_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgClient, udg_client, udg_client_ref, udg_client_unref)
