/* udgram - the one place where the library logs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"
#include "udg-tuning.h"

#include <gio/gio.h>

static const gchar *
priority_of (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR:
      return "2";
    case G_LOG_LEVEL_CRITICAL:
      return "3";
    case G_LOG_LEVEL_WARNING:
      return "4";
    case G_LOG_LEVEL_MESSAGE:
      return "5";
    case G_LOG_LEVEL_INFO:
      return "6";
    case G_LOG_LEVEL_DEBUG:
    default:
      return "7";
    }
}

/* The name of @error's code, as the C code spells it: "UDG_ERROR_PARSE",
 * "G_IO_ERROR_CONNECTION_REFUSED"; else its domain and number. */
static gchar *
error_name (const GError *error)
{
  static const gchar *const udg_names[] = {
    "UDG_ERROR_FAILED", "UDG_ERROR_PARSE", "UDG_ERROR_TIMED_OUT", "UDG_ERROR_CLOSED",
    "UDG_ERROR_SERVER_CLOSED", "UDG_ERROR_ALREADY_RUNNING", "UDG_ERROR_BUSY",
    "UDG_ERROR_UNSUPPORTED", "UDG_ERROR_INVALID_ARGUMENT", "UDG_ERROR_ADDRESS_IN_USE",
    "UDG_ERROR_WOULD_BLOCK", "UDG_ERROR_TRUNCATED",
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (udg_names) == UDG_ERROR_TRUNCATED + 1);

  if (error->domain == UDG_ERROR && error->code >= 0 && error->code < (gint) G_N_ELEMENTS (udg_names))
    return g_strdup (udg_names[error->code]);
  if (error->domain == G_IO_ERROR)
    {
      GEnumClass *klass = g_type_class_ref (G_TYPE_IO_ERROR_ENUM);
      GEnumValue *value = g_enum_get_value (klass, error->code);
      gchar *name = value != NULL ? g_strdup (value->value_name) : NULL;

      g_type_class_unref (klass);
      if (name != NULL)
        return name;
    }
  return g_strdup_printf ("%s %d", g_quark_to_string (error->domain), error->code);
}

/* What to do about @error, when there is something to say. */
static const gchar *
error_remedy (const GError *error)
{
  if (error->domain == UDG_ERROR)
    switch (error->code)
      {
      case UDG_ERROR_UNSUPPORTED:
        return _("to receive ancillary data, turn it on before the server starts: "
                 "udg_server_options_set_receive_ancillary_data (options, TRUE), or udgram serve --ancillary");
      case UDG_ERROR_WOULD_BLOCK:
        return _("the peer does not read its replies: a datagram service drops the reply and goes on; "
                 "a peer that is only slow gets longer with udg_server_options_set_send_timeout()");
      case UDG_ERROR_PARSE:
        return _("the datagram does not parse with the server's protocol: check that the peer uses the same "
                 "serializers (and key, for HMAC)");
      case UDG_ERROR_CLOSED:
        return _("the service is stopping: the handler should return");
      default:
        return NULL;
      }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return _("the peer's socket is gone (closed, or its file removed): nothing to do for this reply");
  return NULL;
}

/*
 * udg_log:
 * @level: %G_LOG_LEVEL_CRITICAL for EasyNetwork's ERROR records,
 *   %G_LOG_LEVEL_WARNING, %G_LOG_LEVEL_INFO or %G_LOG_LEVEL_DEBUG
 * @error: (nullable): an error attached to the record, as Python attaches a
 *   traceback: its message and the name of its code follow the record's text
 *   on a second line, and what to do about it on a third when there is
 *   something to say; it is given in the fields UDG_ERROR_DOMAIN,
 *   UDG_ERROR_CODE, UDG_ERROR_NAME, UDG_ERROR_MESSAGE and UDG_REMEDY so
 *   that a log writer can tell it apart.
 *
 * Writes one structured record in the "udgram" domain.  Applications route
 * or silence them with g_log_set_writer_func(); INFO and DEBUG records are
 * shown by the default writer when G_MESSAGES_DEBUG includes "udgram".
 */
void
udg_log (GLogLevelFlags level,
         const GError  *error,
         const gchar   *format,
         ...)
{
  g_autofree gchar *text = NULL;
  g_autofree gchar *message = NULL;
  g_autofree gchar *code = NULL;
  g_autofree gchar *name = NULL;
  const gchar *remedy = NULL;
  GLogField fields[9];
  gsize n = 0;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);

  if (error != NULL)
    {
      name = error_name (error);
      remedy = error_remedy (error);
      if (remedy != NULL)
        message = g_strdup_printf ("%s\n  %s (%s)\n  %s", text, error->message, name, remedy);
      else
        message = g_strdup_printf ("%s\n  %s (%s)", text, error->message, name);
    }

  fields[n++] = (GLogField) { "GLIB_DOMAIN", UDG_LOG_DOMAIN, -1 };
  fields[n++] = (GLogField) { "PRIORITY", priority_of (level), -1 };
  fields[n++] = (GLogField) { "MESSAGE", message != NULL ? message : text, -1 };
  fields[n++] = (GLogField) { "UDG_TEXT", text, -1 };
  if (error != NULL)
    {
      code = g_strdup_printf ("%d", error->code);
      fields[n++] = (GLogField) { "UDG_ERROR_DOMAIN", g_quark_to_string (error->domain), -1 };
      fields[n++] = (GLogField) { "UDG_ERROR_CODE", code, -1 };
      fields[n++] = (GLogField) { "UDG_ERROR_NAME", name, -1 };
      fields[n++] = (GLogField) { "UDG_ERROR_MESSAGE", error->message, -1 };
      if (remedy != NULL)
        fields[n++] = (GLogField) { "UDG_REMEDY", remedy, -1 };
    }
  g_log_structured_array (level, fields, n);
}

/* --- records a peer can cause, rate-limited ------------------------------------
 *
 * Past UDG_LOG_KEYS_MAX keys, the ones quiet for an interval are forgotten;
 * the keys beyond share one entry. */

typedef struct
{
  gint64 last;              /* when its last record was written */
  guint64 held_back;        /* records not written since */
} LimiterKey;

struct _UdgLogLimiter
{
  pthread_mutex_t lock;     /* guards what follows */
  GHashTable *keys;         /* (owned): gchar* -> LimiterKey */
  LimiterKey overflow;      /* for the keys that do not fit */
  gint64 window_start;
  guint written;            /* records written since window_start */
};

UdgLogLimiter *
udg_log_limiter_new (void)
{
  UdgLogLimiter *limiter = g_new0 (UdgLogLimiter, 1);

  pthread_mutex_init (&limiter->lock, NULL);
  limiter->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return limiter;
}

void
udg_log_limiter_free (UdgLogLimiter *limiter)
{
  if (limiter == NULL)
    return;
  g_hash_table_unref (limiter->keys);
  pthread_mutex_destroy (&limiter->lock);
  g_free (limiter);
}

/* With the lock held: @key's entry, made if there is room. */
static LimiterKey *
limiter_key_unlocked (UdgLogLimiter *limiter, const gchar *key, gint64 now)
{
  LimiterKey *k = g_hash_table_lookup (limiter->keys, key);

  if (k != NULL)
    return k;
  if (g_hash_table_size (limiter->keys) >= UDG_LOG_KEYS_MAX)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, limiter->keys);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (now - ((LimiterKey *) value)->last >= UDG_LOG_INTERVAL_USEC)
          g_hash_table_iter_remove (&iter);
      if (g_hash_table_size (limiter->keys) >= UDG_LOG_KEYS_MAX)
        return &limiter->overflow;
    }
  k = g_new0 (LimiterKey, 1);
  g_hash_table_insert (limiter->keys, g_strdup (key), k);
  return k;
}

void
udg_log_limited (UdgLogLimiter  *limiter,
                 const gchar    *key,
                 GLogLevelFlags  level,
                 const GError   *error,
                 const gchar    *format,
                 ...)
{
  g_autofree gchar *text = NULL;
  gint64 now = g_get_monotonic_time ();
  guint64 held_back;
  LimiterKey *k;
  va_list ap;

  pthread_mutex_lock (&limiter->lock);
  k = limiter_key_unlocked (limiter, key, now);
  if (now - limiter->window_start >= UDG_LOG_INTERVAL_USEC)
    {
      limiter->window_start = now;
      limiter->written = 0;
    }
  if ((k->last != 0 && now - k->last < UDG_LOG_INTERVAL_USEC) || limiter->written >= UDG_LOG_BURST)
    {
      k->held_back++;
      pthread_mutex_unlock (&limiter->lock);
      return;
    }
  limiter->written++;
  k->last = now;
  held_back = k->held_back;
  k->held_back = 0;
  pthread_mutex_unlock (&limiter->lock);

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (held_back > 0)
    udg_log (level, error, "%s (%" G_GUINT64_FORMAT " more since the last such record, not logged)", text,
             held_back);
  else
    udg_log (level, error, "%s", text);
}
