/* UdgError: the error domain and its codes.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

#include <math.h>

START_TEST (test_quark)
{
  ck_assert_uint_ne (UDG_ERROR, 0);
  ck_assert_str_eq (g_quark_to_string (UDG_ERROR), "udg-error-quark");
  ck_assert_uint_eq (UDG_ERROR, udg_error_quark ());
}
END_TEST

START_TEST (test_codes_are_distinct)
{
  const gint codes[] = {
    UDG_ERROR_FAILED, UDG_ERROR_PARSE, UDG_ERROR_TIMED_OUT, UDG_ERROR_CLOSED,
    UDG_ERROR_SERVER_CLOSED, UDG_ERROR_ALREADY_RUNNING, UDG_ERROR_BUSY, UDG_ERROR_UNSUPPORTED,
    UDG_ERROR_INVALID_ARGUMENT, UDG_ERROR_ADDRESS_IN_USE, UDG_ERROR_WOULD_BLOCK, UDG_ERROR_TRUNCATED,
  };

  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    for (guint j = i + 1; j < G_N_ELEMENTS (codes); j++)
      ck_assert_int_ne (codes[i], codes[j]);
}
END_TEST

/* Errors reach users through the API: an invalid address gives
 * INVALID_ARGUMENT in the UDG_ERROR domain with a message naming the path. */
START_TEST (test_error_from_api)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *longpath = g_strnfill (200, 'x');
  g_autoptr(UdgAddress) address = udg_address_new_pathname (longpath, &error);

  ck_assert_ptr_null (address);
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT));
  ck_assert_ptr_nonnull (strstr (error->message, "xxxx"));
}
END_TEST

/* A server that is closed refuses to serve with SERVER_CLOSED. */
static gboolean
never (UdgClient *c, gpointer d, GError **e)
{
  return TRUE;
}

START_TEST (test_server_closed_code)
{
  static const UdgHandlerFuncs funcs = { .handle = never };
  g_autoptr(UdgSerializer) s = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (s);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *name = g_strdup_printf ("@udg-test-error-%d", (int) getpid ());
  g_autoptr(UdgServer) server = udg_server_new (name, p, &funcs, NULL, NULL, NULL, &error);

  ck_assert_ptr_nonnull (server);
  ck_assert (udg_server_close (server, NULL));
  ck_assert (!udg_server_serve_forever (server, &error));
  ck_assert (g_error_matches (error, UDG_ERROR, UDG_ERROR_SERVER_CLOSED));
  ck_assert_str_eq (error->message, "Closed server");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgError");
  TCase *tc = udg_test_tcase_create ("core");

  tcase_add_test (tc, test_quark);
  tcase_add_test (tc, test_codes_are_distinct);
  tcase_add_test (tc, test_error_from_api);
  tcase_add_test (tc, test_server_closed_code);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
