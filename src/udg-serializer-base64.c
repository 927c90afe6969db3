/* udgram - the base64 wrapper, with an optional SHA-256 or HMAC-SHA256
 * digest (EasyNetwork's Base64EncoderSerializer)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <string.h>
#include <sys/random.h>

#define DIGEST_LEN 32

typedef struct
{
  UdgSerializer *inner;
  UdgBase64Alphabet alphabet;
  UdgBase64Checksum checksum;
  guint8 key[32];
} Base64Config;

static void
base64_config_free (gpointer data)
{
  Base64Config *config = data;

  udg_serializer_unref (config->inner);
  memset (config->key, 0, sizeof config->key);
  g_free (config);
}

/* Decodes strict base64 (whole quanta, padding only at the end) of either
 * alphabet; NULL when it is not. */
static guint8 *
decode_strict (const gchar *text, gsize len, UdgBase64Alphabet alphabet, gsize *out_len)
{
  g_autofree gchar *copy = NULL;
  gsize pad = 0;

  if (len % 4 != 0)
    return NULL;
  copy = g_malloc (len + 1);
  for (gsize i = 0; i < len; i++)
    {
      gchar c = text[i];

      if (c == '=')
        {
          if (i < len - 2 || (i == len - 2 && text[len - 1] != '='))
            return NULL;
          pad++;
        }
      else if (alphabet == UDG_BASE64_URLSAFE && (c == '-' || c == '_'))
        c = c == '-' ? '+' : '/';
      else if (!(g_ascii_isalnum (c) || (alphabet == UDG_BASE64_STANDARD && (c == '+' || c == '/'))))
        return NULL;
      copy[i] = c;
    }
  copy[len] = '\0';
  if (len == 0)
    {
      *out_len = 0;
      return g_malloc (1);
    }
  return g_base64_decode (copy, out_len);
}

static gchar *
encode (const guint8 *data, gsize len, UdgBase64Alphabet alphabet)
{
  gchar *text = g_base64_encode (data, len);

  if (alphabet == UDG_BASE64_URLSAFE)
    for (gchar *p = text; *p != '\0'; p++)
      {
        if (*p == '+')
          *p = '-';
        else if (*p == '/')
          *p = '_';
      }
  return text;
}

static void
digest_of (Base64Config *config, const guint8 *data, gsize len, guint8 out[DIGEST_LEN])
{
  gsize out_len = DIGEST_LEN;

  if (config->checksum == UDG_BASE64_CHECKSUM_HMAC_SHA256)
    {
      GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, config->key, sizeof config->key);

      g_hmac_update (hmac, data, len);
      g_hmac_get_digest (hmac, out, &out_len);
      g_hmac_unref (hmac);
    }
  else
    {
      GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);

      g_checksum_update (sum, data, len);
      g_checksum_get_digest (sum, out, &out_len);
      g_checksum_free (sum);
    }
}

static GBytes *
base64_serialize (gconstpointer packet, gpointer user_data, GError **error)
{
  Base64Config *config = user_data;
  g_autoptr(GBytes) inner = udg_serializer_serialize (config->inner, packet, error);
  g_autoptr(GByteArray) token = NULL;
  gsize len;
  const guint8 *data;
  gchar *text;

  if (inner == NULL)
    return NULL;
  data = g_bytes_get_data (inner, &len);
  token = g_byte_array_sized_new (len + DIGEST_LEN);
  if (len > 0)
    g_byte_array_append (token, data, len);
  if (config->checksum != UDG_BASE64_CHECKSUM_NONE)
    {
      guint8 digest[DIGEST_LEN];

      digest_of (config, data, len, digest);
      g_byte_array_append (token, digest, DIGEST_LEN);
    }
  text = encode (token->data, token->len, config->alphabet);
  return g_bytes_new_take (text, strlen (text));
}

/* Constant time: how long the comparison takes says nothing of where the
 * digests differ. */
static gboolean
digest_equal (const guint8 *a, const guint8 *b)
{
  guint8 diff = 0;

  for (gsize i = 0; i < DIGEST_LEN; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

static gpointer
base64_deserialize (GBytes *datagram, gpointer user_data, GError **error)
{
  Base64Config *config = user_data;
  g_autofree guint8 *token = NULL;
  g_autoptr(GBytes) inner = NULL;
  gsize len, token_len = 0;
  const gchar *text = g_bytes_get_data (datagram, &len);

  token = decode_strict (text, len, config->alphabet, &token_len);
  if (token == NULL)
    goto invalid;
  if (config->checksum != UDG_BASE64_CHECKSUM_NONE)
    {
      guint8 digest[DIGEST_LEN];

      if (token_len < DIGEST_LEN)
        goto invalid;
      token_len -= DIGEST_LEN;
      digest_of (config, token, token_len, digest);
      if (!digest_equal (digest, token + token_len))
        goto invalid;
    }
  inner = g_bytes_new (token, token_len);
  return udg_serializer_deserialize (config->inner, inner, error);

invalid:
  g_set_error_literal (error, UDG_ERROR, UDG_ERROR_PARSE, _("Invalid token"));
  return NULL;
}

static void
base64_free_packet (gpointer packet, gpointer user_data)
{
  Base64Config *config = user_data;

  udg_serializer_free_packet (config->inner, packet);
}

/**
 * udg_base64_serializer_new:
 * @inner: the serializer of what is inside; a reference is taken
 * @alphabet: the base64 alphabet (padding is always written, and required)
 * @checksum: what digest to append to the inner bytes before encoding
 * @key: (nullable): for %UDG_BASE64_CHECKSUM_HMAC_SHA256, the key as
 *   EasyNetwork's `generate_key` writes it: 32 bytes in url-safe base64
 *   (44 characters); see udg_base64_serializer_generate_key()
 * @error: return location for a #GError
 *
 * A wrapper that sends base64(inner ‖ digest), wire-compatible with
 * EasyNetwork's `Base64EncoderSerializer`.  A datagram that is not strict
 * base64 of the alphabet, or whose digest does not match (compared in
 * constant time), is %UDG_ERROR_PARSE "Invalid token"; otherwise the inner
 * serializer parses what is inside.
 *
 * Returns: (transfer full) (nullable): a new #UdgSerializer, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT for a missing or malformed key
 *
 * Since: 0.1
 */
UdgSerializer *
udg_base64_serializer_new (UdgSerializer     *inner,
                           UdgBase64Alphabet  alphabet,
                           UdgBase64Checksum  checksum,
                           const gchar       *key,
                           GError           **error)
{
  static const UdgSerializerFuncs funcs = {
    base64_serialize, base64_deserialize, base64_free_packet, { NULL, },
  };
  Base64Config *config;

  g_return_val_if_fail (inner != NULL, NULL);
  g_return_val_if_fail (alphabet <= UDG_BASE64_STANDARD, NULL);
  g_return_val_if_fail (checksum <= UDG_BASE64_CHECKSUM_HMAC_SHA256, NULL);

  config = g_new0 (Base64Config, 1);
  config->alphabet = alphabet;
  config->checksum = checksum;
  if (checksum == UDG_BASE64_CHECKSUM_HMAC_SHA256)
    {
      g_autofree guint8 *raw = NULL;
      gsize raw_len = 0;

      if (key != NULL)
        raw = decode_strict (key, strlen (key), UDG_BASE64_URLSAFE, &raw_len);
      if (raw == NULL || raw_len != sizeof config->key)
        {
          g_free (config);
          g_set_error_literal (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                               _("signing key must be 32 url-safe base64-encoded bytes."));
          return NULL;
        }
      memcpy (config->key, raw, sizeof config->key);
      memset (raw, 0, raw_len);
    }
  config->inner = udg_serializer_ref (inner);
  return udg_serializer_new (&funcs, config, base64_config_free);
}

/**
 * udg_base64_serializer_generate_key:
 *
 * Makes a fresh HMAC key from 32 random bytes of the kernel's generator
 * (getrandom()), in url-safe base64, as EasyNetwork's
 * `Base64EncoderSerializer.generate_key`.
 *
 * Returns: (transfer full): a 44-character key
 *
 * Since: 0.1
 */
gchar *
udg_base64_serializer_generate_key (void)
{
  guint8 raw[32];
  gchar *key;

  /* GLib has no cryptographic generator: the kernel's, as Python's
   * secrets module uses. */
  for (gsize got = 0; got < sizeof raw;)
    {
      gssize n = getrandom (raw + got, sizeof raw - got, 0);

      if (n < 0 && errno != EINTR)
        g_error ("udgram: getrandom() failed: %s", g_strerror (errno));
      if (n > 0)
        got += n;
    }
  key = encode (raw, sizeof raw, UDG_BASE64_URLSAFE);
  memset (raw, 0, sizeof raw);
  return key;
}
