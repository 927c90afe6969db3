/* udgram - sending a reply on the server's socket; see udg-send.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"
#include "udg-scheduler.h"
#include "udg-send-budget.h"

G_BEGIN_DECLS

typedef struct
{
  gint fd;                          /* set by udg_sender_setup(), for a run */
  gdouble timeout;                  /* the send timeout */
  UdgSendBudget budget;
  UdgScheduler *scheduler;          /* (unowned): waits count there */
  guint64 *send_errors;             /* (unowned): statistics */
  guint64 *not_reading;
} UdgSender;

G_GNUC_INTERNAL void udg_sender_init (UdgSender    *sender,
                                      UdgScheduler *scheduler,
                                      guint64      *send_errors,
                                      guint64      *not_reading);
G_GNUC_INTERNAL void udg_sender_clear (UdgSender *sender);
G_GNUC_INTERNAL void udg_sender_setup (UdgSender *sender, gint fd, gdouble timeout);
G_GNUC_INTERNAL gboolean udg_sender_send (UdgSender        *sender,
                                          const UdgAddress *peer,
                                          GBytes           *datagram,
                                          const guint8     *control,
                                          gsize             control_len,
                                          GCancellable     *cancellable,
                                          GError          **error);

G_END_DECLS
