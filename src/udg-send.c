/* udgram - sending a reply on the server's socket
 *
 * sendmsg() on the socket every reply shares: atomic per datagram, so no
 * lock.  Before it, the send budget (udg-send-budget.c) says whether the
 * peer may hold one more reply of ours unread, or must be watched first (a
 * wait here, counted by the scheduler), or is refused.  A peer whose queue
 * is full for now (an unconnected peer has net.unix.max_dgram_qlen
 * datagrams unread) is waited for by the kernel: sendmsg() without
 * MSG_DONTWAIT sleeps until the peer reads, at most the send timeout
 * (SO_SNDTIMEO).  Such a thread counts as blocked, so the pool grows and
 * the other clients are still served; at most a quarter of the pool waits
 * for peers so (the scheduler's quota), and beyond that a full queue fails
 * at once.  No thread sleeps in a polling loop but the budget's watch.
 *
 * One sendmsg() per reply, where a raw loop sends a batch with one
 * sendmmsg(): udg_client_send_packet() tells its caller whether the reply
 * went, which a batch sent later could not (docs/design.md, "What exists
 * for speed").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-send.h"
#include "udg-tuning.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

void
udg_sender_init (UdgSender *sender, UdgScheduler *scheduler, guint64 *send_errors, guint64 *not_reading)
{
  sender->fd = -1;
  sender->scheduler = scheduler;
  sender->send_errors = send_errors;
  sender->not_reading = not_reading;
  udg_send_budget_init (&sender->budget);
}

void
udg_sender_clear (UdgSender *sender)
{
  udg_send_budget_clear (&sender->budget);
}

/* Prepares the socket @fd for a run: the largest send buffer the system
 * allows, the send timeout as the kernel's own wait, blocking sends (reads
 * and the first try of every send say MSG_DONTWAIT), an empty budget. */
void
udg_sender_setup (UdgSender *sender, gint fd, gdouble timeout)
{
  g_autofree gchar *text = NULL;
  struct timeval tv = { 0 };
  gint size;

  if (g_file_get_contents ("/proc/sys/net/core/wmem_max", &text, NULL, NULL))
    {
      size = (gint) CLAMP (g_ascii_strtoll (text, NULL, 10), 0, G_MAXINT / 2);
      if (size > 0)
        setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
  if (timeout > 0)
    {
      gdouble t = MIN (timeout, (gdouble) G_MAXINT32);

      tv.tv_sec = (time_t) t;
      tv.tv_usec = (suseconds_t) ((t - (gdouble) tv.tv_sec) * G_USEC_PER_SEC);
      if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1; /* 0 would mean "forever" */
      setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  sender->fd = fd;
  sender->timeout = timeout;
  udg_send_budget_reset (&sender->budget, fd);
}

/* What the budget says of @len bytes for @peer, watching it first when it
 * asks (a wait, at most the send timeout, 250 ms at least). */
static UdgBudgetVerdict
ask_budget (UdgSender *sender, const UdgAddress *peer, gsize len, GCancellable *cancellable)
{
  UdgSendWatch watch;
  UdgBudgetVerdict verdict = udg_send_budget_charge (&sender->budget, peer, len, &watch);

  if (verdict != UDG_BUDGET_WATCH)
    return verdict;
  if (!udg_scheduler_peer_wait_begin (sender->scheduler))
    {
      /* Every thread that may wait for a peer does: the kernel decides. */
      return UDG_BUDGET_SEND;
    }
  verdict = udg_send_budget_watch (&sender->budget, peer, len, &watch,
                                   udg_deadline_from_timeout (MAX (sender->timeout, UDG_NOT_READING_USEC / 1e6)),
                                   cancellable);
  udg_scheduler_peer_wait_end (sender->scheduler);
  return verdict;
}

/* Sends @datagram (and @control) to @peer; FALSE with UDG_ERROR_WOULD_BLOCK
 * (refused, a full queue or buffer) or the system's error. */
gboolean
udg_sender_send (UdgSender        *sender,
                 const UdgAddress *peer,
                 GBytes           *datagram,
                 const guint8     *control,
                 gsize             control_len,
                 GCancellable     *cancellable,
                 GError          **error)
{
  struct sockaddr_un sa;
  struct iovec iov;
  struct msghdr msg = { 0 };
  gsize len;
  gint flags = MSG_DONTWAIT | MSG_NOSIGNAL;
  gboolean waiting = FALSE;
  gboolean sent = FALSE;
  int errsv = 0;

  iov.iov_base = (gpointer) g_bytes_get_data (datagram, &len);
  iov.iov_len = len;
  msg.msg_name = &sa;
  msg.msg_namelen = udg_address_to_sockaddr (peer, &sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = (gpointer) control;
  msg.msg_controllen = control_len;

  switch (ask_budget (sender, peer, len, cancellable))
    {
    case UDG_BUDGET_REFUSE:
      {
        g_autofree gchar *who = udg_address_to_string (peer);

        __atomic_fetch_add (sender->not_reading, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add (sender->send_errors, 1, __ATOMIC_RELAXED);
        g_set_error (error, UDG_ERROR, UDG_ERROR_WOULD_BLOCK,
                     _("The peer %s does not read its replies: the datagram was not sent"), who);
        return FALSE;
      }
    case UDG_BUDGET_SEND:
    case UDG_BUDGET_WATCH:
    default:
      break;
    }
  for (;;)
    {
      if (sendmsg (sender->fd, &msg, flags) >= 0)
        {
          sent = TRUE;
          break;
        }
      errsv = errno;
      if (errsv == EINTR)
        continue;
      if ((errsv == EAGAIN || errsv == ENOBUFS) && !waiting && sender->timeout > 0 &&
          !g_cancellable_is_cancelled (cancellable) && udg_scheduler_peer_wait_begin (sender->scheduler))
        {
          waiting = TRUE;
          flags = MSG_NOSIGNAL;
          continue;
        }
      break;
    }
  if (waiting)
    udg_scheduler_peer_wait_end (sender->scheduler);
  if (!sent)
    {
      g_autofree gchar *who = udg_address_to_string (peer);

      udg_send_budget_refund (&sender->budget, peer, len);
      __atomic_fetch_add (sender->send_errors, 1, __ATOMIC_RELAXED);
      if ((errsv == EAGAIN || errsv == ENOBUFS) && udg_send_budget_buffer_full (&sender->budget, len))
        g_set_error (error, UDG_ERROR, UDG_ERROR_WOULD_BLOCK,
                     _("The server's send buffer is full of replies its peers have not read yet: "
                       "the datagram to %s was not sent"), who);
      else if (errsv == EAGAIN || errsv == ENOBUFS)
        g_set_error (error, UDG_ERROR, UDG_ERROR_WOULD_BLOCK,
                     _("The peer %s does not read its queue: the datagram was not sent"), who);
      else
        udg_set_error_from_errno (error, errsv, _("Unable to send a datagram to %s"), who);
    }
  return sent;
}
