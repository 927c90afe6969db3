#!/bin/sh
# The code in README.md and docs/tutorial.md is real: a C block that starts
# with "/* examples/FILE.c */" must stand verbatim in that file (which make
# builds and make check runs); a block with a main() is compiled here
# against the library.
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
            open(os.path.join(tmp, f"block{compiled}.c"), "w").write(block)
            compiled += 1
print(f"{checked} blocks found in examples/, {compiled} to compile")
sys.exit(1 if bad else 0)
PY
for f in "$tmp"/block*.c; do
  [ -e "$f" ] || continue
  ${CC:-cc} ${SANITIZER_CFLAGS:-} -D_GNU_SOURCE -I"$srcdir/include" $(pkg-config --cflags glib-2.0 gio-2.0 json-glib-1.0) \
    -o "${f%.c}" "$f" -L"$builddir/src/.libs" -ludgram-1 $(pkg-config --libs glib-2.0 gio-2.0 json-glib-1.0) \
    ${SANITIZER_CFLAGS:-} || { echo "FAIL: $f does not compile:"; cat "$f"; exit 1; }
done
echo "ok: the documentation's code compiles or stands in examples/"
