/* udgram - what the kernel says of the AF_UNIX datagram sockets (sock_diag);
 * see udg-sock-diag.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "udg-private.h"

G_BEGIN_DECLS

/* One socket, as a dump or a query says it. */
typedef struct
{
  guint32 ino;              /* its inode: a query's key */
  guint32 first_len;        /* the first datagram in its receive queue;
                             * 0: the queue is empty */
  gboolean has_uid;
  uid_t uid;                /* its owner */
} UdgSockDiagEntry;

typedef enum
{
  UDG_SOCK_DIAG_MORE,       /* (the parser) more messages are to come */
  UDG_SOCK_DIAG_DONE,
  UDG_SOCK_DIAG_GONE,       /* a query: no socket of that inode */
  UDG_SOCK_DIAG_UNAVAILABLE,/* no unix_diag in this kernel */
  UDG_SOCK_DIAG_BROKEN,     /* malformed or interrupted */
} UdgSockDiagResult;

/* A hash table for a dump: UdgAddress (owned) -> UdgSockDiagEntry (owned). */
#define udg_sock_diag_table_new() \
  g_hash_table_new_full (udg_address_hash, udg_address_equal, (GDestroyNotify) udg_address_unref, g_free)

G_GNUC_INTERNAL UdgSockDiagResult udg_sock_diag_dump  (GHashTable *sockets);
G_GNUC_INTERNAL UdgSockDiagResult udg_sock_diag_query (guint32 ino, UdgSockDiagEntry *entry);
/* Exported to the fuzzer through the library's tests only. */
G_GNUC_INTERNAL UdgSockDiagResult udg_sock_diag_parse (const guint8     *buf,
                                                       gsize             len,
                                                       GHashTable       *sockets,
                                                       UdgSockDiagEntry *one);

G_END_DECLS
