/* udgram tests - a server per test, for each address kind and mode
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-test.h"
#include "udg-test-server.h"

#include <string.h>

/* As in EasyNetwork's tests: every server test runs for PATHNAME and ABSTRACT addresses,
 * with and without receive_ancillary_data: loop index bit 0 = abstract,
 * bit 1 = ancillary. */
typedef struct
{
  gchar *dir;
  gchar *path;
  UdgTestServer *ts;
  UdgAddress *address;
  gboolean abstract;
  gboolean ancillary;
} Fixture;

static inline void
fixture_config (int variant, UdgTestServerConfig *config, Fixture *f)
{
  f->abstract = (variant & 1) != 0;
  f->ancillary = (variant & 2) != 0;
  f->dir = udg_test_tmpdir ();
  f->path = g_build_filename (f->dir, "server.sock", NULL);
  config->path = f->abstract ? "" : f->path;
  config->ancillary = f->ancillary;
}

static inline void
fixture_start (Fixture *f, const UdgTestServerConfig *config, const UdgHandlerFuncs *funcs)
{
  g_autoptr(GError) error = NULL;

  f->ts = udg_test_server_new (config, funcs, &error);
  ck_assert_msg (f->ts != NULL, "server: %s", error ? error->message : "?");
  ck_assert_msg (udg_test_server_start (f->ts, &error), "start: %s", error ? error->message : "?");
  f->address = udg_address_ref (f->ts->address);
  ck_assert (udg_server_is_serving (f->ts->server));
}

static inline void
fixture_stop (Fixture *f)
{
  if (f->ts != NULL)
    {
      udg_test_server_stop (f->ts);
      ck_assert_msg (udg_test_server_teardown_check (f->ts), "clients still usable after teardown");
      udg_test_server_free (f->ts);
    }
  g_clear_pointer (&f->address, udg_address_unref);
  if (f->path != NULL)
    ck_assert_msg (!g_file_test (f->path, G_FILE_TEST_EXISTS), "socket file left behind");
  udg_test_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* A client bound to a path in the fixture's directory (or autobound). */
static inline int
fixture_client (Fixture *f, const gchar *name)
{
  g_autofree gchar *path = NULL;

  if (name == NULL)
    return udg_test_socket ("");
  path = g_build_filename (f->dir, name, NULL);
  return udg_test_socket (path);
}

#define ASSERT_REPLY(fd, expected, ms)                                          \
  G_STMT_START                                                                  \
  {                                                                             \
    g_autofree gchar *got__ = udg_test_recv_str ((fd), (ms));                   \
    ck_assert_msg (got__ != NULL, "no reply within %d ms, expected '%s'", (ms), (expected)); \
    ck_assert_str_eq (got__, (expected));                                       \
  }                                                                             \
  G_STMT_END

#define ASSERT_NO_REPLY(fd, ms)                                                 \
  G_STMT_START                                                                  \
  {                                                                             \
    g_autofree gchar *got__ = udg_test_recv_str ((fd), (ms));                   \
    ck_assert_msg (got__ == NULL, "unexpected reply '%s'", got__);              \
  }                                                                             \
  G_STMT_END

/* Polls the server's counters until @cond holds, for at most 5 s. */
#define WAIT_STATS(server, stats, cond)                                         \
  G_STMT_START                                                                  \
  {                                                                             \
    for (int t__ = 0; t__ < 500; t__++)                                         \
      {                                                                         \
        udg_server_get_stats ((server), &(stats));                              \
        if (cond)                                                               \
          break;                                                                \
        g_usleep (10 * 1000);                                                   \
      }                                                                         \
  }                                                                             \
  G_STMT_END
