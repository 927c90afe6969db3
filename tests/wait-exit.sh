# Sourced by the test scripts: waits at most $2 seconds for our child $1 to
# exit and sets $status (137 if it had to be killed).  Not in a $(...)
# subshell: only the shell that started a child can wait for it.
wait_exit () {
  i=0
  while kill -0 "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt $(($2 * 100)) ] && { kill -KILL "$1"; wait "$1"; status=137; return; }
    sleep 0.01
  done
  wait "$1"; status=$?
}
