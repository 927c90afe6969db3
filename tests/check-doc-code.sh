#!/bin/sh
# The code in README.md and docs/tutorial.md is real: a C block that starts
# with "/* examples/FILE.c */" must stand verbatim in that file (which make
# builds and make check runs); any other block must be a whole program,
# compiled here against the library and run under a leak checker (valgrind,
# or LeakSanitizer in the address-sanitized build): a program that serves
# gets a request, answers it, and stops on SIGTERM.  A fragment that is not
# a program fails the test.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
tmp=$(mktemp -d /tmp/udgdoc-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
python3 - "$srcdir" "$tmp" <<'PY' || exit 1
import re, sys, os
srcdir, tmp = sys.argv[1], sys.argv[2]
bad = 0; checked = 0; compiled = 0
for doc in ("README.md", "docs/tutorial.md"):
    text = open(os.path.join(srcdir, doc)).read()
    for i, block in enumerate(re.findall(r"```c\n(.*?)```", text, re.S)):
        m = re.match(r"/\* (examples/[\w.-]+) \*/\n", block)
        if m:
            body = block[m.end():]
            source = open(os.path.join(srcdir, m.group(1))).read()
            if body.strip() not in source:
                print(f"{doc}: block {i} is not in {m.group(1)} any more"); bad += 1
            checked += 1
        elif "main (" in block:
            # A server's path, made private to this run.
            block = block.replace("/run/app.sock", os.path.join(tmp, "app.sock"))
            open(os.path.join(tmp, f"block{compiled}.c"), "w").write(block)
            compiled += 1
        else:
            print(f"{doc}: block {i} is neither in examples/ nor a whole program"); bad += 1
print(f"{checked} blocks found in examples/, {compiled} to compile")
sys.exit(1 if bad else 0)
PY
# LeakSanitizer reports at exit by itself in the address build (detect_leaks=1).
leakcheck=
if [ "${SANITIZER:-no}" = no ] && command -v valgrind >/dev/null 2>&1; then
  leakcheck="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --suppressions=$srcdir/tests/valgrind.supp"
fi
ran=0
for f in "$tmp"/block*.c; do
  [ -e "$f" ] || continue
  prog=${f%.c}
  ${CC:-cc} ${SANITIZER_CFLAGS:-} -D_GNU_SOURCE -I"$srcdir/include" -I"$builddir/include" $(pkg-config --cflags glib-2.0 gio-2.0 json-glib-1.0) \
    -o "$prog" "$f" -L"$builddir/src/.libs" -Wl,-rpath,"$builddir/src/.libs" -ludgram-1 \
    $(pkg-config --libs glib-2.0 gio-2.0 json-glib-1.0) ${SANITIZER_CFLAGS:-} \
    || { echo "FAIL: $f does not compile:"; cat "$f"; exit 1; }
  if grep -q "serve_forever" "$f"; then
    $leakcheck "$prog" >"$prog.out" 2>&1 &
    pid=$!
    # Answered: it serves, so its SIGTERM handling is in place.
    timeout 60 python3 -c '
import socket, sys, time
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.bind(""); c.settimeout(1)
for attempt in range(50):
    try:
        c.sendto(b"hello", sys.argv[1]); sys.exit(0 if c.recv(100) == b"HELLO" else 1)
    except (FileNotFoundError, ConnectionRefusedError, socket.timeout):
        time.sleep(0.1)
sys.exit(1)' "$tmp/app.sock" || { kill $pid; cat "$prog.out"; echo "FAIL: $f did not answer"; exit 1; }
    kill -TERM $pid; wait $pid; rc=$?
  else
    timeout 60 $leakcheck "$prog" >"$prog.out" 2>&1
    rc=$?
  fi
  [ $rc -eq 0 ] || { cat "$prog.out"; echo "FAIL: $f exited $rc (99: valgrind found a leak or an error)"; exit 1; }
  ran=$((ran + 1))
done
echo "ok: the documentation's code stands in examples/, or compiles and runs without a leak ($ran programs)"
