/* UdgContextVar outside a server: per-thread contexts and value lifetime.
 * The per-client behaviour is tested in test-server-handler.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-test.h"

static gint freed;

static void
free_value (gpointer v)
{
  g_atomic_int_inc (&freed);
  g_free (v);
}

START_TEST (test_set_get_replace)
{
  g_autoptr(UdgContextVar) var = udg_context_var_new ("name", free_value);

  freed = 0;
  ck_assert_str_eq (udg_context_var_get_name (var), "name");
  ck_assert (!udg_context_var_is_set (var));
  ck_assert_ptr_null (udg_context_var_get (var));
  udg_context_var_set (var, g_strdup ("a"));
  ck_assert_str_eq (udg_context_var_get (var), "a");
  udg_context_var_set (var, g_strdup ("b"));
  ck_assert_int_eq (freed, 1);
  ck_assert_str_eq (udg_context_var_get (var), "b");
  udg_context_var_set (var, NULL);
  ck_assert (udg_context_var_is_set (var));
  ck_assert_int_eq (freed, 2);
}
END_TEST

static gpointer
other_thread (gpointer var)
{
  gpointer seen = udg_context_var_get (var);

  udg_context_var_set (var, g_strdup ("thread"));
  return seen;
}

START_TEST (test_threads_are_isolated)
{
  g_autoptr(UdgContextVar) var = udg_context_var_new ("t", free_value);
  GThread *t;

  freed = 0;
  udg_context_var_set (var, g_strdup ("main"));
  t = g_thread_new ("ctx", other_thread, var);
  ck_assert_ptr_null (g_thread_join (t));
  ck_assert_str_eq (udg_context_var_get (var), "main");
  /* The other thread's value was freed with its context at thread exit. */
  ck_assert_int_eq (g_atomic_int_get (&freed), 1);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("UdgContextVar");
  TCase *tc = udg_test_tcase_create ("core");

  tcase_add_test (tc, test_set_get_replace);
  tcase_add_test (tc, test_threads_are_isolated);
  suite_add_tcase (s, tc);
  return udg_test_run (s);
}
