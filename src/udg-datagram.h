/* udgram - a datagram the server received, waiting in a client's mailbox;
 * see udg-datagram.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

G_BEGIN_DECLS

typedef struct
{
  GBytes *data;                /* (owned) */
  guint8 *control;             /* (owned) (nullable): raw control data, for a
                                * handler that asks; owns its fds */
  gsize control_len;
  gint flags;                  /* recvmsg() flags */
  gboolean has_credentials;    /* for the handler: when it asked for them */
  UdgCredentials credentials;  /* the kernel's */
  gboolean has_uid;            /* for the server: the sender's uid */
  uid_t uid;
} UdgDatagram;

#define UDG_DATAGRAM_SIZE(dg) ((guint64) g_bytes_get_size ((dg)->data))

G_GNUC_INTERNAL UdgDatagram *udg_datagram_new (gconstpointer          bytes,
                                               gsize                  len,
                                               gint                   flags,
                                               guint8                *control,
                                               gsize                  control_len,
                                               gboolean               keep_control,
                                               const UdgCredentials  *credentials,
                                               gboolean               credentials_visible);
G_GNUC_INTERNAL void udg_datagram_free (UdgDatagram *dg);
G_GNUC_INTERNAL void udg_datagram_release_ancillary (UdgDatagram *dg, const UdgAddress *peer);

G_END_DECLS
