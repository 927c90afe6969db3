/* libFuzzer target: UdgAncillary reading arbitrary control data, and
 * UdgAddress reading arbitrary socket addresses.  The control data may name
 * descriptors that are not ours: the target duplicates nothing and closes
 * nothing it did not open, so it steals the fds before freeing.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <udgram/udgram.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr(UdgAncillary) ancillary = udg_ancillary_new ();
  g_autofree guint8 *aligned = g_memdup2 (data, size);
  g_autofree gint *fds = NULL;
  UdgAncillaryIter iter;
  UdgAncillaryMessage message;
  struct sockaddr_un sa;
  guint n;

  udg_ancillary_update_from_raw (ancillary, aligned, size, 0, NULL);
  udg_ancillary_iter_init (&iter, ancillary);
  while (udg_ancillary_iter_next (&iter, &message))
    ;
  udg_ancillary_get_credentials (ancillary, &n);
  fds = udg_ancillary_steal_fds (ancillary, &n); /* not ours: never close */

  memset (&sa, 0, sizeof sa);
  memcpy (&sa, data, MIN (size, sizeof sa));
  {
    g_autoptr(UdgAddress) address = udg_address_new_from_sockaddr (&sa, MIN (size, sizeof sa + 1), NULL);

    if (address != NULL)
      {
        g_autofree gchar *text = udg_address_to_string (address);

        g_assert (text != NULL);
        struct sockaddr_un back;

        udg_address_to_sockaddr (address, &back);
        (void) udg_address_hash (address);
      }
  }
  return 0;
}
