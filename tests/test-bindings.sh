#!/bin/sh
# udgram from other languages, against the build tree: Python through GObject
# introspection (tests/test-introspection.py, with PyGObject), and a Vala
# program compiled against the generated udgram-1.vapi, talking to
# `udgram serve --upper`.  Each part is skipped, saying why, when its tools
# are missing; the test is skipped (77) when neither can run.  Every wait is
# bounded.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
udgram="$builddir/tools/udgram"
tmp=$(mktemp -d /tmp/udgb-XXXXXX)
pids=
cleanup () { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail () { echo "FAIL: $*"; exit 1; }
ran=0

# The uninstalled library and typelib.
LD_LIBRARY_PATH="$builddir/src/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
GI_TYPELIB_PATH="$builddir${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}"
export LD_LIBRARY_PATH GI_TYPELIB_PATH

if ! test -f "$builddir/Udgram-1.0.typelib"; then
  echo "SKIP: no Udgram-1.0.typelib: configure found no GObject introspection"
  echo "  (apt-get install gobject-introspection libgirepository1.0-dev, then configure again)"
  exit 77
fi

# --- Python ----------------------------------------------------------------------
# The first python3 that has PyGObject: the PATH's, then the system's (a
# pyenv or venv python3 on the PATH may lack python3-gi).
python=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import gi' 2>/dev/null; then
    python=$p
    break
  fi
done
if test -z "$python"; then
  echo "SKIP (Python part): PyGObject not found (apt-get install python3-gi)"
else
  # Under a sanitizer the interpreter is not instrumented: the library's
  # runtime must come first, which only a preload gives.
  case "${SANITIZER:-no}" in
    address|thread)
      echo "SKIP (Python part): the library is built with the $SANITIZER sanitizer, which a Python process cannot load"
      ;;
    *)
      timeout 120 "$python" "$srcdir/tests/test-introspection.py" || fail "the Python test"
      ran=1
      ;;
  esac
fi

# --- Vala ------------------------------------------------------------------------
valac=${VALAC:-valac}
if ! test -f "$builddir/udgram-1.vapi"; then
  echo "SKIP (Vala part): no udgram-1.vapi: configure found no vapigen (apt-get install valac)"
elif ! command -v "$valac" >/dev/null 2>&1; then
  echo "SKIP (Vala part): valac not found (apt-get install valac)"
else
  cflags=
  for f in $(pkg-config --cflags glib-2.0 gio-2.0 json-glib-1.0) -I"$srcdir/include" -I"$builddir/include" \
           ${SANITIZER_CFLAGS:-}; do
    cflags="$cflags -X $f"
  done
  # shellcheck disable=SC2086
  "$valac" --vapidir="$builddir" --pkg udgram-1 --pkg gio-2.0 $cflags -X -w \
    -X -L"$builddir/src/.libs" -X -ludgram-1 -d "$tmp" -o upper-client \
    "$srcdir/tests/vala/upper-client.vala" >"$tmp/valac.log" 2>&1 \
    || { cat "$tmp/valac.log"; fail "valac against udgram-1.vapi"; }
  "$udgram" serve --upper --no-notify "$tmp/upper.sock" >"$tmp/serve.out" 2>"$tmp/serve.err" &
  pids="$pids $!"
  i=0
  until grep -q "serving at" "$tmp/serve.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && { cat "$tmp/serve.err"; fail "udgram serve did not start"; }
    sleep 0.01
  done
  out=$(timeout 30 "$tmp/upper-client" "$tmp/upper.sock" "hello" "from vala") || fail "the Vala client: $out"
  [ "$out" = "HELLO
FROM VALA" ] || fail "the Vala client printed: $out"
  echo "ok: a Vala program built against udgram-1.vapi talks to udgram serve"
  ran=1
fi

[ $ran -eq 1 ] || exit 77
exit 0
