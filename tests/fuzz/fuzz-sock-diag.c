/* libFuzzer target: the sock_diag parser (src/udg-sock-diag.c) reading
 * arbitrary bytes as the kernel's replies to a dump and to a query.  Built
 * from the library's sources (the parser is internal), seeded with real
 * replies (tests/fuzz/seeds/sock-diag).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "../../src/udg-sock-diag.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GHashTable *sockets = udg_sock_diag_table_new ();
  UdgSockDiagEntry one;

  udg_sock_diag_parse (data, size, sockets, NULL);
  udg_sock_diag_parse (data, size, NULL, &one);
  g_hash_table_unref (sockets);
  return 0;
}
