# shellcheck shell=bash
# Background processes of the demo: started with their logs under the run dir, remembered by PID,
# stopped by PID in reverse start order.

demo_pids=()
demo_names=()

# start_bg NAME CMD...: runs CMD in the background with stdout+stderr in $RUN/logs/NAME.log.
start_bg() {
  local name=$1
  shift
  "$@" >"$RUN/logs/$name.log" 2>&1 &
  demo_pids+=("$!")
  demo_names+=("$name")
  echo "$!" >"$RUN/pids/$name.pid"
  echo "    started $name (pid $!, log $RUN/logs/$name.log)"
}

# pid_of NAME: the PID start_bg recorded for NAME.
pid_of() {
  cat "$RUN/pids/$1.pid"
}

# die_with_log NAME MESSAGE: says what failed, shows the end of NAME's log, and exits (the trap cleans up).
die_with_log() {
  echo "demo: $2" >&2
  echo "---- last lines of $RUN/logs/$1.log ----" >&2
  tail -n 20 "$RUN/logs/$1.log" >&2 || true
  exit 1
}

# wait_until NAME SECONDS CMD...: polls CMD every 0.2 s until it succeeds; fails if NAME's process
# exited or SECONDS passed.
wait_until() {
  local name=$1 limit=$2
  shift 2
  local tries=$((limit * 5))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(pid_of "$name")" 2>/dev/null; then
      die_with_log "$name" "$name exited during start-up"
    fi
    tries=$((tries - 1))
    if [ "$tries" -le 0 ]; then
      die_with_log "$name" "$name did not become ready within ${limit}s"
    fi
    sleep 0.2
  done
}

# stop_index I: SIGTERM to the I-th started process if it still runs; SIGKILL after 10 s.
stop_index() {
  local i=$1 pid waited
  pid=${demo_pids[$i]}
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  waited=0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo: ${demo_names[$i]} (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  echo "    stopped ${demo_names[$i]} (pid $pid)"
}

# stop_all: stops every started process, newest first.
stop_all() {
  local i
  for ((i = ${#demo_pids[@]} - 1; i >= 0; i--)); do stop_index "$i"; done
  demo_pids=()
  demo_names=()
}

# stop_matching PATTERN: stops, newest first, the started processes whose name matches PATTERN.
stop_matching() {
  local i
  for ((i = ${#demo_pids[@]} - 1; i >= 0; i--)); do
    if [[ ${demo_names[$i]} =~ $1 ]]; then stop_index "$i"; fi
  done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
