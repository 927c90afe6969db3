/* udgram - the service manager's notification protocol (sd_notify); see
 * udg-notify.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

G_BEGIN_DECLS

/* The STATUS= text of the moment, newly allocated; handed by the server. */
typedef gchar *(*UdgNotifyStatusFunc) (gpointer user_data);

/* Owned by the serving thread: a run's conversation with the manager. */
typedef struct
{
  gint fd;                          /* -1 when not notifying */
  UdgAddress *address;              /* (owned) (nullable): $NOTIFY_SOCKET */
  GSource *status;                  /* (owned) (nullable): the timers */
  GSource *watchdog;                /* (owned) (nullable) */
  UdgNotifyStatusFunc status_func;
  gpointer status_data;
} UdgNotifier;

G_GNUC_INTERNAL void udg_notifier_init (UdgNotifier *n);
G_GNUC_INTERNAL gboolean udg_notify_fd_store_wanted (UdgFdStore mode);
G_GNUC_INTERNAL gboolean udg_notifier_ready (UdgNotifier        *n,
                                             gboolean            ready,
                                             gint                store_fd,
                                             const gchar        *store_name,
                                             GMainContext       *context,
                                             UdgNotifyStatusFunc status,
                                             gpointer            status_data);
G_GNUC_INTERNAL void udg_notifier_stopping (UdgNotifier *n);
G_GNUC_INTERNAL void udg_notifier_close (UdgNotifier *n);

G_END_DECLS
