/* udgram - the stapled serializer: one to send, another to receive
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

typedef struct
{
  UdgSerializer *sent;
  UdgSerializer *received;
} Stapled;

static void
stapled_free (gpointer data)
{
  Stapled *s = data;

  udg_serializer_unref (s->sent);
  udg_serializer_unref (s->received);
  g_free (s);
}

static GBytes *
stapled_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  return udg_serializer_serialize (((Stapled *) user_data)->sent, packet, error);
}

static gpointer
stapled_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  return udg_serializer_deserialize (((Stapled *) user_data)->received, datagram, error);
}

static void
stapled_free_packet (gpointer packet, gpointer user_data)
{
  udg_serializer_free_packet (((Stapled *) user_data)->received, packet);
}

/**
 * udg_stapled_serializer_new:
 * @sent: serializes what is sent; a reference is taken
 * @received: deserializes (and frees) what is received; a reference is taken
 *
 * EasyNetwork's `StapledPacketSerializer`: for a peer that answers in
 * another format than it is asked in.
 *
 * Returns: (transfer full): a new #UdgSerializer
 *
 * Since: 0.1
 */
UdgSerializer *
udg_stapled_serializer_new (UdgSerializer *sent,
                            UdgSerializer *received)
{
  static const UdgSerializerFuncs funcs = {
    stapled_serialize, stapled_deserialize, stapled_free_packet, { NULL, },
  };
  Stapled *s;

  g_return_val_if_fail (sent != NULL && received != NULL, NULL);
  s = g_new0 (Stapled, 1);
  s->sent = udg_serializer_ref (sent);
  s->received = udg_serializer_ref (received);
  return udg_serializer_new (&funcs, s, stapled_free);
}
