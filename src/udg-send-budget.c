/* udgram - the send budget: fair use of the server socket's send buffer
 *
 * The policy alone: which reply may go, which peer to watch first, which
 * peer is refused.  The sending and the waiting are udg-send.c's.
 * Linux charges a datagram waiting in a peer's receive queue to the socket
 * that SENT it, until the peer reads it, and skips the receive queue's length
 * limit (net.unix.max_dgram_qlen) when the peer is connected to the sender.
 * One connected peer that never reads its replies could therefore fill the
 * server socket's send buffer, and from then on every reply to every peer
 * would fail.  The budget keeps, for each peer, a bound of the bytes of ours
 * it may still hold unread, and refuses replies to a peer shown not to read.
 *
 * What the kernel tells (docs/design.md, "A peer that does not read"):
 *   - SIOCOUTQ on our socket: the bytes not yet read, all peers together
 *     (exact).  No peer holds more than that.
 *   - sock_diag (udg-sock-diag.c): for each socket, whether its receive
 *     queue is empty and the length of its first datagram.  A peer seen
 *     empty has read everything sent to it before the look.  Nothing tells
 *     how much a peer that is never empty has read: a client behind a busy
 *     server, or one that keeps some replies queued, is never seen empty,
 *     yet it reads.  So the budget does not judge from snapshots alone: it
 *     stops sending to the peer and watches it.
 *
 * The rules, for a reply of cost c to a peer that may hold U unread bytes,
 * with B the send buffer:
 *   1. U + c <= B / UDG_PEER_FREE_SHARE: sent, no question asked;
 *   2. a peer found not reading (below) is refused at once, until a
 *      snapshot sees its queue empty;
 *   3. otherwise, when U + c is more than twice the free share, our socket
 *      has more than a quarter of B unread, and the last snapshot saw the
 *      peer's queue non-empty, the reply waits while the peer is watched:
 *      its socket alone is looked at (a sock_diag query by inode) every few
 *      milliseconds, up to the send timeout.  Nothing more is sent to it
 *      meanwhile, so a peer that reads empties its queue (or its first
 *      datagram changes): it was reading, the reply goes, and it is not
 *      watched again for UDG_NOT_READING_USEC.  A peer whose queue stays
 *      as it was does not read: the reply is refused, and so are the next
 *      ones until it reads;
 *   4. without sock_diag (no unix_diag module), or for a peer the last
 *      snapshot did not see (in another network namespace), only when
 *      U + c > B / 4 while more than half of B is unread.
 * A refused reply fails with UDG_ERROR_WOULD_BLOCK, counted in not_reading
 * by the sender.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-send-budget.h"
#include "udg-sock-diag.h"
#include "udg-tuning.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* One peer we sent to: a bound of what it holds unread, in two parts so that
 * a snapshot clears only what was sent before it began. */
typedef struct
{
  guint64 old_bytes;        /* sent before generation gen */
  guint64 new_bytes;        /* sent during generation gen */
  guint gen;
  guint32 ino;              /* its socket's inode, if seen */
  guint32 first_len;        /* its first datagram's length at the last
                             * snapshot; 0: empty */
  gboolean seen;            /* by the last snapshot */
  gboolean not_reading;     /* watched, and its queue did not move */
  gint64 reading_at;        /* when it was last shown reading */
  gboolean has_uid;
  uid_t uid;                /* its socket's owner */
  gboolean warned;          /* in this run of refusals */
} PeerDebt;

static guint64
debt_total (const PeerDebt *d)
{
  return d->old_bytes + d->new_bytes;
}

/* Lowers the bound to @limit, the older bytes first. */
static void
debt_clamp (PeerDebt *d, guint64 limit)
{
  if (debt_total (d) <= limit)
    return;
  if (d->new_bytes > limit)
    {
      d->new_bytes = limit;
      d->old_bytes = 0;
    }
  else
    d->old_bytes = limit - d->new_bytes;
}

void
udg_send_budget_init (UdgSendBudget *budget)
{
  pthread_mutex_init (&budget->lock, NULL);
  budget->peers = g_hash_table_new_full (udg_address_hash, udg_address_equal,
                                         (GDestroyNotify) udg_address_unref, g_free);
}

void
udg_send_budget_clear (UdgSendBudget *budget)
{
  g_clear_pointer (&budget->peers, g_hash_table_unref);
  pthread_mutex_destroy (&budget->lock);
}

/* An empty budget for the socket @fd, whose send buffer the sender sized. */
void
udg_send_budget_reset (UdgSendBudget *budget, gint fd)
{
  gint size = 0;
  socklen_t len = sizeof size;

  pthread_mutex_lock (&budget->lock);
  if (getsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0 || size <= 0)
    size = 212992;
  budget->sndbuf = (guint64) size;
  budget->fd = fd;
  budget->diag = 0;
  budget->snapshot_time = 0;
  budget->snapshot_cost = 0;
  budget->prune_at = UDG_BUDGET_PRUNE_MIN;
  g_hash_table_remove_all (budget->peers);
  pthread_mutex_unlock (&budget->lock);
}

/* --- snapshots ----------------------------------------------------------------- */

/* Applies a snapshot of generation @gen, with the lock held: a peer seen
 * empty read what was sent before, and is forgotten if nothing was sent
 * since; a peer not seen is gone (its queue with it) or in another network
 * namespace, where the snapshot cannot see: its bound is lowered to what
 * our socket has unread, @outq, and it is forgotten once that is within its
 * free share. */
static void
apply_snapshot_unlocked (UdgSendBudget *budget, GHashTable *sockets, guint gen, guint64 outq)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, budget->peers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      PeerDebt *d = value;
      UdgSockDiagEntry *e = g_hash_table_lookup (sockets, key);

      d->seen = e != NULL;
      if (e == NULL)
        {
          debt_clamp (d, outq);
          if (debt_total (d) <= budget->sndbuf / UDG_PEER_FREE_SHARE)
            g_hash_table_iter_remove (&iter);
          continue;
        }
      if (e->first_len == 0)
        {
          if (d->gen < gen)
            {
              g_hash_table_iter_remove (&iter);
              continue;
            }
          d->old_bytes = 0;
          d->not_reading = FALSE;
          d->warned = FALSE;
        }
      d->ino = e->ino;
      d->first_len = e->first_len;
      d->has_uid = e->has_uid;
      d->uid = e->uid;
    }
}

static guint64 unread_total (UdgSendBudget *budget);

/* Takes a snapshot if none was taken for UDG_SNAPSHOT_INTERVAL_USEC (or ten
 * times what the last one took) and none is being taken, with the lock
 * held; the lock is released meanwhile. */
static void
refresh_unlocked (UdgSendBudget *budget, gint64 now, gboolean force)
{
  GHashTable *sockets;
  UdgSockDiagResult taken;
  guint gen;

  if (budget->diag < 0 || budget->snapshotting ||
      (!force && now - budget->snapshot_time < MAX (UDG_SNAPSHOT_INTERVAL_USEC, 10 * budget->snapshot_cost)))
    return;
  budget->snapshotting = TRUE;
  gen = ++budget->gen;
  pthread_mutex_unlock (&budget->lock);
  sockets = udg_sock_diag_table_new ();
  taken = udg_sock_diag_dump (sockets);
  pthread_mutex_lock (&budget->lock);
  budget->snapshotting = FALSE;
  budget->snapshot_time = now;
  /* On a machine with many sockets a dump takes long: at most a tenth of
   * one thread's time goes to them. */
  budget->snapshot_cost = g_get_monotonic_time () - now;
  if (taken == UDG_SOCK_DIAG_UNAVAILABLE && budget->diag == 0)
    {
      udg_log (G_LOG_LEVEL_INFO, NULL,
               _("sock_diag is not available for AF_UNIX sockets (no unix_diag module?): "
                 "peers that do not read their replies are found from the send buffer alone"));
      budget->diag = -1;
    }
  else if (taken == UDG_SOCK_DIAG_DONE)
    {
      budget->diag = 1;
      apply_snapshot_unlocked (budget, sockets, gen, unread_total (budget));
    }
  g_hash_table_unref (sockets);
}

/* The bytes not yet read of all that our socket sent. */
static guint64
unread_total (UdgSendBudget *budget)
{
  int outq = 0;

  if (ioctl (budget->fd, SIOCOUTQ, &outq) < 0 || outq < 0)
    return budget->sndbuf;
  return (guint64) outq;
}

/* --- watching a peer ------------------------------------------------------------- */

typedef enum
{
  WATCH_READING,            /* it read: empty, or its first datagram changed */
  WATCH_NOT_READING,        /* its queue stayed as it was */
  WATCH_UNKNOWN,            /* the kernel could not say */
} WatchResult;

/* Looks at the peer's socket until it shows it reads, @deadline passes or
 * @cancellable is cancelled; the caller sends it nothing meanwhile. */
static WatchResult
watch_peer (const UdgSendWatch *watch, gint64 deadline, GCancellable *cancellable)
{
  gint64 step = 1000;

  for (;;)
    {
      UdgSockDiagEntry e;

      switch (udg_sock_diag_query (watch->ino, &e))
        {
        case UDG_SOCK_DIAG_DONE:
          if (e.first_len == 0 || e.first_len != watch->first_len)
            return WATCH_READING;
          break;
        case UDG_SOCK_DIAG_GONE:
          return WATCH_READING; /* closed: its queue is gone, nothing held */
        case UDG_SOCK_DIAG_MORE:
        case UDG_SOCK_DIAG_UNAVAILABLE:
        case UDG_SOCK_DIAG_BROKEN:
        default:
          return WATCH_UNKNOWN;
        }
      if (g_get_monotonic_time () >= deadline || g_cancellable_is_cancelled (cancellable))
        return WATCH_NOT_READING;
      /* The kernel wakes no one when a peer reads a datagram of ours (our
       * socket's write space wakes only below a quarter of the buffer):
       * looking again after a while is the only way. */
      g_usleep ((gulong) MIN (step, MAX (1, deadline - g_get_monotonic_time ())));
      step = MIN (step * 2, UDG_WATCH_STEP_MAX_USEC);
    }
}

/* --- the rules ------------------------------------------------------------------- */

static void
warn_refused (UdgSendBudget *budget, const UdgAddress *peer, const PeerDebt *d, guint64 outq)
{
  g_autofree gchar *who = udg_address_to_string (peer);

  if (d->has_uid)
    udg_log (G_LOG_LEVEL_WARNING, NULL,
             _("%s (uid %u) does not read its replies: they fail at once until it reads "
               "(%" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT " bytes of the send buffer are unread)"),
             who, (guint) d->uid, outq, budget->sndbuf);
  else
    udg_log (G_LOG_LEVEL_WARNING, NULL,
             _("%s does not read its replies: they fail at once until it reads "
               "(%" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT " bytes of the send buffer are unread)"),
             who, outq, budget->sndbuf);
}

/* @peer's entry, made if there is none, with the lock held. */
static PeerDebt *
lookup_or_add_unlocked (UdgSendBudget *budget, const UdgAddress *peer)
{
  PeerDebt *d = g_hash_table_lookup (budget->peers, peer);

  if (d == NULL)
    {
      d = g_new0 (PeerDebt, 1);
      d->gen = budget->gen;
      g_hash_table_insert (budget->peers, udg_address_dup (peer), d);
    }
  return d;
}

/* Rule 1 lets much go unlooked at; the table must not grow with every peer
 * ever met.  A snapshot forgets the peers gone or seen empty; without
 * sock_diag, the ones within their free share are forgotten. */
static void
prune_unlocked (UdgSendBudget *budget)
{
  refresh_unlocked (budget, g_get_monotonic_time (), TRUE);
  if (budget->diag < 0)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, budget->peers);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (debt_total (value) <= budget->sndbuf / UDG_PEER_FREE_SHARE)
          g_hash_table_iter_remove (&iter);
    }
  budget->prune_at = MAX (UDG_BUDGET_PRUNE_MIN, 2 * g_hash_table_size (budget->peers));
}

/* The rules 2 to 4, for a peer past its free share, with the lock held. */
static UdgBudgetVerdict
decide_unlocked (UdgSendBudget *budget, PeerDebt *d, guint64 cost, guint64 outq, gint64 now)
{
  guint64 b = budget->sndbuf;

  if (budget->diag < 0 || !d->seen)
    return debt_total (d) + cost > b / 4 && outq > b / 2 ? UDG_BUDGET_REFUSE : UDG_BUDGET_SEND;
  if (d->not_reading)
    return UDG_BUDGET_REFUSE;
  /* Watched only when it may hold twice its free share, the buffer is
   * under pressure, the last look found its queue non-empty, and it was
   * not shown reading a moment ago. */
  if (debt_total (d) + cost <= b / UDG_PEER_FREE_SHARE * 2 || outq <= b / 4 || d->first_len == 0 ||
      (d->reading_at != 0 && now - d->reading_at < UDG_NOT_READING_USEC))
    return UDG_BUDGET_SEND;
  return UDG_BUDGET_WATCH;
}

/* With the lock held: @peer is refused, warned about once in a run of
 * refusals; the lock is released. */
static UdgBudgetVerdict
refuse_unlocked (UdgSendBudget *budget, const UdgAddress *peer, PeerDebt *d, guint64 outq, gint64 now)
{
  if (!d->warned && now - budget->last_warning >= UDG_NOT_READING_WARNING_USEC)
    {
      budget->last_warning = now;
      warn_refused (budget, peer, d, outq);
    }
  d->warned = TRUE;
  pthread_mutex_unlock (&budget->lock);
  return UDG_BUDGET_REFUSE;
}

/* With the lock held: @len bytes charged to @d; the lock is released. */
static UdgBudgetVerdict
charge_unlocked (UdgSendBudget *budget, PeerDebt *d, gsize len)
{
  if (d->gen != budget->gen)
    {
      d->old_bytes += d->new_bytes;
      d->new_bytes = 0;
      d->gen = budget->gen;
    }
  d->new_bytes += (guint64) len + UDG_DATAGRAM_OVERHEAD;
  pthread_mutex_unlock (&budget->lock);
  return UDG_BUDGET_SEND;
}

/* May @len bytes go to @peer?  UDG_BUDGET_SEND (and charged),
 * UDG_BUDGET_REFUSE when the peer was shown not reading, or
 * UDG_BUDGET_WATCH with what to watch (udg_send_budget_watch()). */
UdgBudgetVerdict
udg_send_budget_charge (UdgSendBudget *budget, const UdgAddress *peer, gsize len, UdgSendWatch *watch)
{
  guint64 cost = (guint64) len + UDG_DATAGRAM_OVERHEAD;
  PeerDebt *d;

  pthread_mutex_lock (&budget->lock);
  d = lookup_or_add_unlocked (budget, peer);
  if (g_hash_table_size (budget->peers) > budget->prune_at)
    {
      prune_unlocked (budget);
      d = lookup_or_add_unlocked (budget, peer);
    }
  if (debt_total (d) + cost > budget->sndbuf / UDG_PEER_FREE_SHARE)
    {
      guint64 outq = unread_total (budget);

      debt_clamp (d, outq);
      if (debt_total (d) + cost > budget->sndbuf / UDG_PEER_FREE_SHARE)
        {
          gint64 now = g_get_monotonic_time ();

          refresh_unlocked (budget, now, FALSE);
          /* The snapshot may have forgotten it (read, or gone): anew. */
          d = lookup_or_add_unlocked (budget, peer);
          switch (decide_unlocked (budget, d, cost, outq, now))
            {
            case UDG_BUDGET_REFUSE:
              return refuse_unlocked (budget, peer, d, outq, now);
            case UDG_BUDGET_WATCH:
              watch->ino = d->ino;
              watch->first_len = d->first_len;
              pthread_mutex_unlock (&budget->lock);
              return UDG_BUDGET_WATCH;
            case UDG_BUDGET_SEND:
            default:
              break;
            }
        }
    }
  return charge_unlocked (budget, d, len);
}

/* Watches @peer (what udg_send_budget_charge() said) until it shows it
 * reads or @deadline passes, sleeping meanwhile; then UDG_BUDGET_SEND (and
 * charged) or UDG_BUDGET_REFUSE, then and until a snapshot sees its queue
 * empty. */
UdgBudgetVerdict
udg_send_budget_watch (UdgSendBudget      *budget,
                       const UdgAddress   *peer,
                       gsize               len,
                       const UdgSendWatch *watch,
                       gint64              deadline,
                       GCancellable       *cancellable)
{
  WatchResult watched = watch_peer (watch, deadline, cancellable);
  gint64 now = g_get_monotonic_time ();
  PeerDebt *d;

  pthread_mutex_lock (&budget->lock);
  d = lookup_or_add_unlocked (budget, peer);
  if (watched == WATCH_NOT_READING)
    {
      d->not_reading = TRUE;
      return refuse_unlocked (budget, peer, d, unread_total (budget), now);
    }
  if (watched == WATCH_READING)
    {
      /* It read what was queued when the watch began, or at least some of
       * it: its bound starts again. */
      d->reading_at = now;
      d->old_bytes = 0;
      d->new_bytes = 0;
    }
  return charge_unlocked (budget, d, len);
}

/* Whether a send of @len bytes that failed with EAGAIN met a full send
 * buffer (our socket's: every peer's unread replies together), rather than
 * the peer's full queue. */
gboolean
udg_send_budget_buffer_full (UdgSendBudget *budget, gsize len)
{
  gboolean full;

  pthread_mutex_lock (&budget->lock);
  full = unread_total (budget) + len + UDG_DATAGRAM_OVERHEAD > budget->sndbuf;
  pthread_mutex_unlock (&budget->lock);
  return full;
}

/* Gives back what udg_send_budget_charge() counted for a datagram that was
 * not sent after all. */
void
udg_send_budget_refund (UdgSendBudget *budget, const UdgAddress *peer, gsize len)
{
  guint64 cost = (guint64) len + UDG_DATAGRAM_OVERHEAD;
  PeerDebt *d;

  pthread_mutex_lock (&budget->lock);
  d = g_hash_table_lookup (budget->peers, peer);
  if (d != NULL)
    debt_clamp (d, debt_total (d) > cost ? debt_total (d) - cost : 0);
  pthread_mutex_unlock (&budget->lock);
}
