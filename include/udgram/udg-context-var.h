/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <udgram/udg-macros.h>

G_BEGIN_DECLS

typedef struct _UdgContextVar UdgContextVar;

#define UDG_TYPE_CONTEXT_VAR (udg_context_var_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_context_var_get_type (void) G_GNUC_CONST;

UDG_AVAILABLE_IN_0_1
UdgContextVar *udg_context_var_new      (const gchar    *name,
                                         GDestroyNotify  value_destroy);
UDG_AVAILABLE_IN_0_1
UdgContextVar *udg_context_var_ref      (UdgContextVar  *var);
UDG_AVAILABLE_IN_0_1
void           udg_context_var_unref    (UdgContextVar  *var);
UDG_AVAILABLE_IN_0_1
const gchar   *udg_context_var_get_name (UdgContextVar  *var);
UDG_AVAILABLE_IN_0_1
void           udg_context_var_set      (UdgContextVar  *var,
                                         gpointer        value);
UDG_AVAILABLE_IN_0_1
gpointer       udg_context_var_get      (UdgContextVar  *var);
UDG_AVAILABLE_IN_0_1
gboolean       udg_context_var_is_set   (UdgContextVar  *var);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgContextVar, udg_context_var_unref)

G_END_DECLS
