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

/**
 * SECTION:udg-macros
 * @title: Version information
 * @short_description: the version of udgram a program was built against
 *
 * The version of the headers a program was compiled with, for code that
 * must build against more than one release; pkg-config gives the same at
 * build time (`pkg-config --modversion udgram-1`).  The series' API
 * version, the 1 of `udgram-1`, changes only with an incompatible release.
 */

/**
 * UDG_MAJOR_VERSION:
 *
 * The major version of the headers (the 0 of 0.1.0).
 *
 * Since: 0.1
 */
#define UDG_MAJOR_VERSION 0
/**
 * UDG_MINOR_VERSION:
 *
 * The minor version of the headers (the 1 of 0.1.0): it grows with each
 * release that adds API.
 *
 * Since: 0.1
 */
#define UDG_MINOR_VERSION 1
/**
 * UDG_MICRO_VERSION:
 *
 * The micro version of the headers (the last 0 of 0.1.0): it grows with
 * each release that only fixes.
 *
 * Since: 0.1
 */
#define UDG_MICRO_VERSION 0
