/* udgram - socket control messages: file descriptors and credentials
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

/**
 * SECTION:udg-ancillary
 * @title: UdgAncillary
 * @short_description: file descriptors and credentials sent with a datagram
 *
 * A #UdgAncillary holds the socket control messages of one datagram
 * (EasyNetwork's `SocketAncillary`): SCM_RIGHTS file descriptors and
 * SCM_CREDENTIALS process credentials.  Build one with
 * udg_ancillary_add_fds() and udg_ancillary_add_credentials() to send, or
 * fill one with udg_ancillary_update_from_raw() from what recvmsg() returned.
 *
 * Ownership of descriptors: those added with udg_ancillary_add_fds() stay the
 * caller's; those given with udg_ancillary_take_fds() or received through
 * udg_ancillary_update_from_raw() belong to the ancillary object, which
 * closes them when it is cleared or freed, unless they are taken out with
 * udg_ancillary_steal_fds().
 */

/**
 * UdgAncillary:
 *
 * A reference-counted set of socket control messages; it owns the descriptors it received.
 */

typedef struct
{
  gint fd;
  gboolean owned;
} FdEntry;

struct _UdgAncillary
{
  gatomicrefcount ref_count;
  GArray *fds;     /* (element-type FdEntry) */
  GArray *plain;   /* (element-type gint): the numbers of fds, for get_fds() */
  GArray *creds;   /* (element-type UdgCredentials) */
  gboolean truncated;
};

/**
 * udg_ancillary_new:
 *
 * Creates an empty set of control messages.
 *
 * Returns: (transfer full): a new #UdgAncillary
 *
 * Since: 0.1
 */
UdgAncillary *
udg_ancillary_new (void)
{
  UdgAncillary *ancillary = g_new0 (UdgAncillary, 1);

  g_atomic_ref_count_init (&ancillary->ref_count);
  ancillary->fds = g_array_new (FALSE, FALSE, sizeof (FdEntry));
  ancillary->plain = g_array_new (FALSE, FALSE, sizeof (gint));
  ancillary->creds = g_array_new (FALSE, FALSE, sizeof (UdgCredentials));
  return ancillary;
}

/**
 * udg_ancillary_ref:
 * @ancillary: a #UdgAncillary
 *
 * Takes a reference on @ancillary.
 *
 * Returns: (transfer full): @ancillary
 *
 * Since: 0.1
 */
UdgAncillary *
udg_ancillary_ref (UdgAncillary *ancillary)
{
  g_return_val_if_fail (ancillary != NULL, NULL);
  g_atomic_ref_count_inc (&ancillary->ref_count);
  return ancillary;
}

/**
 * udg_ancillary_unref:
 * @ancillary: (transfer full): a #UdgAncillary
 *
 * Drops a reference; with the last one the owned descriptors are closed and
 * the object freed.
 *
 * Since: 0.1
 */
void
udg_ancillary_unref (UdgAncillary *ancillary)
{
  g_return_if_fail (ancillary != NULL);
  if (!g_atomic_ref_count_dec (&ancillary->ref_count))
    return;
  udg_ancillary_clear (ancillary);
  g_array_unref (ancillary->fds);
  g_array_unref (ancillary->plain);
  g_array_unref (ancillary->creds);
  g_free (ancillary);
}

static void
append_fds (UdgAncillary *ancillary, const gint *fds, guint n, gboolean owned)
{
  for (guint i = 0; i < n; i++)
    {
      FdEntry e = { fds[i], owned };

      g_array_append_val (ancillary->fds, e);
      g_array_append_val (ancillary->plain, fds[i]);
    }
}

/**
 * udg_ancillary_add_fds:
 * @ancillary: a #UdgAncillary
 * @fds: (array length=n_fds): file descriptors to send
 * @n_fds: how many
 *
 * Adds descriptors to an SCM_RIGHTS message.  They stay the caller's: the
 * ancillary object never closes them.
 *
 * Since: 0.1
 */
void
udg_ancillary_add_fds (UdgAncillary *ancillary,
                       const gint   *fds,
                       guint         n_fds)
{
  g_return_if_fail (ancillary != NULL);
  g_return_if_fail (fds != NULL || n_fds == 0);
  append_fds (ancillary, fds, n_fds, FALSE);
}

/**
 * udg_ancillary_take_fds:
 * @ancillary: a #UdgAncillary
 * @fds: (array length=n_fds): file descriptors
 * @n_fds: how many
 *
 * Like udg_ancillary_add_fds(), but the descriptors become the ancillary
 * object's: it closes them when cleared or freed.
 *
 * Since: 0.1
 */
void
udg_ancillary_take_fds (UdgAncillary *ancillary,
                        const gint   *fds,
                        guint         n_fds)
{
  g_return_if_fail (ancillary != NULL);
  g_return_if_fail (fds != NULL || n_fds == 0);
  append_fds (ancillary, fds, n_fds, TRUE);
}

/**
 * udg_ancillary_add_credentials:
 * @ancillary: a #UdgAncillary
 * @pid: a process id, 0 for the calling process
 * @uid: a user id
 * @gid: a group id
 *
 * Adds an SCM_CREDENTIALS message.  The kernel refuses credentials other
 * than the sender's own unless the sender is privileged.
 *
 * Since: 0.1
 */
void
udg_ancillary_add_credentials (UdgAncillary *ancillary,
                               pid_t         pid,
                               uid_t         uid,
                               gid_t         gid)
{
  UdgCredentials c = { pid == 0 ? getpid () : pid, uid, gid };

  g_return_if_fail (ancillary != NULL);
  g_array_append_val (ancillary->creds, c);
}

/**
 * udg_ancillary_get_fds:
 * @ancillary: a #UdgAncillary
 * @n_fds: (out) (optional): the number of descriptors
 *
 * Gets the file descriptors of every SCM_RIGHTS message in @ancillary.
 * Those received with a datagram stay @ancillary's, which closes them when
 * it is cleared or freed; udg_ancillary_steal_fds() takes them.
 *
 * Returns: (transfer none) (array length=n_fds) (nullable): the descriptors
 *   of every SCM_RIGHTS message, in order; valid until @ancillary changes
 *
 * Since: 0.1
 */
const gint *
udg_ancillary_get_fds (UdgAncillary *ancillary,
                       guint        *n_fds)
{
  g_return_val_if_fail (ancillary != NULL, NULL);
  if (n_fds != NULL)
    *n_fds = ancillary->plain->len;
  return ancillary->plain->len > 0 ? &g_array_index (ancillary->plain, gint, 0) : NULL;
}

/**
 * udg_ancillary_steal_fds:
 * @ancillary: a #UdgAncillary
 * @n_fds: (out) (optional): the number of descriptors
 *
 * Takes every descriptor out of @ancillary: from now on the caller closes
 * them.
 *
 * Returns: (transfer full) (array length=n_fds) (nullable): the descriptors,
 *   free the array with g_free(); %NULL when there are none
 *
 * Since: 0.1
 */
gint *
udg_ancillary_steal_fds (UdgAncillary *ancillary,
                         guint        *n_fds)
{
  gint *fds = NULL;
  guint n;

  g_return_val_if_fail (ancillary != NULL, NULL);
  n = ancillary->plain->len;
  if (n > 0)
    fds = g_memdup2 (ancillary->plain->data, n * sizeof (gint));
  g_array_set_size (ancillary->fds, 0);
  g_array_set_size (ancillary->plain, 0);
  if (n_fds != NULL)
    *n_fds = n;
  return fds;
}

/**
 * udg_ancillary_get_credentials:
 * @ancillary: a #UdgAncillary
 * @n_credentials: (out) (optional): how many
 *
 * Gets the sender credentials (pid, uid, gid) of every SCM_CREDENTIALS
 * message in @ancillary, as the kernel checked them.
 *
 * Returns: (transfer none) (array length=n_credentials) (nullable): the
 *   credentials of every SCM_CREDENTIALS message, in order
 *
 * Since: 0.1
 */
const UdgCredentials *
udg_ancillary_get_credentials (UdgAncillary *ancillary,
                               guint        *n_credentials)
{
  g_return_val_if_fail (ancillary != NULL, NULL);
  if (n_credentials != NULL)
    *n_credentials = ancillary->creds->len;
  return ancillary->creds->len > 0 ? &g_array_index (ancillary->creds, UdgCredentials, 0) : NULL;
}

/**
 * udg_ancillary_is_truncated:
 * @ancillary: a #UdgAncillary
 *
 * Tells whether the control data this object was filled from had been cut
 * (MSG_CTRUNC: the receiver's buffer was too small, or the receiver ran out
 * of descriptors).  The descriptors that did arrive are held as usual.
 *
 * Returns: %TRUE if some control data was lost
 *
 * Since: 0.1
 */
gboolean
udg_ancillary_is_truncated (UdgAncillary *ancillary)
{
  g_return_val_if_fail (ancillary != NULL, FALSE);
  return ancillary->truncated;
}

/**
 * udg_ancillary_is_empty:
 * @ancillary: a #UdgAncillary
 *
 * Tells whether @ancillary holds no control message at all.
 *
 * Returns: %TRUE when @ancillary holds no message
 *
 * Since: 0.1
 */
gboolean
udg_ancillary_is_empty (UdgAncillary *ancillary)
{
  g_return_val_if_fail (ancillary != NULL, TRUE);
  return ancillary->fds->len == 0 && ancillary->creds->len == 0;
}

/**
 * udg_ancillary_iter_init:
 * @iter: (out caller-allocates): an iterator
 * @ancillary: a #UdgAncillary, which must not change while iterating
 *
 * Prepares to walk the messages of @ancillary: one %UDG_ANCILLARY_RIGHTS
 * message with every descriptor, then one %UDG_ANCILLARY_CREDENTIALS message
 * with every credential, each only when not empty (EasyNetwork's
 * `messages`).
 *
 * Since: 0.1
 */
void
udg_ancillary_iter_init (UdgAncillaryIter *iter,
                         UdgAncillary     *ancillary)
{
  g_return_if_fail (iter != NULL);
  g_return_if_fail (ancillary != NULL);
  memset (iter, 0, sizeof *iter);
  iter->dummy1 = ancillary;
  iter->dummy2 = 0;
}

/**
 * udg_ancillary_iter_next:
 * @iter: an iterator
 * @message: (out caller-allocates): the next message
 *
 * Moves @iter to the next control message of the #UdgAncillary given to
 * udg_ancillary_iter_init(), and describes it in @message (borrowed from the
 * ancillary data, not to be freed).
 *
 * Returns: %FALSE when there is no more message
 *
 * Since: 0.1
 */
gboolean
udg_ancillary_iter_next (UdgAncillaryIter    *iter,
                         UdgAncillaryMessage *message)
{
  UdgAncillary *ancillary;

  g_return_val_if_fail (iter != NULL && iter->dummy1 != NULL, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  ancillary = iter->dummy1;

  memset (message, 0, sizeof *message);
  while (iter->dummy2 < 2)
    {
      gint step = iter->dummy2++;

      if (step == 0 && ancillary->plain->len > 0)
        {
          message->type = UDG_ANCILLARY_RIGHTS;
          message->n_items = ancillary->plain->len;
          message->fds = &g_array_index (ancillary->plain, gint, 0);
          return TRUE;
        }
      if (step == 1 && ancillary->creds->len > 0)
        {
          message->type = UDG_ANCILLARY_CREDENTIALS;
          message->n_items = ancillary->creds->len;
          message->credentials = &g_array_index (ancillary->creds, UdgCredentials, 0);
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * udg_ancillary_to_control:
 * @ancillary: a #UdgAncillary
 * @len: (out): the length of the control data
 *
 * Builds the control buffer for sendmsg(): one SCM_RIGHTS message with every
 * descriptor, then one SCM_CREDENTIALS message per credential (EasyNetwork's
 * `as_raw`).
 *
 * Returns: (transfer full) (array length=len) (nullable): the control data,
 *   free it with g_free(); %NULL when @ancillary is empty
 *
 * Since: 0.1
 */
guint8 *
udg_ancillary_to_control (UdgAncillary *ancillary,
                          gsize        *len)
{
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  gsize size = 0;
  guint8 *buf;

  g_return_val_if_fail (ancillary != NULL, NULL);
  g_return_val_if_fail (len != NULL, NULL);

  if (ancillary->plain->len > 0)
    size += CMSG_SPACE (ancillary->plain->len * sizeof (gint));
  size += ancillary->creds->len * CMSG_SPACE (sizeof (struct ucred));
  *len = size;
  if (size == 0)
    return NULL;

  buf = g_malloc0 (size);
  msg.msg_control = buf;
  msg.msg_controllen = size;
  cmsg = CMSG_FIRSTHDR (&msg);
  if (ancillary->plain->len > 0)
    {
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (ancillary->plain->len * sizeof (gint));
      memcpy (CMSG_DATA (cmsg), ancillary->plain->data, ancillary->plain->len * sizeof (gint));
      cmsg = CMSG_NXTHDR (&msg, cmsg);
    }
  for (guint i = 0; i < ancillary->creds->len; i++)
    {
      const UdgCredentials *c = &g_array_index (ancillary->creds, UdgCredentials, i);
      struct ucred uc = { c->pid, c->uid, c->gid };

      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_CREDENTIALS;
      cmsg->cmsg_len = CMSG_LEN (sizeof uc);
      memcpy (CMSG_DATA (cmsg), &uc, sizeof uc);
      cmsg = CMSG_NXTHDR (&msg, cmsg);
    }
  return buf;
}

/* Walks a control buffer, bounded by its length whatever the headers say.
 * Returns FALSE at the first malformed header. */
typedef void (*CmsgFunc) (int level, int type, const guint8 *data, gsize len, gpointer user_data);

static gboolean
walk_control (gconstpointer control, gsize control_len, CmsgFunc func, gpointer user_data)
{
  const guint8 *p = control;
  gsize offset = 0;

  /* offset may pass the end by the last message's alignment padding. */
  while (offset < control_len && control_len - offset >= sizeof (struct cmsghdr))
    {
      struct cmsghdr hdr;
      gsize payload;

      memcpy (&hdr, p + offset, sizeof hdr);
      if (hdr.cmsg_len < CMSG_LEN (0) || hdr.cmsg_len > control_len - offset)
        {
          /* The kernel cuts the last message's length to what fit
           * (MSG_CTRUNC): read what is there, whole items only. */
          if (hdr.cmsg_len >= CMSG_LEN (0))
            func (hdr.cmsg_level, hdr.cmsg_type, p + offset + CMSG_LEN (0),
                  control_len - offset - CMSG_LEN (0), user_data);
          return hdr.cmsg_len >= CMSG_LEN (0);
        }
      payload = hdr.cmsg_len - CMSG_LEN (0);
      func (hdr.cmsg_level, hdr.cmsg_type, p + offset + CMSG_LEN (0), payload, user_data);
      offset += CMSG_ALIGN (hdr.cmsg_len);
    }
  return TRUE;
}

static void
collect_cmsg (int level, int type, const guint8 *data, gsize len, gpointer user_data)
{
  UdgAncillary *ancillary = user_data;

  if (level != SOL_SOCKET)
    return;
  if (type == SCM_RIGHTS)
    {
      guint n = len / sizeof (gint);

      for (guint i = 0; i < n; i++)
        {
          gint fd;

          memcpy (&fd, data + i * sizeof (gint), sizeof fd);
          append_fds (ancillary, &fd, 1, TRUE);
        }
    }
  else if (type == SCM_CREDENTIALS)
    {
      guint n = len / sizeof (struct ucred);

      for (guint i = 0; i < n; i++)
        {
          struct ucred uc;
          UdgCredentials c;

          memcpy (&uc, data + i * sizeof uc, sizeof uc);
          c.pid = uc.pid;
          c.uid = uc.uid;
          c.gid = uc.gid;
          g_array_append_val (ancillary->creds, c);
        }
    }
}

/**
 * udg_ancillary_update_from_raw:
 * @ancillary: a #UdgAncillary
 * @control: (array length=control_len) (element-type guint8) (nullable): control data from
 *   recvmsg()
 * @control_len: its length
 * @msg_flags: the recvmsg() flags of the datagram, or 0
 * @error: return location for a #GError
 *
 * Adds the messages of @control: descriptors of every SCM_RIGHTS message
 * (which @ancillary now owns, even when this fails), credentials of every
 * SCM_CREDENTIALS message; other kinds are ignored and a cut last message is
 * trimmed to whole items.  `MSG_CTRUNC` in @msg_flags marks @ancillary as
 * truncated (see udg_ancillary_is_truncated()), which is not an error.
 *
 * Returns: %FALSE with %UDG_ERROR_PARSE if a message header is malformed;
 *   what came before it was still added
 *
 * Since: 0.1
 */
gboolean
udg_ancillary_update_from_raw (UdgAncillary *ancillary,
                               gconstpointer control,
                               gsize         control_len,
                               gint          msg_flags,
                               GError      **error)
{
  g_return_val_if_fail (ancillary != NULL, FALSE);
  g_return_val_if_fail (control != NULL || control_len == 0, FALSE);

  if (msg_flags & MSG_CTRUNC)
    ancillary->truncated = TRUE;
  if (!walk_control (control, control_len, collect_cmsg, ancillary))
    {
      ancillary->truncated = TRUE;
      g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE,
                           _("Malformed control message header"));
      return FALSE;
    }
  return TRUE;
}

/**
 * udg_ancillary_receive_func:
 * @control: (array length=control_len) (element-type guint8) (nullable): control data
 * @control_len: its length
 * @msg_flags: recvmsg() flags
 * @ancillary: (type UdgAncillary): the #UdgAncillary to fill
 * @error: return location for a #GError
 *
 * A #UdgRecvAncillaryFunc that stores the control messages in the
 * #UdgAncillary given as its data: the C form of EasyNetwork's
 * `RecvAncillaryDataParams(ancillary.update_from_raw)`.
 *
 * Returns: as udg_ancillary_update_from_raw()
 *
 * Since: 0.1
 */
gboolean
udg_ancillary_receive_func (gconstpointer control,
                            gsize         control_len,
                            gint          msg_flags,
                            gpointer      ancillary,
                            GError      **error)
{
  return udg_ancillary_update_from_raw (ancillary, control, control_len, msg_flags, error);
}

/**
 * udg_ancillary_clear:
 * @ancillary: a #UdgAncillary
 *
 * Closes the descriptors @ancillary owns and forgets every message.
 *
 * Since: 0.1
 */
void
udg_ancillary_clear (UdgAncillary *ancillary)
{
  g_return_if_fail (ancillary != NULL);
  for (guint i = 0; i < ancillary->fds->len; i++)
    {
      FdEntry *e = &g_array_index (ancillary->fds, FdEntry, i);

      if (e->owned)
        close (e->fd);
    }
  g_array_set_size (ancillary->fds, 0);
  g_array_set_size (ancillary->plain, 0);
  g_array_set_size (ancillary->creds, 0);
  ancillary->truncated = FALSE;
}

static void
close_cmsg_fds (int level, int type, const guint8 *data, gsize len, gpointer user_data)
{
  guint *count = user_data;

  if (level != SOL_SOCKET || type != SCM_RIGHTS)
    return;
  for (gsize i = 0; i + sizeof (gint) <= len; i += sizeof (gint))
    {
      gint fd;

      memcpy (&fd, data + i, sizeof fd);
      if (count != NULL)
        (*count)++;
      close (fd);
    }
}

/**
 * udg_ancillary_close_control_fds:
 * @control: (array length=control_len) (element-type guint8) (nullable): control data from
 *   recvmsg()
 * @control_len: its length
 *
 * Closes every descriptor of every SCM_RIGHTS message in @control: what to
 * do with control data nobody wants, so that no descriptor leaks.
 *
 * Returns: how many descriptors were closed
 *
 * Since: 0.1
 */
guint
udg_ancillary_close_control_fds (gconstpointer control,
                                 gsize         control_len)
{
  guint count = 0;

  if (control == NULL || control_len == 0)
    return 0;
  walk_control (control, control_len, close_cmsg_fds, &count);
  return count;
}

typedef struct
{
  gboolean found;
  UdgCredentials *out;
} FindCredentials;

static void
find_cmsg_credentials (int level, int type, const guint8 *data, gsize len, gpointer user_data)
{
  FindCredentials *find = user_data;
  struct ucred uc;

  if (find->found || level != SOL_SOCKET || type != SCM_CREDENTIALS || len < sizeof uc)
    return;
  memcpy (&uc, data, sizeof uc);
  find->out->pid = uc.pid;
  find->out->uid = uc.uid;
  find->out->gid = uc.gid;
  find->found = TRUE;
}

/* The first SCM_CREDENTIALS of @control, without touching its fds. */
gboolean
udg_ancillary_find_credentials (gconstpointer   control,
                                gsize           control_len,
                                UdgCredentials *credentials)
{
  FindCredentials find = { FALSE, credentials };
  struct cmsghdr first;

  if (control == NULL || control_len < sizeof first)
    return FALSE;
  /* The kernel writes them first: no walk for the common case. */
  memcpy (&first, control, sizeof first);
  if (first.cmsg_level == SOL_SOCKET && first.cmsg_type == SCM_CREDENTIALS &&
      first.cmsg_len >= CMSG_LEN (sizeof (struct ucred)) && control_len >= CMSG_LEN (sizeof (struct ucred)))
    {
      find_cmsg_credentials (SOL_SOCKET, SCM_CREDENTIALS, (const guint8 *) control + CMSG_LEN (0),
                             sizeof (struct ucred), &find);
      return TRUE;
    }
  walk_control (control, control_len, find_cmsg_credentials, &find);
  return find.found;
}

/* Removes the SCM_CREDENTIALS messages of @control in place, the others kept
 * as they are (the server asks for credentials for itself; a handler that
 * did not ask for them must not see them).  A last message the kernel cut
 * is kept whole. */
void
udg_ancillary_strip_credentials (guint8 *control, gsize *control_len)
{
  gsize in = 0, out = 0, len = *control_len;

  while (in < len && len - in >= sizeof (struct cmsghdr))
    {
      struct cmsghdr hdr;
      gsize step;

      memcpy (&hdr, control + in, sizeof hdr);
      if (hdr.cmsg_len < CMSG_LEN (0) || hdr.cmsg_len > len - in)
        break;
      step = MIN (CMSG_ALIGN (hdr.cmsg_len), len - in);
      if (hdr.cmsg_level != SOL_SOCKET || hdr.cmsg_type != SCM_CREDENTIALS)
        {
          memmove (control + out, control + in, step);
          out += step;
        }
      in += step;
    }
  /* What could not be walked stays, after what was kept. */
  if (in < len)
    {
      memmove (control + out, control + in, len - in);
      out += len - in;
    }
  *control_len = out;
}

/**
 * udg_ancillary_get_type:
 *
 * The #GType of #UdgAncillary, a boxed type: bindings and #GValue copy it with
 * udg_ancillary_ref() and free it with udg_ancillary_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgAncillary, udg_ancillary, udg_ancillary_ref, udg_ancillary_unref)

static UdgCredentials *
credentials_copy (const UdgCredentials *credentials)
{
  return g_memdup2 (credentials, sizeof *credentials);
}

/**
 * udg_credentials_get_type:
 *
 * The #GType of #UdgCredentials, a boxed type copied by value.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgCredentials, udg_credentials, credentials_copy, g_free)
