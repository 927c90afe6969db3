/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <glib.h>
#include <glib-object.h>

/* Every public declaration carries UDG_AVAILABLE_IN_*: the library is built
 * with -fvisibility=hidden, so only what is marked here is exported. */
#if defined(UDGRAM_COMPILATION) && defined(__GNUC__)
#define _UDG_EXPORT __attribute__ ((visibility ("default"))) extern
#else
#define _UDG_EXPORT extern
#endif

/* UDG_AVAILABLE_IN_X_Y marks a symbol that appeared in udgram X.Y, whose
 * documentation says "Since: X.Y"; tests/check-exports.sh checks that they,
 * the version below and configure's agree. */
#define UDG_AVAILABLE_IN_ALL _UDG_EXPORT
#define UDG_AVAILABLE_IN_0_1 _UDG_EXPORT

#define UDG_MAJOR_VERSION 0
#define UDG_MINOR_VERSION 1
#define UDG_MICRO_VERSION 0
