#!/bin/sh
# Regenerates the build system of a git checkout (needs autoconf, automake,
# libtool, autopoint, pkg-config and autoconf-archive).
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
cd "$srcdir"
autoreconf --force --install
if test -z "$NOCONFIGURE"; then
  exec ./configure "$@"
fi
