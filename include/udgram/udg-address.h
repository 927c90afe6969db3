/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <sys/socket.h>
#include <sys/un.h>
#include <udgram/udg-macros.h>

G_BEGIN_DECLS

/**
 * UdgAddressKind:
 * @UDG_ADDRESS_UNNAMED: a socket with no name (an unbound sender, or "let the
 *   kernel autobind" when binding).
 * @UDG_ADDRESS_PATHNAME: a path in the file system.
 * @UDG_ADDRESS_ABSTRACT: a name in Linux's abstract namespace, any bytes.
 *
 * The three kinds of Unix socket address (unix(7)).
 */
typedef enum
{
  UDG_ADDRESS_UNNAMED,
  UDG_ADDRESS_PATHNAME,
  UDG_ADDRESS_ABSTRACT,
} UdgAddressKind;

typedef struct _UdgAddress UdgAddress;

#define UDG_TYPE_ADDRESS (udg_address_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_address_get_type (void) G_GNUC_CONST;

UDG_AVAILABLE_IN_0_1
UdgAddress     *udg_address_new_from_string   (const gchar              *str,
                                               GError                  **error);
UDG_AVAILABLE_IN_0_1
UdgAddress     *udg_address_new_pathname      (const gchar              *path,
                                               GError                  **error);
UDG_AVAILABLE_IN_0_1
UdgAddress     *udg_address_new_abstract      (const guint8             *name,
                                               gsize                     len,
                                               GError                  **error);
UDG_AVAILABLE_IN_0_1
UdgAddress     *udg_address_new_unnamed       (void);
UDG_AVAILABLE_IN_0_1
UdgAddress     *udg_address_new_from_sockaddr (const struct sockaddr_un *sa,
                                               socklen_t                 len,
                                               GError                  **error);
UDG_AVAILABLE_IN_0_1
UdgAddress     *udg_address_ref               (UdgAddress               *address);
UDG_AVAILABLE_IN_0_1
void            udg_address_unref             (UdgAddress               *address);

UDG_AVAILABLE_IN_0_1
UdgAddressKind  udg_address_get_kind          (const UdgAddress         *address);
UDG_AVAILABLE_IN_0_1
gboolean        udg_address_is_unnamed        (const UdgAddress         *address);
UDG_AVAILABLE_IN_0_1
const gchar    *udg_address_get_path          (const UdgAddress         *address);
UDG_AVAILABLE_IN_0_1
const guint8   *udg_address_get_abstract_name (const UdgAddress         *address,
                                               gsize                    *len);
UDG_AVAILABLE_IN_0_1
socklen_t       udg_address_to_sockaddr       (const UdgAddress         *address,
                                               struct sockaddr_un       *sa);
UDG_AVAILABLE_IN_0_1
gchar          *udg_address_to_string         (const UdgAddress         *address);

UDG_AVAILABLE_IN_0_1
gboolean        udg_address_equal             (gconstpointer             a,
                                               gconstpointer             b);
UDG_AVAILABLE_IN_0_1
guint           udg_address_hash              (gconstpointer             address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgAddress, udg_address_unref)

G_END_DECLS
