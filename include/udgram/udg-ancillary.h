/* udgram - Unix datagram servers and clients for GLib programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__UDGRAM_INSIDE__) && !defined(UDGRAM_COMPILATION)
#error "Only <udgram/udgram.h> can be included directly."
#endif

#include <sys/types.h>
#include <udgram/udg-macros.h>

G_BEGIN_DECLS

/**
 * UdgCredentials:
 * @pid: the process id
 * @uid: the user id
 * @gid: the group id
 *
 * The credentials carried by one SCM_CREDENTIALS control message
 * (`struct ucred`).  A @pid of 0 received from the kernel means "unknown"
 * (the receiver enabled `SO_PASSCRED` after the datagram was queued).
 */
typedef struct _UdgCredentials UdgCredentials;

struct _UdgCredentials
{
  pid_t pid;
  uid_t uid;
  gid_t gid;
};

#define UDG_TYPE_CREDENTIALS (udg_credentials_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_credentials_get_type (void) G_GNUC_CONST;

/**
 * UdgAncillaryMessageType:
 * @UDG_ANCILLARY_RIGHTS: SCM_RIGHTS: file descriptors.
 * @UDG_ANCILLARY_CREDENTIALS: SCM_CREDENTIALS: process credentials.
 *
 * The kinds of socket control message #UdgAncillary understands.
 */
typedef enum
{
  UDG_ANCILLARY_RIGHTS = 1,
  UDG_ANCILLARY_CREDENTIALS,
} UdgAncillaryMessageType;

/**
 * UdgAncillaryMessage:
 * @type: which member is meaningful
 * @n_items: the number of file descriptors or credentials
 * @fds: for %UDG_ANCILLARY_RIGHTS, the descriptors (owned by the #UdgAncillary)
 * @credentials: for %UDG_ANCILLARY_CREDENTIALS, the credentials
 *
 * One message of a #UdgAncillary, as udg_ancillary_iter_next() returns it
 * (EasyNetwork's `SCMRights` and `SCMCredentials`).
 */
typedef struct _UdgAncillaryMessage UdgAncillaryMessage;

struct _UdgAncillaryMessage
{
  UdgAncillaryMessageType type;
  guint n_items;
  const gint *fds;
  const UdgCredentials *credentials;
};

typedef struct _UdgAncillary UdgAncillary;

#define UDG_TYPE_ANCILLARY (udg_ancillary_get_type ())
UDG_AVAILABLE_IN_0_1
GType udg_ancillary_get_type (void) G_GNUC_CONST;

/**
 * UdgAncillaryIter:
 *
 * An iterator over the messages of a #UdgAncillary; see
 * udg_ancillary_iter_init().  Its fields are private.
 */
typedef struct _UdgAncillaryIter UdgAncillaryIter;

struct _UdgAncillaryIter
{
  /*< private >*/
  gpointer dummy1;
  gint dummy2;
  gpointer padding[2];
};

UDG_AVAILABLE_IN_0_1
UdgAncillary         *udg_ancillary_new               (void);
UDG_AVAILABLE_IN_0_1
UdgAncillary         *udg_ancillary_ref               (UdgAncillary         *ancillary);
UDG_AVAILABLE_IN_0_1
void                  udg_ancillary_unref             (UdgAncillary         *ancillary);

UDG_AVAILABLE_IN_0_1
void                  udg_ancillary_add_fds           (UdgAncillary         *ancillary,
                                                       const gint           *fds,
                                                       guint                 n_fds);
UDG_AVAILABLE_IN_0_1
void                  udg_ancillary_take_fds          (UdgAncillary         *ancillary,
                                                       const gint           *fds,
                                                       guint                 n_fds);
UDG_AVAILABLE_IN_0_1
void                  udg_ancillary_add_credentials   (UdgAncillary         *ancillary,
                                                       pid_t                 pid,
                                                       uid_t                 uid,
                                                       gid_t                 gid);

UDG_AVAILABLE_IN_0_1
const gint           *udg_ancillary_get_fds           (UdgAncillary         *ancillary,
                                                       guint                *n_fds);
UDG_AVAILABLE_IN_0_1
gint                 *udg_ancillary_steal_fds         (UdgAncillary         *ancillary,
                                                       guint                *n_fds);
UDG_AVAILABLE_IN_0_1
const UdgCredentials *udg_ancillary_get_credentials   (UdgAncillary         *ancillary,
                                                       guint                *n_credentials);
UDG_AVAILABLE_IN_0_1
gboolean              udg_ancillary_is_truncated      (UdgAncillary         *ancillary);
UDG_AVAILABLE_IN_0_1
gboolean              udg_ancillary_is_empty          (UdgAncillary         *ancillary);

UDG_AVAILABLE_IN_0_1
void                  udg_ancillary_iter_init         (UdgAncillaryIter     *iter,
                                                       UdgAncillary         *ancillary);
UDG_AVAILABLE_IN_0_1
gboolean              udg_ancillary_iter_next         (UdgAncillaryIter     *iter,
                                                       UdgAncillaryMessage  *message);

UDG_AVAILABLE_IN_0_1
guint8               *udg_ancillary_to_control        (UdgAncillary         *ancillary,
                                                       gsize                *len);
UDG_AVAILABLE_IN_0_1
gboolean              udg_ancillary_update_from_raw   (UdgAncillary         *ancillary,
                                                       gconstpointer         control,
                                                       gsize                 control_len,
                                                       gint                  msg_flags,
                                                       GError              **error);
UDG_AVAILABLE_IN_0_1
gboolean              udg_ancillary_receive_func      (gconstpointer         control,
                                                       gsize                 control_len,
                                                       gint                  msg_flags,
                                                       gpointer              ancillary,
                                                       GError              **error);
UDG_AVAILABLE_IN_0_1
void                  udg_ancillary_clear             (UdgAncillary         *ancillary);
UDG_AVAILABLE_IN_0_1
guint                 udg_ancillary_close_control_fds (gconstpointer         control,
                                                       gsize                 control_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UdgAncillary, udg_ancillary_unref)

G_END_DECLS
