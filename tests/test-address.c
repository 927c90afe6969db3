/* UdgAddress: pathname, abstract and unnamed Unix socket addresses.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

START_TEST (test_pathname)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UdgAddress) a = udg_address_new_from_string ("/run/app.sock", &error);
  g_autofree gchar *text = NULL;
  struct sockaddr_un sa;
  socklen_t len;

  ck_assert_ptr_nonnull (a);
  ck_assert_int_eq (udg_address_get_kind (a), UDG_ADDRESS_PATHNAME);
  ck_assert_str_eq (udg_address_get_path (a), "/run/app.sock");
  ck_assert_ptr_null (udg_address_get_abstract_name (a, NULL));
  ck_assert (!udg_address_is_unnamed (a));
  text = udg_address_to_string (a);
  ck_assert_str_eq (text, "/run/app.sock");
  len = udg_address_to_sockaddr (a, &sa);
  ck_assert_int_eq (sa.sun_family, AF_UNIX);
  ck_assert_uint_eq (len, offsetof (struct sockaddr_un, sun_path) + strlen ("/run/app.sock") + 1);
  ck_assert_str_eq (sa.sun_path, "/run/app.sock");
}
END_TEST

START_TEST (test_abstract_with_nul)
{
  const guint8 name[] = { 'a', 0, 'b', 0x01, '\\' };
  g_autoptr(UdgAddress) a = udg_address_new_abstract (name, sizeof name, NULL);
  g_autoptr(UdgAddress) back = NULL;
  g_autofree gchar *text = NULL;
  struct sockaddr_un sa;
  socklen_t len;
  gsize n;
  const guint8 *raw;

  ck_assert_int_eq (udg_address_get_kind (a), UDG_ADDRESS_ABSTRACT);
  raw = udg_address_get_abstract_name (a, &n);
  ck_assert_uint_eq (n, sizeof name);
  ck_assert_mem_eq (raw, name, sizeof name);
  text = udg_address_to_string (a);
  ck_assert_str_eq (text, "@a\\x00b\\x01\\x5c");
  len = udg_address_to_sockaddr (a, &sa);
  ck_assert_uint_eq (len, offsetof (struct sockaddr_un, sun_path) + 1 + sizeof name);
  ck_assert_int_eq (sa.sun_path[0], 0);
  back = udg_address_new_from_sockaddr (&sa, len, NULL);
  ck_assert (udg_address_equal (a, back));
  ck_assert_uint_eq (udg_address_hash (a), udg_address_hash (back));
}
END_TEST

START_TEST (test_at_string_is_abstract)
{
  g_autoptr(UdgAddress) a = udg_address_new_from_string ("@notify", NULL);
  g_autoptr(UdgAddress) b = udg_address_new_abstract ((const guint8 *) "notify", 6, NULL);
  g_autoptr(UdgAddress) p = udg_address_new_pathname ("notify", NULL);
  g_autofree gchar *text = udg_address_to_string (a);

  ck_assert (udg_address_equal (a, b));
  ck_assert (!udg_address_equal (a, p));
  ck_assert_str_eq (text, "@notify");
}
END_TEST

START_TEST (test_unnamed)
{
  g_autoptr(UdgAddress) a = udg_address_new_from_string ("", NULL);
  g_autoptr(UdgAddress) b = udg_address_new_unnamed ();
  g_autoptr(UdgAddress) c = udg_address_new_from_sockaddr (NULL, 0, NULL);
  g_autofree gchar *text = udg_address_to_string (a);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  g_autoptr(UdgAddress) d = udg_address_new_from_sockaddr (&sa, sizeof (sa_family_t), NULL);

  ck_assert (udg_address_is_unnamed (a));
  ck_assert (udg_address_equal (a, b));
  ck_assert (udg_address_equal (a, c));
  ck_assert (udg_address_equal (a, d));
  ck_assert_str_eq (text, "<unnamed>");
  ck_assert_uint_eq (udg_address_to_sockaddr (a, &sa), sizeof (sa_family_t));
  ck_assert_ptr_null (udg_address_get_path (a));
}
END_TEST

START_TEST (test_too_long)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *p108 = g_strnfill (108, 'p');
  g_autofree gchar *p109 = g_strnfill (109, 'p');
  g_autofree guint8 *n108 = (guint8 *) g_strnfill (108, 'n');
  g_autoptr(UdgAddress) ok = udg_address_new_pathname (p108, NULL);
  g_autoptr(UdgAddress) bad = udg_address_new_pathname (p109, &error);
  struct sockaddr_un sa;

  ck_assert_ptr_nonnull (ok);
  ck_assert_uint_eq (udg_address_to_sockaddr (ok, &sa), sizeof sa);
  ck_assert_ptr_null (bad);
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert_ptr_null (udg_address_new_abstract (n108, 108, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert_ptr_null (udg_address_new_from_string ("@" "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
}
END_TEST

START_TEST (test_from_sockaddr_rejects)
{
  g_autoptr(GError) error = NULL;
  struct sockaddr_un sa = { .sun_family = AF_INET };

  ck_assert_ptr_null (udg_address_new_from_sockaddr (&sa, sizeof sa, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  sa.sun_family = AF_UNIX;
  ck_assert_ptr_null (udg_address_new_from_sockaddr (&sa, sizeof sa + 1, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
}
END_TEST

/* What the kernel returns: bind real sockets and read their names back. */
START_TEST (test_real_sockets)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "s.sock", NULL);
  int named = udg_test_socket (path);
  int autobound = udg_test_socket ("");
  /* Abstract names are machine-wide: one per process. */
  g_autofree gchar *name = g_strdup_printf ("@udg-test-address-%d", (int) getpid ());
  int abstract = udg_test_socket (name);
  int unbound = udg_test_socket (UDG_TEST_UNBOUND);
  g_autoptr(UdgAddress) a = udg_test_sockname (named);
  g_autoptr(UdgAddress) b = udg_test_sockname (autobound);
  g_autoptr(UdgAddress) c = udg_test_sockname (abstract);
  g_autoptr(UdgAddress) d = udg_test_sockname (unbound);
  g_autoptr(UdgAddress) expected = udg_address_new_from_string (name, NULL);
  gsize n;

  ck_assert_str_eq (udg_address_get_path (a), path);
  /* Linux autobinds 5 hex digits in the abstract namespace. */
  ck_assert_int_eq (udg_address_get_kind (b), UDG_ADDRESS_ABSTRACT);
  udg_address_get_abstract_name (b, &n);
  ck_assert_uint_eq (n, 5);
  ck_assert (udg_address_equal (c, expected));
  ck_assert (udg_address_is_unnamed (d));

  /* A datagram's source address, as recvfrom() gives it. */
  {
    struct sockaddr_un from;
    socklen_t len = sizeof from;
    char buf[8];

    ck_assert (udg_test_sendto (autobound, a, "x", 1));
    ck_assert_int_eq (recvfrom (named, buf, sizeof buf, 0, (struct sockaddr *) &from, &len), 1);
    g_autoptr(UdgAddress) src = udg_address_new_from_sockaddr (&from, len, NULL);
    ck_assert (udg_address_equal (src, b));
    ck_assert (udg_test_sendto (unbound, a, "y", 1));
    len = sizeof from;
    ck_assert_int_eq (recvfrom (named, buf, sizeof buf, 0, (struct sockaddr *) &from, &len), 1);
    g_autoptr(UdgAddress) src2 = udg_address_new_from_sockaddr (&from, len, NULL);
    ck_assert (udg_address_is_unnamed (src2));
  }
  close (named);
  close (autobound);
  close (abstract);
  close (unbound);
  udg_test_rmdir (dir);
}
END_TEST

/* A path of the full 108 bytes of sun_path: the kernel's lengths count the
 * NUL that does not fit; bound, named, sent to and connected to. */
START_TEST (test_full_length_path)
{
  g_autofree gchar *dir = udg_test_tmpdir ();
  g_autofree gchar *server_path = NULL, *client_path = NULL;
  g_autoptr(UdgAddress) server_address = NULL, named = NULL, peer = NULL, src = NULL;
  g_autoptr(UdgEndpoint) endpoint = NULL;
  g_autoptr(UdgSerializer) ser = udg_ascii_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (ser);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *got = NULL;
  struct sockaddr_un from;
  socklen_t len;
  gsize fill = 108 - strlen (dir) - 1;
  g_autofree gchar *a = g_strnfill (fill, 's');
  g_autofree gchar *b = g_strnfill (fill, 'c');
  char buf[8];
  int server, client;

  ck_assert_uint_gt (fill, 8);
  server_path = g_build_filename (dir, a, NULL);
  client_path = g_build_filename (dir, b, NULL);
  ck_assert_uint_eq (strlen (server_path), 108);
  server = udg_test_socket (server_path);
  named = udg_test_sockname (server);
  ck_assert_str_eq (udg_address_get_path (named), server_path);

  /* A client bound to a 108-byte path too, connected to the server. */
  server_address = udg_address_new_pathname (server_path, NULL);
  client = udg_test_socket (client_path);
  len = udg_address_to_sockaddr (server_address, &from);
  ck_assert_int_eq (connect (client, (struct sockaddr *) &from, len), 0);
  len = sizeof from;
  ck_assert_int_eq (getpeername (client, (struct sockaddr *) &from, &len), 0);
  peer = udg_address_new_from_sockaddr (&from, len, &error);
  ck_assert_msg (peer != NULL, "%s", error ? error->message : "");
  ck_assert (udg_address_equal (peer, server_address));
  ck_assert_int_eq (send (client, "x", 1, 0), 1);
  len = sizeof from;
  ck_assert_int_eq (recvfrom (server, buf, sizeof buf, 0, (struct sockaddr *) &from, &len), 1);
  src = udg_address_new_from_sockaddr (&from, len, &error);
  ck_assert_msg (src != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq (udg_address_get_path (src), client_path);
  close (client);
  unlink (client_path);

  /* The endpoint of `udgram send --bind`, both ends 108 bytes. */
  endpoint = udg_endpoint_new (server_path, client_path, p, &error);
  ck_assert_msg (endpoint != NULL, "%s", error ? error->message : "");
  ck_assert (udg_endpoint_send_packet (endpoint, "hello", 2.0, NULL, &error));
  len = sizeof from;
  ck_assert_int_eq (recvfrom (server, buf, sizeof buf, 0, (struct sockaddr *) &from, &len), 5);
  {
    /* sendto() refuses the length recvfrom() gave: back through UdgAddress. */
    g_autoptr(UdgAddress) sender = udg_address_new_from_sockaddr (&from, len, NULL);

    ck_assert (udg_test_sendto (server, sender, "back", 4));
  }
  got = udg_endpoint_recv_packet (endpoint, 2.0, NULL, &error);
  ck_assert_msg (got != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq (got, "back");
  g_clear_pointer (&endpoint, udg_endpoint_unref);
  close (server);
  udg_test_rmdir (dir);
}
END_TEST

START_TEST (test_hash_table)
{
  g_autoptr(GHashTable) table = g_hash_table_new_full (udg_address_hash, udg_address_equal,
                                                        (GDestroyNotify) udg_address_unref, NULL);
  g_autoptr(UdgAddress) probe = udg_address_new_from_string ("/x", NULL);

  g_hash_table_add (table, udg_address_new_from_string ("/x", NULL));
  g_hash_table_add (table, udg_address_new_from_string ("@x", NULL));
  g_hash_table_add (table, udg_address_new_from_string ("", NULL));
  g_hash_table_add (table, udg_address_new_unnamed ());
  ck_assert_uint_eq (g_hash_table_size (table), 3);
  ck_assert (g_hash_table_contains (table, probe));
}
END_TEST

START_TEST (test_ref)
{
  UdgAddress *a = udg_address_new_from_string ("/r", NULL);

  ck_assert_ptr_eq (udg_address_ref (a), a);
  udg_address_unref (a);
  ck_assert_str_eq (udg_address_get_path (a), "/r");
  udg_address_unref (a);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgAddress");
  TCase *tc = udg_test_tcase_create ("core");

  tcase_add_test (tc, test_pathname);
  tcase_add_test (tc, test_abstract_with_nul);
  tcase_add_test (tc, test_at_string_is_abstract);
  tcase_add_test (tc, test_unnamed);
  tcase_add_test (tc, test_too_long);
  tcase_add_test (tc, test_from_sockaddr_rejects);
  tcase_add_test (tc, test_real_sockets);
  tcase_add_test (tc, test_full_length_path);
  tcase_add_test (tc, test_hash_table);
  tcase_add_test (tc, test_ref);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
