/* udgram - Unix socket addresses: pathname, abstract, unnamed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "udg-private.h"

#include <stddef.h>
#include <string.h>

/**
 * SECTION:udg-address
 * @title: UdgAddress
 * @short_description: a Unix socket address
 *
 * A #UdgAddress is an immutable, reference-counted Unix socket address of one
 * of three kinds (unix(7)): a path in the file system, a name in Linux's
 * abstract namespace (any bytes, NUL included), or no name at all.  It is
 * EasyNetwork's `UnixSocketAddress`.
 *
 * Text forms, as systemd and `NOTIFY_SOCKET` use them: a path is itself,
 * `@name` is the abstract name `name`, and the empty string is the unnamed
 * address (which, when binding, asks the kernel to autobind an abstract
 * name).  Two addresses are equal when their kind and raw bytes are, so all
 * unnamed addresses are equal.
 */

/**
 * UdgAddress:
 *
 * An immutable, reference-counted Unix socket address.
 */

#define SUN_PATH_OFFSET ((socklen_t) offsetof (struct sockaddr_un, sun_path))

static guint
hash_raw (guint8 kind, const guint8 *raw, gsize len)
{
  guint h = 5381 + kind;

  for (gsize i = 0; i < len; i++)
    h = (h << 5) + h + raw[i];
  return h;
}

static UdgAddress *
address_alloc (UdgAddressKind kind, const guint8 *raw, gsize len)
{
  UdgAddress *address = g_new0 (UdgAddress, 1);

  g_atomic_ref_count_init (&address->ref_count);
  address->kind = kind;
  address->len = len;
  if (len > 0)
    memcpy (address->raw, raw, len);
  address->hash = hash_raw (kind, raw, len);
  return address;
}

/**
 * udg_address_new_unnamed:
 *
 * Creates the unnamed address.
 *
 * Returns: (transfer full): a new #UdgAddress
 *
 * Since: 0.1
 */
UdgAddress *
udg_address_new_unnamed (void)
{
  return address_alloc (UDG_ADDRESS_UNNAMED, NULL, 0);
}

/**
 * udg_address_new_pathname:
 * @path: a file system path; the empty string gives the unnamed address
 * @error: return location for a #GError
 *
 * Creates a pathname address.  A path longer than `sun_path` (108 bytes on
 * Linux) is refused rather than cut.
 *
 * Returns: (transfer full) (nullable): a new #UdgAddress, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
UdgAddress *
udg_address_new_pathname (const gchar *path,
                          GError     **error)
{
  gsize len;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = strlen (path);
  if (len == 0)
    return udg_address_new_unnamed ();
  if (len > UDG_ADDRESS_MAX)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("The socket path '%s' is too long: %lu bytes, at most %d are allowed"),
                   path, (gulong) len, UDG_ADDRESS_MAX);
      return NULL;
    }
  return address_alloc (UDG_ADDRESS_PATHNAME, (const guint8 *) path, len);
}

/**
 * udg_address_new_abstract:
 * @name: (array length=len): the abstract name, without the leading NUL;
 *   it may contain any byte, NUL included
 * @len: the length of @name
 * @error: return location for a #GError
 *
 * Creates an address in Linux's abstract namespace.
 *
 * Returns: (transfer full) (nullable): a new #UdgAddress, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT when @name is longer than 107 bytes
 *
 * Since: 0.1
 */
UdgAddress *
udg_address_new_abstract (const guint8 *name,
                          gsize         len,
                          GError      **error)
{
  g_return_val_if_fail (name != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len > UDG_ADDRESS_MAX - 1)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("The abstract socket name is too long: %lu bytes, at most %d are allowed"),
                   (gulong) len, UDG_ADDRESS_MAX - 1);
      return NULL;
    }
  return address_alloc (UDG_ADDRESS_ABSTRACT, name, len);
}

/**
 * udg_address_new_from_string:
 * @str: `@name` for an abstract name, "" for the unnamed address, or a path
 * @error: return location for a #GError
 *
 * Parses the usual text form of a Unix socket address.  The characters after
 * `@` are taken as they are (no escapes), as systemd does with
 * `NOTIFY_SOCKET`.
 *
 * Returns: (transfer full) (nullable): a new #UdgAddress, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT
 *
 * Since: 0.1
 */
UdgAddress *
udg_address_new_from_string (const gchar *str,
                             GError     **error)
{
  g_return_val_if_fail (str != NULL, NULL);

  if (str[0] == '@')
    return udg_address_new_abstract ((const guint8 *) str + 1, strlen (str + 1), error);
  return udg_address_new_pathname (str, error);
}

void
udg_address_init_from_sockaddr (UdgAddress               *address,
                                const struct sockaddr_un *sa,
                                socklen_t                 len)
{
  gsize n;

  if (len > sizeof (struct sockaddr_un))
    len = sizeof (struct sockaddr_un);
  if (sa == NULL || len <= SUN_PATH_OFFSET)
    {
      address->kind = UDG_ADDRESS_UNNAMED;
      address->len = 0;
    }
  else if (sa->sun_path[0] == '\0')
    {
      address->kind = UDG_ADDRESS_ABSTRACT;
      address->len = n = len - SUN_PATH_OFFSET - 1;
      memcpy (address->raw, sa->sun_path + 1, n);
    }
  else
    {
      const gchar *end;

      n = len - SUN_PATH_OFFSET;
      end = memchr (sa->sun_path, '\0', n);
      if (end != NULL)
        n = end - sa->sun_path;
      address->kind = UDG_ADDRESS_PATHNAME;
      address->len = n;
      memcpy (address->raw, sa->sun_path, n);
    }
  address->raw[address->len] = '\0';
  address->hash = hash_raw (address->kind, address->raw, address->len);
}

/**
 * udg_address_new_from_sockaddr:
 * @sa: (nullable): a socket address as recvfrom() or getsockname() fill it
 * @len: the address length they returned
 * @error: return location for a #GError
 *
 * Makes an address from what the socket calls return: a length no larger
 * than `sun_family` is the unnamed address, a leading NUL an abstract name
 * (exactly @len bytes long), anything else a path ending at the first NUL.
 * For a path filling all of `sun_path` (108 bytes), @len may count the
 * terminating NUL that the structure cannot hold, as the kernel does.
 *
 * Returns: (transfer full) (nullable): a new #UdgAddress, or %NULL with
 *   %UDG_ERROR_INVALID_ARGUMENT when @sa is not an AF_UNIX address
 *
 * Since: 0.1
 */
UdgAddress *
udg_address_new_from_sockaddr (const struct sockaddr_un *sa,
                               socklen_t                 len,
                               GError                  **error)
{
  UdgAddress *address;

  if (sa != NULL && len >= sizeof (sa_family_t) && sa->sun_family != AF_UNIX)
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("Cannot convert a socket address of family %d to a Unix socket address"),
                   (int) sa->sun_family);
      return NULL;
    }
  /* A path of the full 108 bytes: getsockname(), getpeername() and
   * recvfrom() count the NUL that did not fit. */
  if (len == sizeof (struct sockaddr_un) + 1 && sa != NULL && sa->sun_path[0] != '\0')
    len = sizeof (struct sockaddr_un);
  if (len > sizeof (struct sockaddr_un))
    {
      g_set_error (error, UDG_ERROR, UDG_ERROR_INVALID_ARGUMENT,
                   _("A Unix socket address cannot be %u bytes long"), (guint) len);
      return NULL;
    }
  address = g_new0 (UdgAddress, 1);
  g_atomic_ref_count_init (&address->ref_count);
  udg_address_init_from_sockaddr (address, sa, len);
  return address;
}

UdgAddress *
udg_address_dup (const UdgAddress *address)
{
  UdgAddress *copy = g_new (UdgAddress, 1);

  memcpy (copy, address, sizeof (UdgAddress));
  g_atomic_ref_count_init (&copy->ref_count);
  return copy;
}

/**
 * udg_address_ref:
 * @address: a #UdgAddress
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @address
 *
 * Since: 0.1
 */
UdgAddress *
udg_address_ref (UdgAddress *address)
{
  g_return_val_if_fail (address != NULL, NULL);
  g_atomic_ref_count_inc (&address->ref_count);
  return address;
}

/**
 * udg_address_unref:
 * @address: (transfer full): a #UdgAddress
 *
 * Drops a reference; the address is freed with the last one.
 *
 * Since: 0.1
 */
void
udg_address_unref (UdgAddress *address)
{
  g_return_if_fail (address != NULL);
  if (g_atomic_ref_count_dec (&address->ref_count))
    g_free (address);
}

/**
 * udg_address_get_kind:
 * @address: a #UdgAddress
 *
 * Gets which of the three AF_UNIX kinds @address is: a pathname, an abstract
 * name, or unnamed.
 *
 * Returns: the kind of @address
 *
 * Since: 0.1
 */
UdgAddressKind
udg_address_get_kind (const UdgAddress *address)
{
  g_return_val_if_fail (address != NULL, UDG_ADDRESS_UNNAMED);
  return address->kind;
}

/**
 * udg_address_is_unnamed:
 * @address: a #UdgAddress
 *
 * Tells whether @address is the unnamed address: the sender of a datagram
 * from a socket that was never bound (logger(1), systemd-notify(1), socat
 * without bind=). A server cannot reply to it.
 *
 * Returns: whether @address is the unnamed address
 *
 * Since: 0.1
 */
gboolean
udg_address_is_unnamed (const UdgAddress *address)
{
  g_return_val_if_fail (address != NULL, TRUE);
  return address->kind == UDG_ADDRESS_UNNAMED;
}

/**
 * udg_address_get_path:
 * @address: a #UdgAddress
 *
 * Gets the file system path of a pathname address.
 *
 * Returns: (nullable) (transfer none): the path of a pathname address, or
 *   %NULL for the other kinds
 *
 * Since: 0.1
 */
const gchar *
udg_address_get_path (const UdgAddress *address)
{
  g_return_val_if_fail (address != NULL, NULL);
  return address->kind == UDG_ADDRESS_PATHNAME ? (const gchar *) address->raw : NULL;
}

/**
 * udg_address_get_abstract_name:
 * @address: a #UdgAddress
 * @len: (out) (optional): the length of the name
 *
 * Gets the name of an abstract address (Linux's abstract namespace): bytes
 * that may hold NUL, so use @len rather than strlen().
 *
 * Returns: (nullable) (transfer none) (array length=len): the abstract name
 *   without its leading NUL, or %NULL when @address is not abstract
 *
 * Since: 0.1
 */
const guint8 *
udg_address_get_abstract_name (const UdgAddress *address,
                               gsize            *len)
{
  g_return_val_if_fail (address != NULL, NULL);
  if (address->kind != UDG_ADDRESS_ABSTRACT)
    {
      if (len != NULL)
        *len = 0;
      return NULL;
    }
  if (len != NULL)
    *len = address->len;
  return address->raw;
}

/**
 * udg_address_to_sockaddr:
 * @address: a #UdgAddress
 * @sa: (out caller-allocates): the socket address to fill
 *
 * Fills @sa for bind(), connect() or sendto().  For the unnamed address the
 * length covers `sun_family` only, which bind() takes as "autobind".
 *
 * Returns: the length to pass with @sa
 *
 * Since: 0.1
 */
socklen_t
udg_address_to_sockaddr (const UdgAddress   *address,
                         struct sockaddr_un *sa)
{
  g_return_val_if_fail (address != NULL, 0);
  g_return_val_if_fail (sa != NULL, 0);

  memset (sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  switch (address->kind)
    {
    case UDG_ADDRESS_PATHNAME:
      memcpy (sa->sun_path, address->raw, address->len);
      /* Count the terminating NUL when it fits, as getsockname() does. */
      return SUN_PATH_OFFSET + address->len + (address->len < UDG_ADDRESS_MAX ? 1 : 0);
    case UDG_ADDRESS_ABSTRACT:
      memcpy (sa->sun_path + 1, address->raw, address->len);
      return SUN_PATH_OFFSET + 1 + address->len;
    case UDG_ADDRESS_UNNAMED:
    default:
      return sizeof (sa_family_t);
    }
}

/**
 * udg_address_to_string:
 * @address: a #UdgAddress
 *
 * Formats @address for people: the path, `@` and the abstract name (bytes
 * that are not printable ASCII, and the backslash, written as `\xNN`), or
 * `<unnamed>`.
 *
 * Returns: (transfer full): a new string
 *
 * Since: 0.1
 */
gchar *
udg_address_to_string (const UdgAddress *address)
{
  GString *s;

  g_return_val_if_fail (address != NULL, NULL);

  switch (address->kind)
    {
    case UDG_ADDRESS_PATHNAME:
      return g_strdup ((const gchar *) address->raw);
    case UDG_ADDRESS_ABSTRACT:
      s = g_string_sized_new (address->len + 2);
      g_string_append_c (s, '@');
      for (gsize i = 0; i < address->len; i++)
        {
          guint8 c = address->raw[i];

          if (c < 0x20 || c >= 0x7f || c == '\\')
            g_string_append_printf (s, "\\x%02x", c);
          else
            g_string_append_c (s, c);
        }
      return g_string_free (s, FALSE);
    case UDG_ADDRESS_UNNAMED:
    default:
      return g_strdup ("<unnamed>");
    }
}

/**
 * udg_address_equal:
 * @a: (type UdgAddress): an address
 * @b: (type UdgAddress): another address
 *
 * Compares two addresses by kind and raw bytes; usable as a #GEqualFunc.
 *
 * Returns: whether they are equal
 *
 * Since: 0.1
 */
gboolean
udg_address_equal (gconstpointer a,
                   gconstpointer b)
{
  const UdgAddress *x = a, *y = b;

  g_return_val_if_fail (x != NULL && y != NULL, FALSE);
  return x->kind == y->kind && x->len == y->len &&
         memcmp (x->raw, y->raw, x->len) == 0;
}

/**
 * udg_address_hash:
 * @address: (type UdgAddress): an address
 *
 * A hash of the kind and raw bytes; usable as a #GHashFunc.
 *
 * Returns: the hash
 *
 * Since: 0.1
 */
guint
udg_address_hash (gconstpointer address)
{
  g_return_val_if_fail (address != NULL, 0);
  return ((const UdgAddress *) address)->hash;
}

/**
 * udg_address_get_type:
 *
 * The #GType of #UdgAddress, a boxed type: bindings and #GValue copy it with
 * udg_address_ref() and free it with udg_address_unref().
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (UdgAddress, udg_address, udg_address_ref, udg_address_unref)
