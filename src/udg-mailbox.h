/* udgram - a client's mailbox: a GAsyncQueue that ThreadSanitizer can see
 *
 * GLib's GMutex and GCond are futexes that ThreadSanitizer does not know,
 * so it would see no order between the reader pushing a datagram and the
 * handler popping it.  Every use of a mailbox goes through these calls,
 * which tell it: taking the lock acquires, releasing it releases, and a
 * wait (which releases and retakes the lock inside GLib) does both.
 * GLib's own node allocation inside the queue runs with this thread's
 * accesses ignored; only GLib's code runs inside those brackets.
 *
 * The queue's lock also guards the client's state (udg-server-private.h).
 * Items are UdgDatagram pointers, or one of two markers that wake a handler
 * waiting in udg_client_recv(): UDG_MAILBOX_CLOSED (shutdown) and
 * UDG_MAILBOX_EVICTED (the pool is full of waiting invocations).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

/* The marker that wakes a waiting handler at shutdown (as GThreadPool
 * wakes its idle threads with one); never a datagram. */
#define UDG_MAILBOX_CLOSED ((gpointer) &udg_mailbox_closed_marker)
extern G_GNUC_INTERNAL const gint udg_mailbox_closed_marker;
/* The marker that ends a handler's wait when the pool is full of waiting
 * invocations (the scheduler's choice): the wait fails as on a timeout. */
#define UDG_MAILBOX_EVICTED ((gpointer) &udg_mailbox_evicted_marker)
extern G_GNUC_INTERNAL const gint udg_mailbox_evicted_marker;

static inline GAsyncQueue *
udg_mailbox_new (void)
{
  return g_async_queue_new ();
}

static inline void
udg_mailbox_free (GAsyncQueue *mailbox)
{
  g_async_queue_unref (mailbox);
}

static inline void
udg_mailbox_lock (GAsyncQueue *mailbox)
{
  g_async_queue_lock (mailbox);
  UDG_TSAN_ACQUIRE (mailbox);
}

static inline void
udg_mailbox_unlock (GAsyncQueue *mailbox)
{
  UDG_TSAN_RELEASE (mailbox);
  g_async_queue_unlock (mailbox);
}

/* With the lock held: appends @item and wakes a handler waiting on it. */
static inline void
udg_mailbox_push_unlocked (GAsyncQueue *mailbox,
                         gpointer     item)
{
  UDG_TSAN_IGNORE_BEGIN ();
  g_async_queue_push_unlocked (mailbox, item);
  UDG_TSAN_IGNORE_END ();
}

/* With the lock held: puts @item back in front. */
static inline void
udg_mailbox_push_front_unlocked (GAsyncQueue *mailbox,
                               gpointer     item)
{
  UDG_TSAN_IGNORE_BEGIN ();
  g_async_queue_push_front_unlocked (mailbox, item);
  UDG_TSAN_IGNORE_END ();
}

/* With the lock held: removes @item wherever it is. */
static inline void
udg_mailbox_remove_unlocked (GAsyncQueue *mailbox,
                           gpointer     item)
{
  UDG_TSAN_IGNORE_BEGIN ();
  g_async_queue_remove_unlocked (mailbox, item);
  UDG_TSAN_IGNORE_END ();
}

/* With the lock held: the first item, or %NULL at once. */
static inline gpointer
udg_mailbox_try_pop_unlocked (GAsyncQueue *mailbox)
{
  gpointer item;

  UDG_TSAN_IGNORE_BEGIN ();
  item = g_async_queue_try_pop_unlocked (mailbox);
  UDG_TSAN_IGNORE_END ();
  return item;
}

/* With the lock held: waits for the first item up to @timeout_usec
 * (negative: for ever), releasing the lock meanwhile; %NULL on timeout. */
static inline gpointer
udg_mailbox_timeout_pop_unlocked (GAsyncQueue *mailbox,
                                gint64       timeout_usec)
{
  gpointer item;

  UDG_TSAN_RELEASE (mailbox);
  UDG_TSAN_IGNORE_BEGIN ();
  if (timeout_usec < 0)
    item = g_async_queue_pop_unlocked (mailbox);
  else
    item = g_async_queue_timeout_pop_unlocked (mailbox, (guint64) timeout_usec);
  UDG_TSAN_IGNORE_END ();
  UDG_TSAN_ACQUIRE (mailbox);
  return item;
}
