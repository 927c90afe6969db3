#!/bin/sh
# Regenerates the build system of a git checkout, then runs configure with
# the arguments given (NOCONFIGURE=1 skips that).  The autoconf-archive
# and GObject introspection macros it uses are in m4/; the tools below must
# be installed, and each missing one is named with its Debian package.
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
cd "$srcdir"

missing=
need() { # need PROGRAM DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need autoreconf autoconf
need automake automake
need libtoolize libtool
need autopoint autopoint
need pkg-config pkg-config
need gtkdocize gtk-doc-tools
# PKG_CHECK_MODULES comes with pkg-config; without pkg.m4 autoconf would
# stop with "possibly undefined macro" and no hint.
if command -v aclocal >/dev/null 2>&1 && ! test -f "$(aclocal --print-ac-dir)/pkg.m4"; then
  missing="$missing pkg-config"
fi
if test -n "$missing"; then
  missing=$(echo $missing | tr ' ' '\n' | sort -u | xargs)
  echo "autogen.sh: cannot regenerate the build system: missing tools." >&2
  echo "  On Debian or Ubuntu: apt-get install $missing" >&2
  echo "  (scripts/bootstrap installs every build dependency.)" >&2
  exit 1
fi

autoreconf --force --install
if test -z "$NOCONFIGURE"; then
  exec ./configure "$@"
fi
