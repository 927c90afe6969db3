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
#ifndef UDG_IDLE_CLIENTS_MAX
#define UDG_IDLE_CLIENTS_MAX 256
#endif
#define UDG_IDLE_CLIENT_USEC (1 * G_USEC_PER_SEC)

/* Reading from a pool task (udg-reader.c): a task reads the socket after
 * an invocation when nothing else is queued and after every
 * UDG_READ_EVERY invocations; with the socket empty it tries again for
 * UDG_SPIN_USEC before it sleeps; the reader thread stays off the socket
 * for at most UDG_HELP_WINDOW_USEC after the last batch a task read. */
#ifndef UDG_TASKS_READ
#define UDG_TASKS_READ 1             /* 0: only the reader thread reads */
#endif
#ifndef UDG_READ_EVERY
#define UDG_READ_EVERY 8
#endif
#ifndef UDG_SPIN_USEC
#define UDG_SPIN_USEC 20
#endif
#ifndef UDG_HELP_WINDOW_USEC
#define UDG_HELP_WINDOW_USEC 500
#endif
