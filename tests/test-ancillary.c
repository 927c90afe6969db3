/* UdgAncillary: descriptors and credentials through real sockets.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static int pair[2];
static guint baseline;

static void
setup (void)
{
  ck_assert_int_eq (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  baseline = udg_test_count_fds ();
}

static void
teardown (void)
{
  close (pair[0]);
  close (pair[1]);
}

static void
send_with (UdgAncillary *ancillary, const gchar *text)
{
  gsize len;
  g_autofree guint8 *control = udg_ancillary_to_control (ancillary, &len);
  struct iovec iov = { (void *) text, strlen (text) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = len };

  ck_assert_int_eq (sendmsg (pair[0], &msg, 0), (ssize_t) strlen (text));
}

/* Receives with a control buffer of @bufsize bytes into a new ancillary. */
static UdgAncillary *
recv_into (gsize bufsize, gint *flags)
{
  g_autofree guint8 *control = g_malloc0 (MAX (bufsize, 1));
  char data[64];
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = bufsize };
  UdgAncillary *ancillary = udg_ancillary_new ();
  g_autoptr(GError) error = NULL;

  ck_assert_int_ge (recvmsg (pair[1], &msg, MSG_CMSG_CLOEXEC), 0);
  ck_assert (udg_ancillary_update_from_raw (ancillary, control, msg.msg_controllen, msg.msg_flags, &error));
  if (flags != NULL)
    *flags = msg.msg_flags;
  return ancillary;
}

START_TEST (test_pass_fds)
{
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  g_autoptr(UdgAncillary) in = NULL;
  int p1[2], p2[2];
  const gint *fds;
  guint n;
  char buf[8];

  ck_assert_int_eq (pipe (p1), 0);
  ck_assert_int_eq (pipe (p2), 0);
  {
    gint wr[2] = { p1[1], p2[1] };
    udg_ancillary_add_fds (out, wr, 2);
  }
  send_with (out, "fds");
  udg_ancillary_unref (g_steal_pointer (&out)); /* add_fds: never closes ours */
  ck_assert (udg_test_fd_is_open (p1[1]));

  in = recv_into (CMSG_SPACE (8 * sizeof (int)), NULL);
  fds = udg_ancillary_get_fds (in, &n);
  ck_assert_uint_eq (n, 2);
  ck_assert (!udg_ancillary_is_truncated (in));
  /* Write through the received copies, read from the original pipes. */
  ck_assert_int_eq (write (fds[0], "A", 1), 1);
  ck_assert_int_eq (write (fds[1], "B", 1), 1);
  ck_assert_int_eq (read (p1[0], buf, 1), 1);
  ck_assert_int_eq (buf[0], 'A');
  ck_assert_int_eq (read (p2[0], buf, 1), 1);
  ck_assert_int_eq (buf[0], 'B');
  ck_assert_uint_eq (udg_test_count_fds (), baseline + 4 + 2);

  /* Freeing the received ancillary closes its fds, no more. */
  udg_ancillary_unref (g_steal_pointer (&in));
  ck_assert_uint_eq (udg_test_count_fds (), baseline + 4);
  close (p1[0]);
  close (p1[1]);
  close (p2[0]);
  close (p2[1]);
  ck_assert_uint_eq (udg_test_count_fds (), baseline);
}
END_TEST

START_TEST (test_steal_fds)
{
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  g_autoptr(UdgAncillary) in = NULL;
  g_autofree gint *stolen = NULL;
  int p[2];
  guint n;

  ck_assert_int_eq (pipe (p), 0);
  udg_ancillary_add_fds (out, &p[0], 1);
  send_with (out, "x");
  in = recv_into (CMSG_SPACE (sizeof (int)), NULL);
  stolen = udg_ancillary_steal_fds (in, &n);
  ck_assert_uint_eq (n, 1);
  ck_assert_ptr_null (udg_ancillary_get_fds (in, &n));
  ck_assert_uint_eq (n, 0);
  g_clear_pointer (&in, udg_ancillary_unref);
  ck_assert (udg_test_fd_is_open (stolen[0]));
  close (stolen[0]);
  close (p[0]);
  close (p[1]);
  ck_assert_uint_eq (udg_test_count_fds (), baseline);
}
END_TEST

START_TEST (test_credentials)
{
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  g_autoptr(UdgAncillary) in = NULL;
  const UdgCredentials *creds;
  int one = 1;
  guint n;

  ck_assert_int_eq (setsockopt (pair[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
  udg_ancillary_add_credentials (out, 0, getuid (), getgid ());
  creds = udg_ancillary_get_credentials (out, &n);
  ck_assert_uint_eq (n, 1);
  ck_assert_int_eq (creds[0].pid, getpid ()); /* pid 0 means "mine" */
  send_with (out, "c");
  in = recv_into (CMSG_SPACE (sizeof (struct ucred)) * 2, NULL);
  creds = udg_ancillary_get_credentials (in, &n);
  ck_assert_uint_eq (n, 1);
  ck_assert_int_eq (creds[0].pid, getpid ());
  ck_assert_int_eq (creds[0].uid, getuid ());
  ck_assert_int_eq (creds[0].gid, getgid ());

  /* Even without an explicit message, SO_PASSCRED delivers the sender's. */
  ck_assert_int_eq (send (pair[0], "d", 1, 0), 1);
  g_clear_pointer (&in, udg_ancillary_unref);
  in = recv_into (CMSG_SPACE (sizeof (struct ucred)), NULL);
  creds = udg_ancillary_get_credentials (in, &n);
  ck_assert_uint_eq (n, 1);
  ck_assert_int_eq (creds[0].pid, getpid ());
}
END_TEST

/* 3 fds into a control buffer for 1: MSG_CTRUNC, and whatever arrived is
 * held and closed with the object: nothing leaks. */
START_TEST (test_ctrunc_no_leak)
{
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  UdgAncillary *in;
  int p[2];
  gint three[3];
  gint flags = 0;
  guint n;

  ck_assert_int_eq (pipe (p), 0);
  three[0] = three[1] = three[2] = p[1];
  udg_ancillary_add_fds (out, three, 3);
  send_with (out, "t");
  in = recv_into (CMSG_SPACE (sizeof (int)), &flags);
  ck_assert (flags & MSG_CTRUNC);
  ck_assert (udg_ancillary_is_truncated (in));
  udg_ancillary_get_fds (in, &n);
  ck_assert_uint_ge (n, 1);
  ck_assert_uint_le (n, 3);
  udg_ancillary_unref (in);
  close (p[0]);
  close (p[1]);
  ck_assert_uint_eq (udg_test_count_fds (), baseline);
}
END_TEST

START_TEST (test_iter_and_roundtrip)
{
  g_autoptr(UdgAncillary) a = udg_ancillary_new ();
  g_autoptr(UdgAncillary) b = udg_ancillary_new ();
  UdgAncillaryIter iter;
  UdgAncillaryMessage m;
  gint fds[2] = { 0, 1 };
  g_autofree guint8 *control = NULL;
  gsize len;
  guint n;

  ck_assert (udg_ancillary_is_empty (a));
  ck_assert_ptr_null (udg_ancillary_to_control (a, &len));
  ck_assert_uint_eq (len, 0);
  udg_ancillary_iter_init (&iter, a);
  ck_assert (!udg_ancillary_iter_next (&iter, &m));

  udg_ancillary_add_fds (a, fds, 2);
  udg_ancillary_add_credentials (a, 42, 1, 2);
  udg_ancillary_add_credentials (a, 43, 3, 4);
  udg_ancillary_iter_init (&iter, a);
  ck_assert (udg_ancillary_iter_next (&iter, &m));
  ck_assert_int_eq (m.type, UDG_ANCILLARY_RIGHTS);
  ck_assert_uint_eq (m.n_items, 2);
  ck_assert (udg_ancillary_iter_next (&iter, &m));
  ck_assert_int_eq (m.type, UDG_ANCILLARY_CREDENTIALS);
  ck_assert_uint_eq (m.n_items, 2);
  ck_assert_int_eq (m.credentials[1].pid, 43);
  ck_assert (!udg_ancillary_iter_next (&iter, &m));

  /* as_raw -> update_from_raw gives the same messages (without owning 0/1:
   * steal them back before freeing). */
  control = udg_ancillary_to_control (a, &len);
  ck_assert_uint_eq (len, CMSG_SPACE (2 * sizeof (int)) + 2 * CMSG_SPACE (sizeof (struct ucred)));
  ck_assert (udg_ancillary_update_from_raw (b, control, len, 0, NULL));
  g_free (udg_ancillary_steal_fds (b, &n));
  ck_assert_uint_eq (n, 2);
  ck_assert_uint_eq (udg_ancillary_get_credentials (b, &n)[0].uid, 1);
  ck_assert_uint_eq (n, 2);
}
END_TEST

START_TEST (test_malformed_control)
{
  g_autoptr(UdgAncillary) a = udg_ancillary_new ();
  g_autoptr(GError) error = NULL;
  struct cmsghdr bad = { .cmsg_len = 2, .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS };
  guint8 unknown[CMSG_SPACE (4)] = { 0 };
  struct cmsghdr *h = (struct cmsghdr *) unknown;

  ck_assert (!udg_ancillary_update_from_raw (a, &bad, sizeof bad, 0, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_PARSE));
  ck_assert (udg_ancillary_is_truncated (a));
  /* An unknown kind is ignored. */
  udg_ancillary_clear (a);
  h->cmsg_len = CMSG_LEN (4);
  h->cmsg_level = 12345;
  h->cmsg_type = 7;
  ck_assert (udg_ancillary_update_from_raw (a, unknown, sizeof unknown, 0, NULL));
  ck_assert (udg_ancillary_is_empty (a));
  /* The last message's padding runs past the end of the buffer. */
  {
    guint8 padded[CMSG_SPACE (sizeof (int)) + 4] = { 0 };
    struct cmsghdr *c = (struct cmsghdr *) padded;

    c->cmsg_len = CMSG_LEN (sizeof (struct ucred)) - 4; /* 24: aligned to 24 */
    c->cmsg_level = 54321;
    c->cmsg_type = 1;
    ck_assert (udg_ancillary_update_from_raw (a, padded, CMSG_LEN (sizeof (struct ucred)) - 4 + 2, 0, NULL));
    ck_assert (udg_ancillary_is_empty (a));
  }
  /* A short buffer is not a header. */
  ck_assert (udg_ancillary_update_from_raw (a, unknown, 3, 0, NULL));
  ck_assert (udg_ancillary_is_empty (a));
}
END_TEST

START_TEST (test_close_control_fds)
{
  g_autoptr(UdgAncillary) out = udg_ancillary_new ();
  int p[2];
  guint8 control[CMSG_SPACE (4 * sizeof (int))];
  char data[8];
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
  gint four[4];

  ck_assert_int_eq (pipe (p), 0);
  four[0] = four[1] = four[2] = four[3] = p[0];
  udg_ancillary_add_fds (out, four, 4);
  send_with (out, "x");
  ck_assert_int_ge (recvmsg (pair[1], &msg, MSG_CMSG_CLOEXEC), 0);
  ck_assert_uint_eq (udg_test_count_fds (), baseline + 2 + 4);
  ck_assert_uint_eq (udg_ancillary_close_control_fds (control, msg.msg_controllen), 4);
  ck_assert_uint_eq (udg_test_count_fds (), baseline + 2);
  close (p[0]);
  close (p[1]);
}
END_TEST

START_TEST (test_take_fds)
{
  UdgAncillary *a = udg_ancillary_new ();
  int p[2];

  ck_assert_int_eq (pipe (p), 0);
  udg_ancillary_take_fds (a, p, 2);
  udg_ancillary_ref (a);
  udg_ancillary_unref (a);
  ck_assert (udg_test_fd_is_open (p[0]));
  udg_ancillary_unref (a);
  ck_assert (!udg_test_fd_is_open (p[0]));
  ck_assert (!udg_test_fd_is_open (p[1]));
  ck_assert_uint_eq (udg_test_count_fds (), baseline);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgAncillary");
  TCase *tc = udg_test_tcase_create ("core");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_pass_fds);
  tcase_add_test (tc, test_steal_fds);
  tcase_add_test (tc, test_credentials);
  tcase_add_test (tc, test_ctrunc_no_leak);
  tcase_add_test (tc, test_iter_and_roundtrip);
  tcase_add_test (tc, test_malformed_control);
  tcase_add_test (tc, test_close_control_fds);
  tcase_add_test (tc, test_take_fds);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
