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

/* A client whose invocation ended with nothing queued stays this long in
 * the server's idle cache, which holds at most this many clients, so that
 * a peer sending request after request does not create and free its state
 * each time.  0 turns the cache off. */
#define UDG_IDLE_CLIENTS_MAX 256
#define UDG_IDLE_CLIENT_USEC (1 * G_USEC_PER_SEC)
