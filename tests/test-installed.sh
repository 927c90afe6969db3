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

# The API reference, installed whenever configure found gtk-doc, documents
# what a new user looks for first; the examples are installed for reading.
datarootdir=$(sed -n 's/^datarootdir = //p' "$builddir/Makefile" | sed "s|\${prefix}|$prefix|")
datadir=$(sed -n 's/^datadir = //p' "$builddir/Makefile" | sed "s|\${datarootdir}|$datarootdir|;s|\${prefix}|$prefix|")
[ -n "$datadir" ] || datadir="$prefix/share"
if grep -q '^S\["ENABLE_GTK_DOC_TRUE"\]=""' "$builddir/config.status"; then
  html="$root$datadir/gtk-doc/html/udgram-1"
  [ -f "$html/index.html" ] || { echo "FAIL: no API reference installed in $html"; exit 1; }
  for sym in udg_endpoint_new udg_context_var_new udg_exit_stack_push udg_server_options_set_notify; do
    anchor=$(echo "$sym" | tr _ -)
    grep -q "name=\"$anchor\"" "$html"/*.html || { echo "FAIL: the installed reference does not document $sym"; exit 1; }
  done
  grep -q "udgram/udgram.h" "$html/udgram-1-UdgClient.html" \
    || { echo "FAIL: the reference does not say which header to include"; exit 1; }
  echo "ok: the API reference is installed ($(ls "$html"/*.html | wc -l) pages) and documents udg_endpoint_new, udg_context_var_new, udg_exit_stack_push"
else
  echo "SKIP: configured without gtk-doc: no API reference to check"
fi
docdir=$(sed -n 's/^docdir = //p' "$builddir/Makefile" | sed "s|\${datarootdir}|$datarootdir|;s|\${PACKAGE_TARNAME}|udgram|;s|\${prefix}|$prefix|")
[ -n "$docdir" ] || docdir="$datadir/doc/udgram"
for f in examples/README examples/echo-server.c examples/endpoint-client.c examples/context-vars.c \
         examples/example-run.h tutorial.md design.md; do
  [ -f "$root$docdir/$f" ] || { echo "FAIL: $f is not installed in $docdir"; exit 1; }
done
echo "ok: the examples, the tutorial and the design document are installed in $docdir"
[ -f "$root$datadir/udgram-1/valgrind/udgram.supp" ] || { echo "FAIL: no valgrind suppression file installed"; exit 1; }
echo "ok: the valgrind suppressions are installed in $datadir/udgram-1/valgrind"
if test -f "$builddir/Udgram-1.0.typelib"; then
  [ -f "$root$datadir/gir-1.0/Udgram-1.0.gir" ] && [ -f "$root$libdir/girepository-1.0/Udgram-1.0.typelib" ] \
    || { echo "FAIL: the .gir or the typelib is not installed where gi looks"; exit 1; }
  echo "ok: Udgram-1.0.gir and its typelib are installed"
fi
