/* udgram - the one place where the library logs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

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

/*
 * udg_log:
 * @level: %G_LOG_LEVEL_CRITICAL for EasyNetwork's ERROR records,
 *   %G_LOG_LEVEL_WARNING, %G_LOG_LEVEL_INFO or %G_LOG_LEVEL_DEBUG
 * @error: (nullable): an error attached to the record, as Python attaches a
 *   traceback: its message follows the record's text on a second line, and
 *   it is given in the fields UDG_ERROR_DOMAIN, UDG_ERROR_CODE and
 *   UDG_ERROR_MESSAGE so that a log writer can tell it apart.
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
  GLogField fields[7];
  gsize n = 0;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);

  if (error != NULL)
    message = g_strdup_printf ("%s\n  %s (%s, %d)", text, error->message,
                               g_quark_to_string (error->domain), error->code);

  fields[n++] = (GLogField) { "GLIB_DOMAIN", UDG_LOG_DOMAIN, -1 };
  fields[n++] = (GLogField) { "PRIORITY", priority_of (level), -1 };
  fields[n++] = (GLogField) { "MESSAGE", message != NULL ? message : text, -1 };
  fields[n++] = (GLogField) { "UDG_TEXT", text, -1 };
  if (error != NULL)
    {
      code = g_strdup_printf ("%d", error->code);
      fields[n++] = (GLogField) { "UDG_ERROR_DOMAIN", g_quark_to_string (error->domain), -1 };
      fields[n++] = (GLogField) { "UDG_ERROR_CODE", code, -1 };
      fields[n++] = (GLogField) { "UDG_ERROR_MESSAGE", error->message, -1 };
    }
  g_log_structured_array (level, fields, n);
}
