/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <udgram/udg-macros.h>

G_BEGIN_DECLS

typedef struct _UdgExitStack UdgExitStack;

UDG_AVAILABLE_IN_0_1
UdgExitStack *udg_exit_stack_new         (void);
UDG_AVAILABLE_IN_0_1
void          udg_exit_stack_free        (UdgExitStack   *stack);
UDG_AVAILABLE_IN_0_1
void          udg_exit_stack_push        (UdgExitStack   *stack,
                                          GDestroyNotify  callback,
                                          gpointer        data);
UDG_AVAILABLE_IN_0_1
void          udg_exit_stack_push_source (UdgExitStack   *stack,
                                          GSource        *source);
UDG_AVAILABLE_IN_0_1
guint         udg_exit_stack_get_size    (UdgExitStack   *stack);
UDG_AVAILABLE_IN_0_1
void          udg_exit_stack_close       (UdgExitStack   *stack);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgExitStack, udg_exit_stack_free)

G_END_DECLS
