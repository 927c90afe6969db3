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

# Versions agree: configure's, the header's UDG_*_VERSION, the
# UDG_AVAILABLE_IN_X_Y of the declarations and the "Since: X.Y" of the docs.
src=${top_srcdir:-.}
package=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "${top_builddir:-.}/config.h")
header=$(awk '/#define UDG_(MAJOR|MINOR|MICRO)_VERSION/ {v = v (v == "" ? "" : ".") $3} END {print v}' \
  "$src/include/udgram/udg-macros.h")
[ -n "$package" ] && [ "$package" = "$header" ] || { echo "configure says $package, udg-macros.h $header"; exit 1; }
available=$(grep -h '^UDG_AVAILABLE_IN_[0-9]' "$src"/include/udgram/*.h | sed 's/^UDG_AVAILABLE_IN_//; s/_/./' | sort -u)
since=$(grep -rhoE 'Since: [0-9]+\.[0-9]+' "$src/src" "$src/include" | sed 's/Since: //' | sort -u)
[ "$available" = "$since" ] || { echo "UDG_AVAILABLE_IN_ gives '$available', the docs' Since: '$since'"; exit 1; }
for v in $available; do
  [ "$(printf '%s\n%s\n' "$v" "$package" | sort -V | tail -1)" = "$package" ] \
    || { echo "symbols available in $v, after the package's $package"; exit 1; }
done
echo "ok: version $package; symbols and docs say $(echo $available)"
