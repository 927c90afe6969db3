/* udg-send-budget.c: fair use of the server socket's send buffer.
 *
 * Linux charges a datagram waiting in a peer's receive queue to the socket
 * that SENT it, until the peer reads it, and skips the receive queue's length
 * limit (net.unix.max_dgram_qlen) when the peer is connected to the sender.
 * One connected peer that never reads its replies could therefore fill the
 * server socket's send buffer, and from then on every reply to every peer
 * would fail.  The budget keeps, for each peer, a bound of the bytes of ours
 * it may still hold unread, and refuses replies to a peer found not reading.
 *
 * What the kernel tells, and how it is used:
 *   - SIOCOUTQ on our socket: the bytes not yet read, all peers together
 *     (exact).  No peer holds more than that.
 *   - NETLINK_SOCK_DIAG (a "snapshot" of the AF_UNIX datagram sockets): for
 *     each socket its name, its owner's uid, and whether its receive queue is
 *     empty.  A peer seen with an empty queue has read everything sent to it
 *     before the snapshot began.  The kernel reports a queue's first
 *     datagram's length, not its total, so a bound in bytes stays ours.
 *
 * The rules (docs/design.md, "A peer that does not read"), for a reply of
 * cost c to a peer that may hold U unread bytes, with B the send buffer:
 *   1. U + c <= B / UDG_PEER_FREE_SHARE: sent, no question asked;
 *   2. otherwise, when U + c is more than twice the free share and our
 *      socket has more than a quarter of B unread, it is refused if the
 *      peer's queue was not empty in every snapshot for UDG_NOT_READING_USEC
 *      (and at least five of them), or if it was not empty in the last one
 *      and either its owner's peers hold more than half of B (their bounds
 *      summed, at most what our socket has unread) or our socket has more
 *      than three quarters of B unread;
 *   3. without sock_diag (no unix_diag module), or for a peer the last
 *      snapshot did not see (in another network namespace), only when
 *      U + c > B / 4 while more than half of B is unread.
 * A refused reply fails at once with UDG_ERROR_WOULD_BLOCK; the peer is
 * served again once a snapshot sees its queue empty.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-server-private.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/unix_diag.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* What the kernel charges for a datagram beyond its bytes (the sk_buff
 * and its shared info: 768 bytes for a small datagram on x86-64 Linux 6). */
#define DATAGRAM_OVERHEAD 768
/* Snapshots, one after another, that must see a queue non-empty over
 * UDG_NOT_READING_USEC before its peer is found not reading. */
#define NOT_READING_SNAPSHOTS 5
/* Between two warnings about peers not reading. */
#define WARNING_INTERVAL_USEC (10 * G_USEC_PER_SEC)
/* Threads waiting in the kernel for slow peers at once: a quarter of the
 * pool, at least one and at most this. */
#define SENDERS_WAITING_MAX 16
/* The table is pruned when it grows past this size, then twice its size. */
#define PRUNE_MIN 1024

/* One peer we sent to: a bound of what it holds unread, in two parts so that
 * a snapshot clears only what was sent before it began. */
typedef struct
{
  guint64 old_bytes;        /* sent before generation gen */
  guint64 new_bytes;        /* sent during generation gen */
  guint gen;
  gint64 nonempty_since;    /* start of the snapshots seeing its queue not
                             * empty, one after another; 0 if the last saw
                             * it empty or none saw it */
  guint nonempty_count;     /* how many snapshots in that run */
  uid_t uid;                /* its socket's owner, if has_uid */
  gboolean has_uid;
  gboolean seen;            /* by the last snapshot */
  gboolean warned;          /* in this run of refusals */
} PeerDebt;

/* What a snapshot says of one socket. */
typedef struct
{
  gboolean nonempty;
  gboolean has_uid;
  uid_t uid;
} DiagEntry;

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
  g_clear_pointer (&budget->uid_held, g_hash_table_unref);
  pthread_mutex_destroy (&budget->lock);
}

/* Prepares the socket @fd for a run: the largest send buffer the system
 * allows, the send timeout as the kernel's own wait (sendmsg() without
 * MSG_DONTWAIT then sleeps until the peer reads, see udg_server_send()), and
 * an empty budget. */
void
udg_send_budget_setup (UdgServer *server, gint fd)
{
  UdgSendBudget *budget = &server->budget;
  g_autofree gchar *text = NULL;
  struct timeval tv = { 0 };
  gdouble timeout = server->options.send_timeout;
  gint size = 0;
  socklen_t len = sizeof size;

  if (g_file_get_contents ("/proc/sys/net/core/wmem_max", &text, NULL, NULL))
    {
      size = (gint) CLAMP (g_ascii_strtoll (text, NULL, 10), 0, G_MAXINT / 2);
      if (size > 0)
        setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
  if (timeout > 0)
    {
      timeout = MIN (timeout, (gdouble) G_MAXINT32);
      tv.tv_sec = (time_t) timeout;
      tv.tv_usec = (suseconds_t) ((timeout - (gdouble) tv.tv_sec) * G_USEC_PER_SEC);
      if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1; /* 0 would mean "forever" */
      setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
  /* Reads say MSG_DONTWAIT; the first try of every send too. */
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);

  pthread_mutex_lock (&budget->lock);
  size = 0;
  if (getsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0 || size <= 0)
    size = 212992;
  budget->sndbuf = (guint64) size;
  budget->fd = fd;
  budget->diag = 0;
  budget->snapshot_time = 0;
  budget->snapshot_cost = 0;
  budget->prune_at = PRUNE_MIN;
  budget->senders_waiting = 0;
  g_hash_table_remove_all (budget->peers);
  g_clear_pointer (&budget->uid_held, g_hash_table_unref);
  pthread_mutex_unlock (&budget->lock);
}

/* --- snapshots ----------------------------------------------------------------- */

/* The kernel's netlink macros cast char pointers (which -Wcast-align
 * refuses) and mix signed lengths: the messages and their attributes are
 * walked here with byte offsets, each header read through a gconstpointer. */
static void
parse_diag_message (const struct nlmsghdr *h, GHashTable *sockets)
{
  const struct unix_diag_msg *m = NLMSG_DATA (h);
  const guint8 *p;
  gsize left;
  const guint8 *name = NULL;
  gsize name_len = 0;
  DiagEntry entry = { 0 };
  gboolean have_rqlen = FALSE;

  if (h->nlmsg_len < NLMSG_LENGTH (sizeof *m) || m->udiag_type != SOCK_DGRAM)
    return;
  p = (const guint8 *) (m + 1);
  left = h->nlmsg_len - NLMSG_LENGTH (sizeof *m);
  while (left >= sizeof (struct rtattr))
    {
      const struct rtattr *a = (gconstpointer) p;
      const guint8 *data = p + RTA_LENGTH (0);
      gsize len = a->rta_len, payload;

      if (len < RTA_LENGTH (0) || len > left)
        break;
      payload = len - RTA_LENGTH (0);
      switch (a->rta_type)
        {
        case UNIX_DIAG_NAME:
          name = data;
          name_len = payload;
          break;
        case UNIX_DIAG_RQLEN:
          if (payload >= sizeof (struct unix_diag_rqlen))
            {
              struct unix_diag_rqlen rq;

              memcpy (&rq, data, sizeof rq);
              entry.nonempty = rq.udiag_rqueue > 0;
              have_rqlen = TRUE;
            }
          break;
        case UNIX_DIAG_UID:
          if (payload >= sizeof (guint32))
            {
              guint32 uid;

              memcpy (&uid, data, sizeof uid);
              entry.uid = uid;
              entry.has_uid = TRUE;
            }
          break;
        default:
          break;
        }
      if (RTA_ALIGN (len) >= left)
        break;
      p += RTA_ALIGN (len);
      left -= RTA_ALIGN (len);
    }
  if (name != NULL && name_len > 0 && name_len <= UDG_ADDRESS_MAX && have_rqlen)
    {
      struct sockaddr_un sa = { .sun_family = AF_UNIX };
      UdgAddress *key = g_new0 (UdgAddress, 1);
      DiagEntry *old;

      memcpy (sa.sun_path, name, name_len);
      g_atomic_ref_count_init (&key->ref_count);
      udg_address_init_from_sockaddr (key, &sa, (socklen_t) (offsetof (struct sockaddr_un, sun_path) + name_len));
      /* A name can be on two sockets (a path bound again after unlink):
       * the one not empty counts. */
      old = g_hash_table_lookup (sockets, key);
      if (old != NULL)
        {
          old->nonempty |= entry.nonempty;
          udg_address_unref (key);
        }
      else
        g_hash_table_insert (sockets, key, g_memdup2 (&entry, sizeof entry));
    }
}

/* Dumps the AF_UNIX datagram sockets into @sockets, (element-type UdgAddress
 * DiagEntry): 1 when complete, 0 when this dump failed, -1 when sock_diag
 * is not available at all. */
static gint
take_snapshot (GHashTable *sockets)
{
  struct
  {
    struct nlmsghdr nlh;
    struct unix_diag_req req;
  } request = {
    .nlh = {
      .nlmsg_len = sizeof request,
      .nlmsg_type = SOCK_DIAG_BY_FAMILY,
      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
    },
    .req = {
      .sdiag_family = AF_UNIX,
      .udiag_states = ~0u,
      .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID,
    },
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  g_autofree guint8 *buf = NULL;
  const gsize bufsize = 65536; /* more than a dump's message */
  gint result = 0;
  gint fd;

  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    return -1;
  if (sendto (fd, &request, sizeof request, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      close (fd);
      return -1;
    }
  buf = g_malloc (bufsize);
  for (;;)
    {
      ssize_t n = recv (fd, buf, bufsize, 0);
      gsize off = 0;
      gboolean more = TRUE;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      while (more && off + sizeof (struct nlmsghdr) <= (gsize) n)
        {
          const struct nlmsghdr *h = (gconstpointer) (buf + off);

          if (h->nlmsg_len < sizeof *h || h->nlmsg_len > (gsize) n - off)
            break; /* malformed: the dump is not complete */
          if (h->nlmsg_flags & NLM_F_DUMP_INTR)
            more = FALSE;
          else if (h->nlmsg_type == NLMSG_DONE)
            {
              result = 1;
              more = FALSE;
            }
          else if (h->nlmsg_type == NLMSG_ERROR)
            {
              /* The kernel has no unix_diag: ENOENT. */
              const struct nlmsgerr *e = NLMSG_DATA (h);

              if (h->nlmsg_len >= NLMSG_LENGTH (sizeof *e) && (e->error == -ENOENT || e->error == -EOPNOTSUPP))
                result = -1;
              more = FALSE;
            }
          else if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
            parse_diag_message (h, sockets);
          off += NLMSG_ALIGN (h->nlmsg_len);
        }
      if (!more || off < (gsize) n)
        break;
    }
  close (fd);
  return result;
}

/* Applies a snapshot of generation @gen begun at @began, with the lock held:
 * a peer seen empty read what was sent before; a peer not seen is gone (its
 * queue with it) or in another network namespace, where the snapshot cannot
 * see: its bound is lowered to what our socket has unread, @outq, and it
 * is forgotten once that is within its free share.  Then the bytes held by
 * each uid's peers not seen empty. */
static void
apply_snapshot_locked (UdgSendBudget *budget, GHashTable *sockets, guint gen, gint64 began, guint64 outq)
{
  GHashTableIter iter;
  gpointer key, value;

  g_clear_pointer (&budget->uid_held, g_hash_table_unref);
  budget->uid_held = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  g_hash_table_iter_init (&iter, budget->peers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      PeerDebt *d = value;
      DiagEntry *e = g_hash_table_lookup (sockets, key);

      d->seen = e != NULL;
      if (e == NULL)
        {
          debt_clamp (d, outq);
          if (debt_total (d) <= budget->sndbuf / UDG_PEER_FREE_SHARE)
            g_hash_table_iter_remove (&iter);
          continue;
        }
      if (!e->nonempty)
        {
          if (d->gen < gen)
            {
              g_hash_table_iter_remove (&iter);
              continue;
            }
          d->old_bytes = 0;
          d->nonempty_since = 0;
          d->nonempty_count = 0;
          d->warned = FALSE;
        }
      else
        {
          if (d->nonempty_since == 0)
            d->nonempty_since = began;
          d->nonempty_count++;
        }
      d->has_uid = e->has_uid;
      d->uid = e->uid;
      if (d->nonempty_since != 0 && d->has_uid)
        {
          guint64 *held = g_hash_table_lookup (budget->uid_held, GUINT_TO_POINTER (d->uid));

          if (held == NULL)
            {
              held = g_new0 (guint64, 1);
              g_hash_table_insert (budget->uid_held, GUINT_TO_POINTER (d->uid), held);
            }
          *held += debt_total (d);
        }
    }
}

static guint64 unread_total (UdgSendBudget *budget);

/* Takes a snapshot if none was taken for UDG_SNAPSHOT_INTERVAL_USEC (or ten
 * times what the last one took) and none is being taken, with the lock
 * held; the lock is released meanwhile. */
static void
refresh_locked (UdgSendBudget *budget, gint64 now, gboolean force)
{
  GHashTable *sockets;
  guint gen;
  gint taken;

  if (budget->diag < 0 || budget->snapshotting ||
      (!force && now - budget->snapshot_time < MAX (UDG_SNAPSHOT_INTERVAL_USEC, 10 * budget->snapshot_cost)))
    return;
  budget->snapshotting = TRUE;
  gen = ++budget->gen;
  pthread_mutex_unlock (&budget->lock);
  sockets = g_hash_table_new_full (udg_address_hash, udg_address_equal,
                                   (GDestroyNotify) udg_address_unref, g_free);
  taken = take_snapshot (sockets);
  pthread_mutex_lock (&budget->lock);
  budget->snapshotting = FALSE;
  budget->snapshot_time = now;
  /* On a machine with many sockets a dump takes long: at most a tenth of
   * one thread's time goes to them. */
  budget->snapshot_cost = g_get_monotonic_time () - now;
  if (taken < 0 && budget->diag == 0)
    {
      udg_log (G_LOG_LEVEL_INFO, NULL,
               _("sock_diag is not available for AF_UNIX sockets (no unix_diag module?): "
                 "peers that do not read their replies are found from the send buffer alone"));
      budget->diag = -1;
    }
  else if (taken > 0)
    {
      budget->diag = 1;
      apply_snapshot_locked (budget, sockets, gen, now, unread_total (budget));
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

/* The rules 2 and 3 above, for a peer past its free share. */
static gboolean
refuse_locked (UdgSendBudget *budget, PeerDebt *d, guint64 cost, guint64 outq, gint64 now)
{
  guint64 b = budget->sndbuf;
  guint64 held;

  if (budget->diag < 0 || !d->seen)
    return debt_total (d) + cost > b / 4 && outq > b / 2;
  if (d->nonempty_since == 0)
    return FALSE;
  /* Only the ones that may hold twice their free share, when more than a
   * quarter of the buffer is unread: a client that reads, but a little
   * behind the replies, is seen non-empty too, and holds less. */
  if (debt_total (d) + cost <= b / UDG_PEER_FREE_SHARE * 2 || outq <= b / 4)
    return FALSE;
  /* Never seen empty for a while: it does not read. */
  if (now - d->nonempty_since >= UDG_NOT_READING_USEC && d->nonempty_count >= NOT_READING_SNAPSHOTS)
    return TRUE;
  if (outq > b / 4 * 3)
    return TRUE;
  if (d->has_uid && budget->uid_held != NULL)
    {
      guint64 *p = g_hash_table_lookup (budget->uid_held, GUINT_TO_POINTER (d->uid));

      /* Bounds, summed: no more than our socket has unread in all. */
      held = MIN (p != NULL ? *p : 0, outq);
      if (held > b / 2)
        return TRUE;
    }
  return FALSE;
}

static void
warn_refused (UdgServer *server, const UdgAddress *peer, const PeerDebt *d, guint64 outq)
{
  g_autofree gchar *who = udg_address_to_string (peer);

  if (d->has_uid)
    udg_log (G_LOG_LEVEL_WARNING, NULL,
             _("%s (uid %u) does not read its replies: they fail at once until it reads "
               "(%" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT " bytes of the send buffer are unread)"),
             who, (guint) d->uid, outq, server->budget.sndbuf);
  else
    udg_log (G_LOG_LEVEL_WARNING, NULL,
             _("%s does not read its replies: they fail at once until it reads "
               "(%" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT " bytes of the send buffer are unread)"),
             who, outq, server->budget.sndbuf);
}

/* @peer's entry, made if there is none, with the lock held. */
static PeerDebt *
lookup_or_add_locked (UdgSendBudget *budget, const UdgAddress *peer)
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
prune_locked (UdgSendBudget *budget)
{
  refresh_locked (budget, g_get_monotonic_time (), TRUE);
  if (budget->diag < 0)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, budget->peers);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (debt_total (value) <= budget->sndbuf / UDG_PEER_FREE_SHARE)
          g_hash_table_iter_remove (&iter);
    }
  budget->prune_at = MAX (PRUNE_MIN, 2 * g_hash_table_size (budget->peers));
}

/* Asks to send @len bytes to @peer: TRUE (and charged) when it may go,
 * FALSE with UDG_ERROR_WOULD_BLOCK when the peer is found not reading. */
gboolean
udg_send_budget_charge (UdgServer *server, const UdgAddress *peer, gsize len, GError **error)
{
  UdgSendBudget *budget = &server->budget;
  guint64 cost = (guint64) len + DATAGRAM_OVERHEAD;
  PeerDebt *d;
  guint64 outq;
  gint64 now;
  gboolean warn = FALSE;

  pthread_mutex_lock (&budget->lock);
  d = lookup_or_add_locked (budget, peer);
  if (g_hash_table_size (budget->peers) > budget->prune_at)
    {
      prune_locked (budget);
      d = lookup_or_add_locked (budget, peer);
    }
  if (debt_total (d) + cost > budget->sndbuf / UDG_PEER_FREE_SHARE)
    {
      outq = unread_total (budget);
      debt_clamp (d, outq);
      if (debt_total (d) + cost > budget->sndbuf / UDG_PEER_FREE_SHARE)
        {
          now = g_get_monotonic_time ();
          refresh_locked (budget, now, FALSE);
          /* The snapshot may have forgotten it (read, or gone): anew. */
          d = lookup_or_add_locked (budget, peer);
          if (refuse_locked (budget, d, cost, outq, now))
            {
              warn = !d->warned && now - budget->last_warning >= WARNING_INTERVAL_USEC;
              d->warned = TRUE;
              if (warn)
                {
                  budget->last_warning = now;
                  warn_refused (server, peer, d, outq);
                }
              pthread_mutex_unlock (&budget->lock);
              UDG_STAT_ADD (server, not_reading, 1);
              {
                g_autofree gchar *who = udg_address_to_string (peer);

                g_set_error (error, UDG_ERROR, UDG_ERROR_WOULD_BLOCK,
                             _("The peer %s does not read its replies: the datagram was not sent"), who);
              }
              return FALSE;
            }
        }
    }
  if (d->gen != budget->gen)
    {
      d->old_bytes += d->new_bytes;
      d->new_bytes = 0;
      d->gen = budget->gen;
    }
  d->new_bytes += cost;
  pthread_mutex_unlock (&budget->lock);
  return TRUE;
}

/* Gives back what udg_send_budget_charge() counted for a datagram that was
 * not sent after all. */
void
udg_send_budget_refund (UdgServer *server, const UdgAddress *peer, gsize len)
{
  UdgSendBudget *budget = &server->budget;
  guint64 cost = (guint64) len + DATAGRAM_OVERHEAD;
  PeerDebt *d;

  pthread_mutex_lock (&budget->lock);
  d = g_hash_table_lookup (budget->peers, peer);
  if (d != NULL)
    debt_clamp (d, debt_total (d) > cost ? debt_total (d) - cost : 0);
  pthread_mutex_unlock (&budget->lock);
}

/* May this thread wait in the kernel for a slow peer?  At most a quarter of
 * the pool's threads wait so at once (at least one, at most
 * SENDERS_WAITING_MAX), so that slow peers cannot take the pool: @delta +1
 * asks (TRUE: granted), -1 ends the wait. */
gboolean
udg_send_budget_wait (UdgServer *server, gint delta)
{
  UdgSendBudget *budget = &server->budget;
  guint limit = CLAMP (server->options.max_threads / 4, 1, SENDERS_WAITING_MAX);
  gboolean granted = TRUE;

  pthread_mutex_lock (&budget->lock);
  if (delta > 0 && budget->senders_waiting >= limit)
    granted = FALSE;
  else
    budget->senders_waiting += delta;
  pthread_mutex_unlock (&budget->lock);
  return granted;
}
