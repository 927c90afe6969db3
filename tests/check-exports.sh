#!/bin/sh
# Only udg_ symbols leave libudgram-1.so (nm -D --defined-only).
set -e
lib="${top_builddir:-.}/src/.libs/libudgram-1.so"
test -f "$lib" || { echo "missing $lib"; exit 1; }
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^udg_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^udg_')
if test -n "$bad"; then
  echo "symbols exported without the udg_ prefix:"
  echo "$bad"
  exit 1
fi
echo "ok: $count exported symbols, all udg_"
