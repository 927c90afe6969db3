/* udgram tests - shared helpers: temporary directories, raw peer sockets,
 * bounded receives, fd counting, log capture.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <check.h>
#include <udgram/udgram.h>

G_BEGIN_DECLS

gchar    *udg_test_tmpdir          (void);
void      udg_test_rmdir           (const gchar *dir);

/* A peer socket: bound to @bind_to (a path, "@name", or "" / NULL for
 * autobind), or left unbound when @bind_to is UDG_TEST_UNBOUND. */
#define UDG_TEST_UNBOUND ((const gchar *) 1)
int       udg_test_socket          (const gchar *bind_to);
gboolean  udg_test_sendto          (int fd, UdgAddress *to, const void *data, gsize len);
gboolean  udg_test_send_str        (int fd, UdgAddress *to, const gchar *text);
gboolean  udg_test_send_fds        (int fd, UdgAddress *to, const gchar *text, const int *fds, guint n);
/* Receives one datagram within @timeout_ms; -1 on timeout. */
gssize    udg_test_recv            (int fd, void *buf, gsize size, int timeout_ms);
gchar    *udg_test_recv_str        (int fd, int timeout_ms);
gssize    udg_test_recv_fds        (int fd, void *buf, gsize size, int *fds, guint *n_fds, int timeout_ms);
UdgAddress *udg_test_sockname      (int fd);
guint     udg_test_count_fds       (void);
gboolean  udg_test_fd_is_open      (int fd);

/* Log capture: every record of the "udgram" domain (and "udgram-test") is
 * kept; nothing is printed unless UDG_TEST_VERBOSE is set. */
typedef struct
{
  GLogLevelFlags level;
  gchar *domain;
  gchar *text;     /* UDG_TEXT when present, else MESSAGE */
  gchar *error;    /* UDG_ERROR_MESSAGE, or NULL */
  gchar *error_name; /* UDG_ERROR_NAME, or NULL */
  gchar *remedy;   /* UDG_REMEDY, or NULL */
} UdgTestLogRecord;

void      udg_test_log_install     (void);
void      udg_test_log_clear       (void);
guint     udg_test_log_count       (GLogLevelFlags level);
guint     udg_test_log_count_text  (GLogLevelFlags level, const gchar *prefix);
GPtrArray *udg_test_log_records    (void);  /* (transfer full) copies */
gboolean  udg_test_wait_log        (GLogLevelFlags level, const gchar *prefix, guint count, int timeout_ms);

gint64    udg_test_now_ms          (void);
/* "address" or "thread" when the build is sanitized (SANITIZER, set by
 * make check), else NULL. */
const gchar *udg_test_sanitizer    (void);

G_END_DECLS

/* Runs @suite with log capture installed; the exit status for make check. */
int       udg_test_run             (Suite *suite);

/* tcase_create() whose tests each start with an empty log capture (with
 * CK_FORK=no, as under valgrind, every test shares the process). */
TCase    *udg_test_tcase_create    (const char *name);
