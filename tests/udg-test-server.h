/* udgram tests - EasyNetwork's MyDatagramRequestHandler (its functional tests) and a
 * server running in a thread.  No check here: conformance-server uses it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pthread.h>
#include <udgram/udgram.h>

G_BEGIN_DECLS

typedef enum
{
  UDG_TEST_SERIALIZER_ASCII,
  UDG_TEST_SERIALIZER_CRASH_DESERIALIZE, /* "invalid" */
  UDG_TEST_SERIALIZER_CRASH_SERIALIZE,   /* "bad_serialize" */
} UdgTestSerializerKind;

typedef struct
{
  const gchar *path;        /* path, "@name" or "" (autobind) */
  gboolean ancillary;       /* receive_ancillary_data */
  gboolean recvmsg;         /* every recv asks for ancillary data */
  gboolean sendmsg;         /* replies go with an (empty) ancillary */
  gboolean passcred;        /* SO_PASSCRED in service_init */
  UdgUnnamedAddressesBehavior unnamed;
  gint mode;                /* -1: leave */
  UdgTestSerializerKind serializer;
  guint max_threads;        /* 0: default */
  guint mailbox_limit;      /* 0: default */
  gsize max_datagram_size;  /* 0: default */
  gboolean handle_signals;
  guint init_delay_ms;      /* service_init takes this long */
  gboolean no_record;       /* keep no log of the requests (long runs) */
  gboolean answer_errors;   /* EasyNetwork's ErrorInRequestHandler: every
                             * error at a receive is answered with its
                             * message, then returned; otherwise only parse
                             * errors are answered (MyDatagramRequestHandler) */
  gdouble drain_timeout;    /* < 0: the default */
  guint reply_delay_ms;     /* an uppercase reply takes this long */
  gboolean notify;          /* tell the service manager (NOTIFY_SOCKET) */
} UdgTestServerConfig;

#define UDG_TEST_SERVER_CONFIG_INIT { "", FALSE, FALSE, FALSE, FALSE, UDG_UNNAMED_ADDRESSES_IGNORE, -1, UDG_TEST_SERIALIZER_ASCII, 0, 0, 0, FALSE, 0, FALSE, FALSE, -1, 0, FALSE }

typedef struct
{
  UdgTestServerConfig config;
  UdgServer *server;
  UdgAddress *address;          /* bound address once up */
  GThread *thread;
  gboolean serve_ok;
  GError *serve_error;

  pthread_mutex_t lock;
  GHashTable *requests;         /* address string -> GPtrArray of gchar* */
  GHashTable *first_client;     /* address string -> UdgClient* (ref) */
  GPtrArray *seen;              /* UdgClient* (ref) */
  UdgServer *init_server;       /* what service_init received */
  guint handle_calls;
  gint64 wait_sleep_ms;         /* "__wait__": sleep before the second recv */
  guint closed_fds;             /* fds the handler closed */
} UdgTestServer;

UdgTestServer *udg_test_server_new   (const UdgTestServerConfig *config,
                                      const UdgHandlerFuncs     *funcs,
                                      GError                   **error);
gboolean       udg_test_server_start (UdgTestServer *ts,
                                      GError       **error);
void           udg_test_server_stop  (UdgTestServer *ts);
void           udg_test_server_free  (UdgTestServer *ts);
/* After stop: every client ever seen is closing and refuses to send. */
gboolean       udg_test_server_teardown_check (UdgTestServer *ts);
guint          udg_test_server_count_requests (UdgTestServer *ts, const gchar *peer);

extern const UdgHandlerFuncs udg_test_handler_funcs;

G_END_DECLS
