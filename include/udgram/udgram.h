/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define __UDGRAM_INSIDE__

#include <udgram/udg-macros.h>
#include <udgram/udg-error.h>
#include <udgram/udg-address.h>
#include <udgram/udg-ancillary.h>
#include <udgram/udg-serializer.h>
#include <udgram/udg-serializers.h>
#include <udgram/udg-protocol.h>
#include <udgram/udg-context-var.h>
#include <udgram/udg-exit-stack.h>
#include <udgram/udg-client.h>
#include <udgram/udg-server.h>
#include <udgram/udg-endpoint.h>
#include <udgram/udg-enum-types.h>

#undef __UDGRAM_INSIDE__
