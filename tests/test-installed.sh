#!/bin/sh
# make install into a temporary DESTDIR, then build and run a 10-line
# program against the installed copy with pkg-config.
set -u
builddir=${top_builddir:-.}
tmp=$(mktemp -d /tmp/udgi-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$(sed -n 's/^prefix=//p' "$builddir/udgram-1.pc")
libdir=$(sed -n 's/^libdir=//p' "$builddir/udgram-1.pc" | sed "s|\${exec_prefix}|$prefix|;s|\${prefix}|$prefix|")
make -s -C "$builddir" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
root="$tmp/root"
cat >"$tmp/hello.c" <<'C'
#include <udgram/udgram.h>
int main (void)
{
  g_autoptr(UdgAddress) a = udg_address_new_from_string ("@hello", NULL);
  g_autofree gchar *s = udg_address_to_string (a);
  g_autoptr(UdgSerializer) b = udg_bytes_serializer_new ();
  g_autoptr(UdgProtocol) p = udg_protocol_new (b);
  g_print ("%s %d\n", s, udg_protocol_get_serializer (p) == b);
  return 0;
}
C
# The installed .pc, pointed at the DESTDIR copy (only its prefix moves).
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$root$prefix|" "$root$libdir/pkgconfig/udgram-1.pc" >"$tmp/pc/udgram-1.pc"
export PKG_CONFIG_PATH="$tmp/pc"
flags=$(pkg-config --cflags --libs udgram-1) || exit 1
# shellcheck disable=SC2086
${CC:-cc} ${SANITIZER_CFLAGS:-} -o "$tmp/hello" "$tmp/hello.c" $flags ${SANITIZER_CFLAGS:-} || exit 1
out=$(LD_LIBRARY_PATH="$root$libdir" "$tmp/hello") || exit 1
[ "$out" = "@hello 1" ] || { echo "FAIL: printed '$out'"; exit 1; }
echo "ok: installed headers, pkg-config and library work ($flags)"
