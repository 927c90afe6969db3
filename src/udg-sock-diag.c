/* udgram - what the kernel says of the AF_UNIX datagram sockets (sock_diag)
 *
 * A NETLINK_SOCK_DIAG client: a dump of every AF_UNIX datagram socket of
 * the network namespace (udg_sock_diag_dump()), and a query of one socket
 * by its inode (udg_sock_diag_query()).  For each socket: its name, its
 * inode, its owner's uid, and the length of the first datagram in its
 * receive queue (0 when the queue is empty: the kernel reports the first
 * datagram's length, not the queue's total).  The send budget uses it to
 * tell a peer that reads from one that does not, and nothing else.
 *
 * The kernel's replies are parsed by udg_sock_diag_parse(), which takes
 * any bytes (it is fuzzed, tests/fuzz/fuzz-sock-diag.c): messages and
 * attributes are walked by byte offsets, each length checked against what
 * is left, each header copied out before it is read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-sock-diag.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/un.h>

/* More than a dump's message: the kernel fills up to a page at a time. */
#define RECV_BUFFER (64 * 1024)

/* One unix_diag message (whose header @m was copied out) with @len bytes
 * of attributes at @attrs: into @entry and @name; FALSE when it is not a
 * datagram socket or has no queue length. */
static gboolean
parse_socket (const struct unix_diag_msg *m,
              const guint8               *attrs,
              gsize                       len,
              UdgSockDiagEntry           *entry,
              const guint8              **name,
              gsize                      *name_len)
{
  gboolean have_rqlen = FALSE;

  memset (entry, 0, sizeof *entry);
  *name = NULL;
  *name_len = 0;
  if (m->udiag_type != SOCK_DGRAM)
    return FALSE;
  entry->ino = m->udiag_ino;
  while (len >= sizeof (struct rtattr))
    {
      struct rtattr a;
      gsize payload;

      memcpy (&a, attrs, sizeof a);
      if (a.rta_len < RTA_LENGTH (0) || a.rta_len > len)
        break;
      payload = a.rta_len - RTA_LENGTH (0);
      switch (a.rta_type)
        {
        case UNIX_DIAG_NAME:
          *name = attrs + RTA_LENGTH (0);
          *name_len = payload;
          break;
        case UNIX_DIAG_RQLEN:
          if (payload >= sizeof (struct unix_diag_rqlen))
            {
              struct unix_diag_rqlen rq;

              memcpy (&rq, attrs + RTA_LENGTH (0), sizeof rq);
              entry->first_len = rq.udiag_rqueue;
              have_rqlen = TRUE;
            }
          break;
        case UNIX_DIAG_UID:
          if (payload >= sizeof (guint32))
            {
              guint32 uid;

              memcpy (&uid, attrs + RTA_LENGTH (0), sizeof uid);
              entry->uid = uid;
              entry->has_uid = TRUE;
            }
          break;
        default:
          break;
        }
      if (RTA_ALIGN (a.rta_len) >= len)
        break;
      attrs += RTA_ALIGN (a.rta_len);
      len -= RTA_ALIGN (a.rta_len);
    }
  return have_rqlen;
}

/* A socket's entry into @sockets under its name, when it has one. */
static void
add_named (GHashTable *sockets, const UdgSockDiagEntry *entry, const guint8 *name, gsize name_len)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  UdgAddress *key;
  UdgSockDiagEntry *old;

  if (name == NULL || name_len == 0 || name_len > UDG_ADDRESS_MAX)
    return;
  memcpy (sa.sun_path, name, name_len);
  key = g_new0 (UdgAddress, 1);
  g_atomic_ref_count_init (&key->ref_count);
  udg_address_init_from_sockaddr (key, &sa, (socklen_t) (offsetof (struct sockaddr_un, sun_path) + name_len));
  /* A name can be on two sockets (a path bound again after unlink): the
   * one with a queue counts. */
  old = g_hash_table_lookup (sockets, key);
  if (old != NULL)
    {
      if (old->first_len == 0)
        *old = *entry;
      udg_address_unref (key);
    }
  else
    g_hash_table_insert (sockets, key, g_memdup2 (entry, sizeof *entry));
}

/*
 * udg_sock_diag_parse:
 * @buf: bytes the kernel sent, any bytes
 * @len: their length
 * @sockets: (element-type UdgAddress UdgSockDiagEntry): where the named
 *   sockets go
 * @one: (nullable): where a single socket goes (a query's reply)
 *
 * Returns: %UDG_SOCK_DIAG_MORE when more messages are to come,
 *   %UDG_SOCK_DIAG_DONE at the end of a dump or after a query's reply,
 *   %UDG_SOCK_DIAG_GONE when the kernel says no such socket,
 *   %UDG_SOCK_DIAG_UNAVAILABLE when it has no unix_diag, and
 *   %UDG_SOCK_DIAG_BROKEN for anything malformed or interrupted.
 */
UdgSockDiagResult
udg_sock_diag_parse (const guint8 *buf, gsize len, GHashTable *sockets, UdgSockDiagEntry *one)
{
  gsize off = 0;

  while (off + sizeof (struct nlmsghdr) <= len)
    {
      struct nlmsghdr h;
      gsize payload;

      memcpy (&h, buf + off, sizeof h);
      if (h.nlmsg_len < sizeof h || h.nlmsg_len > len - off)
        return UDG_SOCK_DIAG_BROKEN;
      payload = h.nlmsg_len - NLMSG_LENGTH (0);
      if (h.nlmsg_flags & NLM_F_DUMP_INTR)
        return UDG_SOCK_DIAG_BROKEN;
      if (h.nlmsg_type == NLMSG_DONE)
        return UDG_SOCK_DIAG_DONE;
      if (h.nlmsg_type == NLMSG_ERROR)
        {
          struct nlmsgerr e;

          if (payload < sizeof e)
            return UDG_SOCK_DIAG_BROKEN;
          memcpy (&e, buf + off + NLMSG_LENGTH (0), sizeof e);
          if (e.error == -ENOENT && one != NULL)
            return UDG_SOCK_DIAG_GONE;
          if (e.error == -ENOENT || e.error == -EOPNOTSUPP)
            return UDG_SOCK_DIAG_UNAVAILABLE;
          return UDG_SOCK_DIAG_BROKEN;
        }
      if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY && payload >= sizeof (struct unix_diag_msg))
        {
          struct unix_diag_msg m;
          UdgSockDiagEntry entry;
          const guint8 *name;
          gsize name_len;

          memcpy (&m, buf + off + NLMSG_LENGTH (0), sizeof m);
          if (!parse_socket (&m, buf + off + NLMSG_LENGTH (sizeof m), payload - sizeof m, &entry, &name, &name_len))
            {
              /* A query's one reply must be the socket asked for. */
              if (one != NULL)
                return UDG_SOCK_DIAG_BROKEN;
            }
          else if (one != NULL)
            {
              *one = entry;
              return UDG_SOCK_DIAG_DONE;
            }
          else
            add_named (sockets, &entry, name, name_len);
        }
      if (NLMSG_ALIGN (h.nlmsg_len) >= len - off)
        break;
      off += NLMSG_ALIGN (h.nlmsg_len);
    }
  return UDG_SOCK_DIAG_MORE;
}

/* Sends @req and parses the replies until the end. */
static UdgSockDiagResult
ask (const struct unix_diag_req *req, guint16 flags, GHashTable *sockets, UdgSockDiagEntry *one)
{
  struct
  {
    struct nlmsghdr nlh;
    struct unix_diag_req req;
  } request = {
    .nlh = {
      .nlmsg_len = sizeof request,
      .nlmsg_type = SOCK_DIAG_BY_FAMILY,
      .nlmsg_flags = flags,
    },
    .req = *req,
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  g_autofree guint8 *buf = NULL;
  UdgSockDiagResult result = UDG_SOCK_DIAG_BROKEN;
  gint fd;

  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    return UDG_SOCK_DIAG_UNAVAILABLE;
  if (sendto (fd, &request, sizeof request, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      close (fd);
      return UDG_SOCK_DIAG_UNAVAILABLE;
    }
  buf = g_malloc (RECV_BUFFER);
  for (;;)
    {
      ssize_t n = recv (fd, buf, RECV_BUFFER, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      result = udg_sock_diag_parse (buf, (gsize) n, sockets, one);
      if (result != UDG_SOCK_DIAG_MORE)
        break;
    }
  close (fd);
  return result == UDG_SOCK_DIAG_MORE ? UDG_SOCK_DIAG_BROKEN : result;
}

/*
 * udg_sock_diag_dump:
 * @sockets: (element-type UdgAddress UdgSockDiagEntry): filled with every
 *   named AF_UNIX datagram socket of the network namespace
 *
 * Returns: %UDG_SOCK_DIAG_DONE when complete, %UDG_SOCK_DIAG_UNAVAILABLE
 *   without unix_diag, %UDG_SOCK_DIAG_BROKEN when this dump failed
 */
UdgSockDiagResult
udg_sock_diag_dump (GHashTable *sockets)
{
  struct unix_diag_req req = {
    .sdiag_family = AF_UNIX,
    .udiag_states = ~0u,
    .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID,
  };

  return ask (&req, NLM_F_REQUEST | NLM_F_DUMP, sockets, NULL);
}

/*
 * udg_sock_diag_query:
 * @ino: the socket's inode (from a dump)
 * @entry: (out): what the kernel says of it
 *
 * Returns: %UDG_SOCK_DIAG_DONE with @entry, %UDG_SOCK_DIAG_GONE when no
 *   socket has that inode any more, or a failure
 */
UdgSockDiagResult
udg_sock_diag_query (guint32 ino, UdgSockDiagEntry *entry)
{
  struct unix_diag_req req = {
    .sdiag_family = AF_UNIX,
    .udiag_ino = ino,
    .udiag_cookie = { ~0u, ~0u }, /* INET_DIAG_NOCOOKIE: any socket of that inode */
    .udiag_show = UDIAG_SHOW_RQLEN,
  };

  return ask (&req, NLM_F_REQUEST, NULL, entry);
}
