/* udgram - the send budget: fair use of the server socket's send buffer;
 * see udg-send-budget.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

G_BEGIN_DECLS

typedef struct
{
  pthread_mutex_t lock;             /* guards what follows; a leaf */
  GHashTable *peers;                /* (owned): UdgAddress -> PeerDebt */
  guint64 sndbuf;                   /* SO_SNDBUF as the kernel applies it */
  gint fd;
  gint diag;                        /* sock_diag: 1 works, -1 not, 0 untried */
  guint gen;                        /* snapshots begun */
  gboolean snapshotting;
  gint64 snapshot_time;
  gint64 snapshot_cost;             /* how long the last one took, us */
  guint prune_at;
  gint64 last_warning;
} UdgSendBudget;

/* A peer to watch before its reply goes: its socket's inode, and the length
 * of its first datagram when the watch began. */
typedef struct
{
  guint32 ino;
  guint32 first_len;
} UdgSendWatch;

typedef enum
{
  UDG_BUDGET_SEND,                  /* charged: send it */
  UDG_BUDGET_REFUSE,                /* the peer does not read */
  UDG_BUDGET_WATCH,                 /* watch the peer first */
} UdgBudgetVerdict;

G_GNUC_INTERNAL void udg_send_budget_init (UdgSendBudget *budget);
G_GNUC_INTERNAL void udg_send_budget_clear (UdgSendBudget *budget);
G_GNUC_INTERNAL void udg_send_budget_reset (UdgSendBudget *budget, gint fd);
G_GNUC_INTERNAL UdgBudgetVerdict udg_send_budget_charge (UdgSendBudget    *budget,
                                                         const UdgAddress *peer,
                                                         gsize             len,
                                                         UdgSendWatch     *watch);
G_GNUC_INTERNAL UdgBudgetVerdict udg_send_budget_watch (UdgSendBudget      *budget,
                                                        const UdgAddress   *peer,
                                                        gsize               len,
                                                        const UdgSendWatch *watch,
                                                        gint64              deadline,
                                                        GCancellable       *cancellable);
G_GNUC_INTERNAL void udg_send_budget_refund (UdgSendBudget *budget, const UdgAddress *peer, gsize len);
G_GNUC_INTERNAL gboolean udg_send_budget_buffer_full (UdgSendBudget *budget, gsize len);

G_END_DECLS
