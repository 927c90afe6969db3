#!/bin/sh
# The library's messages are translated: under LANGUAGE=fr, with the French
# catalogue, an error says so in French.  (The catalogue is not installed
# during make check: UDGRAM_LOCALEDIR points the library at it.)
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
gmo="$builddir/po/fr.gmo"
[ -f "$gmo" ] || gmo="$srcdir/po/fr.gmo"
[ -f "$gmo" ] || { echo "SKIP: no po/fr.gmo (msgfmt missing?)"; exit 77; }
tmp=$(mktemp -d /tmp/udgl-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fr/LC_MESSAGES"
cp "$gmo" "$tmp/fr/LC_MESSAGES/udgram-1.mo"
out=$(LC_ALL=C.UTF-8 LANGUAGE=fr UDGRAM_LOCALEDIR="$tmp" "$builddir/tools/udgram" send "$tmp/nobody.sock" hi 2>&1)
case "$out" in
  *"Impossible de se connecter"*) echo "ok: $out" ;;
  *) echo "FAIL: not in French: $out"; exit 1 ;;
esac
out=$(LC_ALL=C.UTF-8 LANGUAGE=fr UDGRAM_LOCALEDIR="$tmp" "$builddir/tools/udgram" send --base64 --key-file=/dev/null "$tmp/x.sock" m 2>&1)
case "$out" in
  *"la clé de signature doit faire 32 octets"*) echo "ok: $out" ;;
  *) echo "FAIL: not in French: $out"; exit 1 ;;
esac
# Every source file with translatable messages is in po/POTFILES.in.
missing=$(cd "$srcdir" && for f in $(grep -l '_ *("' src/*.c tools/*.c); do grep -qx "$f" po/POTFILES.in || echo "$f"; done)
[ -z "$missing" ] || { echo "FAIL: not in po/POTFILES.in: $missing"; exit 1; }
echo "ok: po/POTFILES.in lists every file with translatable messages"
