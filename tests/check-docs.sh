#!/bin/sh
# Every exported symbol has a gtk-doc comment ("/**" then " * name:") in
# src/, and so does every public type of include/udgram/.
set -u
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
lib="$builddir/src/.libs/libudgram-1.so"
missing=0
documented=$(cat "$srcdir"/src/*.c "$srcdir"/include/udgram/*.h | sed -n 's/^ \* \([A-Za-z_][A-Za-z0-9_]*\):.*$/\1/p' | sort -u)
for sym in $(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^udg_'); do
  echo "$documented" | grep -qx "$sym" || { echo "undocumented function: $sym"; missing=$((missing + 1)); }
done
for type in $( (grep -ho '^} \(Udg[A-Za-z]*\);' "$srcdir"/include/udgram/*.h | sed 's/^} \(.*\);/\1/';
                grep -ho '^typedef struct _Udg[A-Za-z]* \(Udg[A-Za-z]*\);' "$srcdir"/include/udgram/*.h | sed 's/.* \(Udg[A-Za-z]*\);/\1/') | sort -u); do
  echo "$documented" | grep -qx "$type" || { echo "undocumented type: $type"; missing=$((missing + 1)); }
done
n=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^udg_')
[ $missing -eq 0 ] || { echo "$missing public symbols lack a doc comment"; exit 1; }
echo "ok: all $n exported functions and every public type have a doc comment"
