/* udgram - every tuned constant of the server's hot path, in one place
 *
 * docs/design.md ("What exists for speed") gives, for each, what it buys
 * as measured with bench/udgram-bench; tests and documents refer to these
 * names rather than repeat the numbers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* Datagrams read by one recvmmsg() call of the reader. */
#define UDG_READ_BATCH 16

/* Reading from a pool task (udg-reader.c): a task reads the socket after
 * an invocation when no other client is queued (and every UDG_READ_EVERY
 * invocations when some are); with the socket empty it tries again for
 * UDG_SPIN_USEC before its thread sleeps.  Each can be overridden at build
 * time (-D) to measure what it buys. */
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

/* Fair use of the send buffer (udg-send-budget.c, docs/design.md "A peer
 * that does not read").  These are limits, not speed: a peer may hold
 * 1/UDG_PEER_FREE_SHARE of the send buffer unread before it is looked at;
 * it is found not reading when its queue stayed non-empty for
 * UDG_NOT_READING_USEC; the sockets are looked at (sock_diag) at most every
 * UDG_SNAPSHOT_INTERVAL_USEC. */
#ifndef UDG_PEER_FREE_SHARE
#define UDG_PEER_FREE_SHARE 16
#endif
#ifndef UDG_NOT_READING_USEC
#define UDG_NOT_READING_USEC 250000
#endif
#ifndef UDG_SNAPSHOT_INTERVAL_USEC
#define UDG_SNAPSHOT_INTERVAL_USEC 10000
#endif

/* Log records a peer can cause (a handler's parse error, a vanished peer):
 * one per peer every UDG_LOG_INTERVAL_USEC at most, and UDG_LOG_BURST in
 * all per interval; the others are counted (udg-log.c).  Limits, not
 * speed: a peer sending garbage in a loop cannot flood the journal. */
#ifndef UDG_LOG_INTERVAL_USEC
#define UDG_LOG_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#endif
#ifndef UDG_LOG_BURST
#define UDG_LOG_BURST 32
#endif
