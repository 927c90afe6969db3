#!/bin/sh
# Every exported symbol has a gtk-doc comment ("/**" then " * name:") in
# src/, and so does every public type of include/udgram/.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
lib="$builddir/src/.libs/libudgram-1.so"
missing=0
documented=$(cat "$srcdir"/src/*.c "$srcdir"/include/udgram/*.h "$builddir"/src/udg-enum-types.c | sed -n 's/^ \* \([A-Za-z_][A-Za-z0-9_]*\):.*$/\1/p' | sort -u)
for sym in $(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^udg_'); do
  echo "$documented" | grep -qx "$sym" || { echo "undocumented function: $sym"; missing=$((missing + 1)); }
done
for type in $( (grep -ho '^} \(Udg[A-Za-z]*\);' "$srcdir"/include/udgram/*.h | sed 's/^} \(.*\);/\1/';
                grep -ho '^typedef struct _Udg[A-Za-z]* \(Udg[A-Za-z]*\);' "$srcdir"/include/udgram/*.h | sed 's/.* \(Udg[A-Za-z]*\);/\1/') | sort -u); do
  echo "$documented" | grep -qx "$type" || { echo "undocumented type: $type"; missing=$((missing + 1)); }
done
n=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^udg_')
[ $missing -eq 0 ] || { echo "$missing public symbols lack a doc comment"; exit 1; }
# Ownership: every function returning a pointer says, in its Returns:, who
# owns the result ((transfer full), (transfer none), ...).
python3 - "$srcdir" <<'PY' || exit 1
import re, sys, glob, os
srcdir = sys.argv[1]
bad, n = [], 0
for f in sorted(glob.glob(os.path.join(srcdir, "src", "*.c"))):
    text = open(f).read()
    for m in re.finditer(r"/\*\*\n \* (udg_[a-z0-9_]+):\n(.*?)\*/\n([^\n(]*?)\n?(udg_[a-z0-9_]+) \(", text, re.S):
        name, body, rtype, fname = m.group(1), m.group(2), m.group(3).strip(), m.group(4)
        if name != fname or not ("*" in rtype or rtype in ("gpointer", "gconstpointer")):
            continue
        n += 1
        ret = re.search(r"Returns:(.*?)(\n \*\n|\n \* Since|$)", body, re.S)
        if ret is None or "(transfer" not in ret.group(1):
            bad.append(f"{os.path.basename(f)}: {name} returns {rtype} without a (transfer ...) annotation")
print("\n".join(bad + [f"ok: {n} functions return a pointer, each with its transfer annotation"]) if not bad else "\n".join(bad))
sys.exit(1 if bad else 0)
PY
echo "ok: all $n exported functions and every public type have a doc comment"
