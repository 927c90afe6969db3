/* udgram - every tuned constant of the server, in one place
 *
 * The numbers that were chosen (for speed, or as a limit), as opposed to
 * the facts of a wire format, which live with the format.  For each one
 * that exists for speed, docs/design.md ("What exists for speed") gives
 * what it buys as measured with bench/udgram-bench, and each can be
 * overridden at build time (-D) to measure it again; tests and documents
 * refer to these names rather than repeat the numbers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* --- for speed ------------------------------------------------------------------- */

/* Datagrams read by one recvmmsg() call. */
#ifndef UDG_READ_BATCH
#define UDG_READ_BATCH 16
#endif

/* Reading from a pool task (udg-reader.c): a task reads the socket after
 * an invocation when no other client is queued (and every UDG_READ_EVERY
 * invocations when some are); with the socket empty it tries again for
 * UDG_SPIN_USEC before its thread sleeps. */
#ifndef UDG_TASKS_READ
#define UDG_TASKS_READ 1             /* 0: only the reader thread reads */
#endif
#ifndef UDG_SPIN_USEC
#define UDG_SPIN_USEC 20
#endif
/* While other clients are queued, a pool task runs them first, but reads
 * the socket anyway after every UDG_READ_EVERY-th such invocation of its
 * thread, so that the kernel's short queue (net.unix.max_dgram_qlen) does
 * not fill while the pool works through a backlog.  0: never. */
#ifndef UDG_READ_EVERY
#define UDG_READ_EVERY 8
#endif

/* The reader thread and the pool threads run under SCHED_BATCH (when they
 * were SCHED_OTHER): woken, they wait for the running thread's turn to end
 * instead of preempting it; their share of the CPU is unchanged.  0: the
 * policy is left as it is. */
#ifndef UDG_SCHED_BATCH
#define UDG_SCHED_BATCH 1
#endif

/* --- limits ------------------------------------------------------------------------ */

/* Fair use of the send buffer (udg-send-budget.c, docs/design.md "A peer
 * that does not read"): a peer may hold 1/UDG_PEER_FREE_SHARE of the send
 * buffer unread before it is looked at; a peer shown reading is not
 * watched again for UDG_NOT_READING_USEC; the sockets are looked at
 * (sock_diag) at most every UDG_SNAPSHOT_INTERVAL_USEC; a watched peer is
 * looked at after 1 ms, then twice as long each time up to
 * UDG_WATCH_STEP_MAX_USEC. */
#ifndef UDG_PEER_FREE_SHARE
#define UDG_PEER_FREE_SHARE 16
#endif
#ifndef UDG_NOT_READING_USEC
#define UDG_NOT_READING_USEC 250000
#endif
#ifndef UDG_SNAPSHOT_INTERVAL_USEC
#define UDG_SNAPSHOT_INTERVAL_USEC 10000
#endif
#define UDG_WATCH_STEP_MAX_USEC (16 * 1000)
/* What the kernel charges for a datagram beyond its bytes (the sk_buff and
 * its shared info: 768 bytes for a small datagram on x86-64 Linux 6). */
#define UDG_DATAGRAM_OVERHEAD 768
/* The budget's table of peers is pruned when it grows past this size, then
 * twice its size. */
#define UDG_BUDGET_PRUNE_MIN 1024

/* Threads waiting for a peer (in the kernel for a slow peer's room, or
 * watching a peer) at once: a quarter of max_threads, at least one, at most
 * this (udg-scheduler.c). */
#define UDG_PEER_WAITS_MAX 16

/* Log records a peer can cause (a handler's parse error, a vanished peer):
 * one per peer and error every UDG_LOG_INTERVAL_USEC at most, and
 * UDG_LOG_BURST in all per interval; the others are counted (udg-log.c),
 * for at most UDG_LOG_KEYS_MAX peers and errors at once.  A peer sending
 * garbage in a loop cannot flood the journal. */
#ifndef UDG_LOG_INTERVAL_USEC
#define UDG_LOG_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#endif
#ifndef UDG_LOG_BURST
#define UDG_LOG_BURST 32
#endif
#define UDG_LOG_KEYS_MAX 1024
/* Between two warnings: that max_threads is reached, that peers do not read
 * their replies, that mailboxes are full (a DEBUG record). */
#define UDG_SATURATION_WARNING_USEC (10 * G_USEC_PER_SEC)
#define UDG_NOT_READING_WARNING_USEC (10 * G_USEC_PER_SEC)
#define UDG_MAILBOX_FULL_LOG_USEC (5 * G_USEC_PER_SEC)

/* Between two STATUS= lines to the service manager (udg-notify.c). */
#define UDG_NOTIFY_STATUS_SECONDS 5
