/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <udgram/udg-macros.h>

G_BEGIN_DECLS

/**
 * UDG_ERROR:
 *
 * The error domain of every #GError udgram reports itself.  Errors that come
 * straight from the system on a socket operation whose meaning GIO already
 * names (a vanished peer: %G_IO_ERROR_CONNECTION_REFUSED,
 * %G_IO_ERROR_NOT_FOUND; a denied send: %G_IO_ERROR_PERMISSION_DENIED) use
 * %G_IO_ERROR instead.
 */
#define UDG_ERROR (udg_error_quark ())

/**
 * UdgError:
 * @UDG_ERROR_FAILED: a failure with no more specific code, including a
 *   serializer, converter or ancillary callback that failed without a parse
 *   error (EasyNetwork's "crashed" RuntimeError).
 * @UDG_ERROR_PARSE: a datagram could not be turned into a packet
 *   (EasyNetwork's `DatagramProtocolParseError`).
 * @UDG_ERROR_TIMED_OUT: nothing arrived before the timeout (`TimeoutError`).
 * @UDG_ERROR_CLOSED: the client, endpoint or service is closed or closing
 *   (`ClientClosedError`).
 * @UDG_ERROR_SERVER_CLOSED: the server was closed (`ServerClosedError`).
 * @UDG_ERROR_ALREADY_RUNNING: udg_server_serve_forever() is already running
 *   (`ServerAlreadyRunning`).
 * @UDG_ERROR_BUSY: the object cannot do this now (`BusyResourceError`).
 * @UDG_ERROR_UNSUPPORTED: the operation is not supported by this object's
 *   configuration (`UnsupportedOperation`).
 * @UDG_ERROR_INVALID_ARGUMENT: a value given at run time is not acceptable
 *   (`ValueError`).
 * @UDG_ERROR_ADDRESS_IN_USE: the socket path is already taken.
 * @UDG_ERROR_WOULD_BLOCK: the peer does not read its queue and the bounded
 *   wait for room ran out.
 * @UDG_ERROR_TRUNCATED: a datagram or its control data did not fit the
 *   buffer and was cut by the kernel.
 *
 * Error codes in the %UDG_ERROR domain.  Their messages are translated.
 */
typedef enum
{
  UDG_ERROR_FAILED,
  UDG_ERROR_PARSE,
  UDG_ERROR_TIMED_OUT,
  UDG_ERROR_CLOSED,
  UDG_ERROR_SERVER_CLOSED,
  UDG_ERROR_ALREADY_RUNNING,
  UDG_ERROR_BUSY,
  UDG_ERROR_UNSUPPORTED,
  UDG_ERROR_INVALID_ARGUMENT,
  UDG_ERROR_ADDRESS_IN_USE,
  UDG_ERROR_WOULD_BLOCK,
  UDG_ERROR_TRUNCATED,
} UdgError;

UDG_AVAILABLE_IN_0_1
GQuark udg_error_quark (void);

G_END_DECLS
