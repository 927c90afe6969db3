/* udgram tests - shared helpers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

gchar *
udg_test_tmpdir (void)
{
  /* Short, under /tmp: sun_path holds 108 bytes. */
  gchar *dir = g_strdup ("/tmp/udgt-XXXXXX");

  if (g_mkdtemp (dir) == NULL)
    ck_abort_msg ("mkdtemp: %s", g_strerror (errno));
  return dir;
}

static void
rm_tree (const gchar *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const gchar *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            rm_tree (child);
          else
            unlink (child);
        }
      g_dir_close (dir);
      rmdir (path);
    }
}

void
udg_test_rmdir (const gchar *dir)
{
  if (dir != NULL)
    rm_tree (dir);
}

int
udg_test_socket (const gchar *bind_to)
{
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  ck_assert_int_ge (fd, 0);
  if (bind_to != UDG_TEST_UNBOUND)
    {
      g_autoptr(UdgAddress) address = udg_address_new_from_string (bind_to != NULL ? bind_to : "", NULL);
      struct sockaddr_un sa;
      socklen_t len;

      ck_assert_ptr_nonnull (address);
      len = udg_address_to_sockaddr (address, &sa);
      ck_assert_msg (bind (fd, (struct sockaddr *) &sa, len) == 0, "bind: %s", g_strerror (errno));
    }
  return fd;
}

gboolean
udg_test_sendto (int fd, UdgAddress *to, const void *data, gsize len)
{
  struct sockaddr_un sa;
  socklen_t salen = udg_address_to_sockaddr (to, &sa);

  return sendto (fd, data, len, 0, (struct sockaddr *) &sa, salen) == (ssize_t) len;
}

gboolean
udg_test_send_str (int fd, UdgAddress *to, const gchar *text)
{
  return udg_test_sendto (fd, to, text, strlen (text));
}

gboolean
udg_test_send_fds (int fd, UdgAddress *to, const gchar *text, const int *fds, guint n)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  g_autofree guint8 *control = NULL;
  struct sockaddr_un sa;
  struct iovec iov = { (void *) text, strlen (text) };
  struct msghdr msg = { 0 };
  gsize control_len;

  udg_ancillary_add_fds (ancillary, fds, n);
  control = udg_ancillary_to_control (ancillary, &control_len);
  msg.msg_name = &sa;
  msg.msg_namelen = udg_address_to_sockaddr (to, &sa);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = control_len;
  return sendmsg (fd, &msg, 0) == (ssize_t) iov.iov_len;
}

static gboolean
wait_readable (int fd, int timeout_ms)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  gint64 deadline = udg_test_now_ms () + timeout_ms;

  for (;;)
    {
      int left = (int) MAX (0, deadline - udg_test_now_ms ());
      int r = poll (&pfd, 1, left);

      if (r > 0)
        return TRUE;
      if (r == 0 || errno != EINTR)
        return FALSE;
    }
}

gssize
udg_test_recv (int fd, void *buf, gsize size, int timeout_ms)
{
  if (!wait_readable (fd, timeout_ms))
    return -1;
  return recv (fd, buf, size, MSG_DONTWAIT);
}

gchar *
udg_test_recv_str (int fd, int timeout_ms)
{
  gchar buf[65536];
  gssize n = udg_test_recv (fd, buf, sizeof buf, timeout_ms);

  return n < 0 ? NULL : g_strndup (buf, n);
}

gssize
udg_test_recv_fds (int fd, void *buf, gsize size, int *fds, guint *n_fds, int timeout_ms)
{
  union { struct cmsghdr align; guint8 buf[CMSG_SPACE (64 * sizeof (int))]; } control;
  struct iovec iov = { buf, size };
  struct msghdr msg = { 0 };
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  g_autofree gint *got = NULL;
  guint n = 0;
  gssize r;

  if (!wait_readable (fd, timeout_ms))
    return -1;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  r = recvmsg (fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (r < 0)
    return r;
  udg_ancillary_update_from_raw (ancillary, control.buf, msg.msg_controllen, msg.msg_flags, NULL);
  got = udg_ancillary_steal_fds (ancillary, &n);
  for (guint i = 0; i < n && i < *n_fds; i++)
    fds[i] = got[i];
  for (guint i = *n_fds; i < n; i++)
    close (got[i]);
  *n_fds = MIN (n, *n_fds);
  return r;
}

UdgAddress *
udg_test_sockname (int fd)
{
  struct sockaddr_un sa;
  socklen_t len = sizeof sa;

  ck_assert_int_eq (getsockname (fd, (struct sockaddr *) &sa, &len), 0);
  return udg_address_new_from_sockaddr (&sa, len, NULL);
}

guint
udg_test_count_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  ck_assert_ptr_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n - 1; /* the directory's own descriptor */
}

gboolean
udg_test_fd_is_open (int fd)
{
  return fcntl (fd, F_GETFD) >= 0;
}

gint64
udg_test_now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

/* --- log capture ------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static GPtrArray *log_records;

static void
record_free (gpointer data)
{
  UdgTestLogRecord *r = data;

  g_free (r->domain);
  g_free (r->text);
  g_free (r->error);
  g_free (r->error_name);
  g_free (r->remedy);
  g_free (r);
}

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const gchar *domain = NULL, *message = NULL, *text = NULL, *error = NULL, *name = NULL, *remedy = NULL;
  UdgTestLogRecord *r;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
      else if (g_str_equal (fields[i].key, "UDG_TEXT"))
        text = fields[i].value;
      else if (g_str_equal (fields[i].key, "UDG_ERROR_MESSAGE"))
        error = fields[i].value;
      else if (g_str_equal (fields[i].key, "UDG_ERROR_NAME"))
        name = fields[i].value;
      else if (g_str_equal (fields[i].key, "UDG_REMEDY"))
        remedy = fields[i].value;
    }
  if (g_getenv ("UDG_TEST_VERBOSE") != NULL)
    g_log_writer_standard_streams (level, fields, n_fields, user_data);
  if (domain == NULL || !g_str_has_prefix (domain, "udgram"))
    {
      if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_ERROR))
        return g_log_writer_standard_streams (level, fields, n_fields, user_data);
      return G_LOG_WRITER_HANDLED;
    }
  r = g_new0 (UdgTestLogRecord, 1);
  r->level = level & G_LOG_LEVEL_MASK;
  r->domain = g_strdup (domain);
  r->text = g_strdup (text != NULL ? text : message);
  r->error = g_strdup (error);
  r->error_name = g_strdup (name);
  r->remedy = g_strdup (remedy);
  pthread_mutex_lock (&log_lock);
  g_ptr_array_add (log_records, r);
  pthread_cond_broadcast (&log_cond);
  pthread_mutex_unlock (&log_lock);
  return G_LOG_WRITER_HANDLED;
}

void
udg_test_log_install (void)
{
  pthread_mutex_lock (&log_lock);
  if (log_records == NULL)
    log_records = g_ptr_array_new_with_free_func (record_free);
  pthread_mutex_unlock (&log_lock);
  g_log_set_writer_func (capture_writer, NULL, NULL);
}

void
udg_test_log_clear (void)
{
  pthread_mutex_lock (&log_lock);
  g_ptr_array_set_size (log_records, 0);
  pthread_mutex_unlock (&log_lock);
}

static guint
count_unlocked (GLogLevelFlags level, const gchar *prefix)
{
  guint n = 0;

  for (guint i = 0; i < log_records->len; i++)
    {
      UdgTestLogRecord *r = g_ptr_array_index (log_records, i);

      if ((r->level & level) && (prefix == NULL || g_str_has_prefix (r->text, prefix)))
        n++;
    }
  return n;
}

guint
udg_test_log_count (GLogLevelFlags level)
{
  return udg_test_log_count_text (level, NULL);
}

guint
udg_test_log_count_text (GLogLevelFlags level, const gchar *prefix)
{
  guint n;

  pthread_mutex_lock (&log_lock);
  n = count_unlocked (level, prefix);
  pthread_mutex_unlock (&log_lock);
  return n;
}

gboolean
udg_test_wait_log (GLogLevelFlags level, const gchar *prefix, guint count, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean ok;

  pthread_mutex_lock (&log_lock);
  while (!(ok = count_unlocked (level, prefix) >= count))
    {
      gint64 now = g_get_monotonic_time ();
      struct timespec ts;

      if (now >= deadline)
        break;
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_nsec += 10 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000)
        {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
      pthread_cond_timedwait (&log_cond, &log_lock, &ts);
    }
  pthread_mutex_unlock (&log_lock);
  return ok;
}

GPtrArray *
udg_test_log_records (void)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (record_free);

  pthread_mutex_lock (&log_lock);
  for (guint i = 0; i < log_records->len; i++)
    {
      UdgTestLogRecord *r = g_ptr_array_index (log_records, i), *c = g_new0 (UdgTestLogRecord, 1);

      c->level = r->level;
      c->domain = g_strdup (r->domain);
      c->text = g_strdup (r->text);
      c->error = g_strdup (r->error);
      c->error_name = g_strdup (r->error_name);
      c->remedy = g_strdup (r->remedy);
      g_ptr_array_add (copy, c);
    }
  pthread_mutex_unlock (&log_lock);
  return copy;
}

int
udg_test_run (Suite *suite)
{
  SRunner *runner = srunner_create (suite);
  int failed;

  udg_test_log_install ();
  srunner_run_all (runner, CK_NORMAL);
  failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}

static void
clear_logs_fixture (void)
{
  udg_test_log_clear ();
}

TCase *
udg_test_tcase_create (const char *name)
{
  TCase *tc = tcase_create (name);

  tcase_add_checked_fixture (tc, clear_logs_fixture, NULL);
  return tc;
}

const gchar *
udg_test_sanitizer (void)
{
  const gchar *s = g_getenv ("SANITIZER");

  return s == NULL || *s == '\0' || g_str_equal (s, "no") ? NULL : s;
}
