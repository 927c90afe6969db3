/* udgram - a datagram the server received, waiting in a client's mailbox
 *
 * Its bytes, the control data a handler may ask for (whose descriptors the
 * datagram owns until a handler takes them, closed with it otherwise), and
 * the sender's credentials: for the handler when it asked for them, and
 * its uid for the server's own use (the scheduler's fairness between uids).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-datagram.h"

/* A datagram of @len @bytes with its @control data, as recvmsg() gave them:
 * kept for a handler when @keep_control (the credentials taken out unless
 * @credentials_visible), else every descriptor closed at once.
 * @credentials: (nullable): the kernel's. */
UdgDatagram *
udg_datagram_new (gconstpointer          bytes,
                  gsize                  len,
                  gint                   flags,
                  guint8                *control,
                  gsize                  control_len,
                  gboolean               keep_control,
                  const UdgCredentials  *credentials,
                  gboolean               credentials_visible)
{
  UdgDatagram *dg = g_new (UdgDatagram, 1);

  dg->data = g_bytes_new (bytes, len);
  dg->flags = flags;
  dg->has_uid = credentials != NULL;
  dg->uid = credentials != NULL ? credentials->uid : UDG_UID_UNKNOWN;
  dg->has_credentials = credentials != NULL && credentials_visible;
  if (dg->has_credentials)
    dg->credentials = *credentials;
  if (keep_control && control_len > 0)
    {
      dg->control_len = control_len;
      dg->control = g_memdup2 (control, control_len);
      if (!credentials_visible)
        udg_ancillary_strip_credentials (dg->control, &dg->control_len);
    }
  else
    {
      /* Control data only for the credentials: no fd may stay open. */
      udg_ancillary_close_control_fds (control, control_len);
      dg->control = NULL;
      dg->control_len = 0;
    }
  return dg;
}

void
udg_datagram_free (UdgDatagram *dg)
{
  if (dg == NULL)
    return;
  udg_ancillary_close_control_fds (dg->control, dg->control_len);
  g_free (dg->control);
  g_bytes_unref (dg->data);
  g_free (dg);
}

/* Control data nobody asked for: every descriptor is closed, at once, so
 * that peers waiting on them (systemd-notify's BARRIER) go on.  Control
 * data that does not parse is one WARNING naming @peer. */
void
udg_datagram_release_ancillary (UdgDatagram *dg, const UdgAddress *peer)
{
  g_autoptr(UdgAncillary) unused = NULL;
  g_autoptr(GError) error = NULL;

  if (dg->control == NULL)
    return;
  unused = udg_ancillary_new ();
  if (!udg_ancillary_update_from_raw (unused, dg->control, dg->control_len, 0, &error))
    {
      g_autofree gchar *who = udg_address_to_string (peer);

      udg_log (G_LOG_LEVEL_WARNING, error, "From %s: Failed to read ancillary data", who);
    }
  /* The fds are the ancillary object's now: it closes them as it goes. */
  g_clear_pointer (&dg->control, g_free);
  dg->control_len = 0;
}
