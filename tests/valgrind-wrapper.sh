#!/bin/sh
# LOG_COMPILER for 'make check-valgrind': runs a libtool test program under
# valgrind with VALGRIND_FLAGS.
exec $LIBTOOL --mode=execute $VALGRIND $VALGRIND_FLAGS "$@"
