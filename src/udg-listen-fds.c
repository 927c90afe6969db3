/* udgram - the sockets the service manager passed to this process
 *
 * systemd's LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES protocol
 * (sd_listen_fds(3)), read without libsystemd: the descriptors start at 3,
 * LISTEN_PID names the process they are for, LISTEN_FDNAMES gives each a
 * name (FileDescriptorName= of a socket unit, or FDNAME= of a socket the
 * service stored in the manager's fd store).  The environment is read at
 * each call, as sd_listen_fds() does; a descriptor handed out once (to the
 * caller of udg_listen_fds(), or to a server that serves it) is not handed
 * out again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

/* The descriptors handed out so far (a set of fds). */
static pthread_mutex_t taken_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *taken;

/* The descriptors the environment passes to this process, and their names
 * (NULL when LISTEN_FDNAMES does not name each of them): TRUE with both
 * empty when none is passed to us; FALSE with an error when the variables
 * are malformed. */
static gboolean
parse_environment (GArray **fds, GStrv *names, GError **error)
{
  const gchar *pid_text = g_getenv ("LISTEN_PID");
  const gchar *fds_text = g_getenv ("LISTEN_FDS");
  const gchar *names_text = g_getenv ("LISTEN_FDNAMES");
  guint64 pid, n;

  *fds = g_array_new (FALSE, FALSE, sizeof (gint));
  *names = NULL;
  if (pid_text == NULL || fds_text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXINT, &pid, NULL) ||
      !g_ascii_string_to_unsigned (fds_text, 10, 0, 4096, &n, NULL))
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Malformed LISTEN_PID or LISTEN_FDS: '%s', '%s'"), pid_text, fds_text);
      g_clear_pointer (fds, g_array_unref);
      return FALSE;
    }
  if ((pid_t) pid != getpid ())
    return TRUE; /* meant for another process */
  for (gint fd = 3; fd < 3 + (gint) n; fd++)
    {
      fcntl (fd, F_SETFD, FD_CLOEXEC);
      g_array_append_val (*fds, fd);
    }
  if (names_text != NULL)
    {
      *names = g_strsplit (names_text, ":", -1);
      if (g_strv_length (*names) != n)
        g_clear_pointer (names, g_strfreev);
    }
  return TRUE;
}

/* With taken_lock held. */
static gboolean
is_taken_unlocked (gint fd)
{
  return taken != NULL && g_hash_table_contains (taken, GINT_TO_POINTER (fd));
}

static void
take_unlocked (gint fd)
{
  if (taken == NULL)
    taken = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_hash_table_add (taken, GINT_TO_POINTER (fd));
}

/* The address an AF_UNIX datagram socket is bound to, or NULL. */
static UdgAddress *
bound_address (gint fd)
{
  struct sockaddr_un sa;
  socklen_t len = sizeof sa;
  int domain = 0, type = 0;
  socklen_t optlen = sizeof domain;

  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &domain, &optlen) < 0 || domain != AF_UNIX ||
      (optlen = sizeof type, getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &optlen) < 0) || type != SOCK_DGRAM ||
      getsockname (fd, (struct sockaddr *) &sa, &len) < 0)
    return NULL;
  return udg_address_new_from_sockaddr (&sa, len, NULL);
}

/* Whether @a and @b name the same socket: the same abstract name, or the
 * same path once made absolute (a server asked for "./app.sock" gets the
 * socket a manager bound at "/srv/app/app.sock"). */
static gboolean
same_place (const UdgAddress *a, const UdgAddress *b)
{
  const gchar *pa = udg_address_get_path (a);
  const gchar *pb = udg_address_get_path (b);

  if (pa != NULL && pb != NULL)
    {
      g_autofree gchar *ca = g_canonicalize_filename (pa, NULL);
      g_autofree gchar *cb = g_canonicalize_filename (pb, NULL);

      return g_str_equal (ca, cb);
    }
  return udg_address_equal (a, b);
}

/*
 * udg_listen_fds_take:
 * @address: where the server would bind
 * @name: (nullable): a descriptor name (LISTEN_FDNAMES) to look for first
 * @bound: (out) (transfer full): the address the socket is bound to
 *
 * The datagram socket the service manager passed to this process named
 * @name, or else bound to @address, not handed out before; -1 when there is
 * none.  It is handed out to the caller, made close-on-exec.  Malformed
 * variables are one WARNING, and no socket.
 */
gint
udg_listen_fds_take (const UdgAddress *address, const gchar *name, UdgAddress **bound)
{
  g_autoptr(GArray) fds = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(GError) error = NULL;
  gint found = -1;

  *bound = NULL;
  if (!parse_environment (&fds, &names, &error))
    {
      udg_log (G_LOG_LEVEL_WARNING, error, "The sockets of the service manager are ignored");
      return -1;
    }
  pthread_mutex_lock (&taken_lock);
  for (gint pass = name != NULL ? 0 : 1; pass < 2 && found < 0; pass++)
    for (guint i = 0; i < fds->len && found < 0; i++)
      {
        gint fd = g_array_index (fds, gint, i);
        g_autoptr(UdgAddress) at = NULL;

        if (is_taken_unlocked (fd))
          continue;
        /* Pass 0: by name; pass 1: by address. */
        if (pass == 0 && (names == NULL || !g_str_equal (names[i], name)))
          continue;
        at = bound_address (fd);
        if (at == NULL || udg_address_is_unnamed (at) || (pass == 1 && !same_place (at, address)))
          continue;
        take_unlocked (fd);
        found = fd;
        *bound = g_steal_pointer (&at);
      }
  pthread_mutex_unlock (&taken_lock);
  return found;
}

/**
 * udg_listen_fds:
 * @unset_environment: remove LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from
 *   the environment, so that children do not take them as theirs
 * @error: return location for a #GError
 *
 * The sockets systemd passed to this process (socket activation, or the
 * sockets a previous run stored in its fd store): the `LISTEN_PID` /
 * `LISTEN_FDS` protocol of sd_listen_fds(3), read without libsystemd.  The
 * descriptors start at 3 and are made close-on-exec.  A descriptor is
 * handed out once: those a server already serves (see
 * udg_server_options_set_inherit()) or an earlier call returned are left
 * out.
 *
 * Returns: (transfer full) (element-type gint): the descriptors, empty when
 *   none was passed to this process; %NULL with %UDG_ERROR_INVALID_ARGUMENT
 *   when the variables are malformed
 *
 * Since: 0.1
 */
GArray *
udg_listen_fds (gboolean  unset_environment,
                GError  **error)
{
  g_autoptr(GArray) fds = NULL;
  g_auto(GStrv) names = NULL;
  GArray *result = NULL;

  if (parse_environment (&fds, &names, error))
    {
      result = g_array_new (FALSE, FALSE, sizeof (gint));
      pthread_mutex_lock (&taken_lock);
      for (guint i = 0; i < fds->len; i++)
        {
          gint fd = g_array_index (fds, gint, i);

          if (!is_taken_unlocked (fd))
            {
              take_unlocked (fd);
              g_array_append_val (result, fd);
            }
        }
      pthread_mutex_unlock (&taken_lock);
    }
  if (unset_environment)
    {
      g_unsetenv ("LISTEN_PID");
      g_unsetenv ("LISTEN_FDS");
      g_unsetenv ("LISTEN_FDNAMES");
    }
  return result;
}
