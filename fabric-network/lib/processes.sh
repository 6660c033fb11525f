# Starts the network's servers in the background and stops exactly those, by recorded PID.
# shellcheck shell=bash

# start_process NAME COMM COMMAND...: COMM is the process name the PID must still have at stop time.
start_process() {
  local name=$1 comm=$2 log pid
  shift 2
  mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
  log="$RUN_DIR/logs/$name.log"
  # A simple background command, so $! is the server itself (nohup and env both exec).
  nohup "$@" >>"$log" 2>&1 </dev/null &
  pid=$!
  printf '%s %s\n' "$pid" "$comm" >"$RUN_DIR/pids/$name.pid"
  log "started $name (pid $pid, log ${log#"$REPO_ROOT"/})"
}

# pid_alive PIDFILE: true when the recorded PID runs and still has the recorded process name.
pid_alive() {
  local pid comm
  read -r pid comm <"$1" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}

stop_process() { # NAME
  local file="$RUN_DIR/pids/$1.pid" pid comm _
  [ -f "$file" ] || return 0
  read -r pid comm <"$file"
  if ! pid_alive "$file"; then
    log "$1 (pid $pid) is not running"
    rm -f "$file"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$1 (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  log "stopped $1 (pid $pid)"
  rm -f "$file"
}

# Chaincode first, then peers, then orderers, then CA servers: each stops before what it depends on.
stop_all() {
  local f name
  stop_process chaincode
  for f in "$RUN_DIR"/pids/peer*.pid "$RUN_DIR"/pids/orderer*.pid "$RUN_DIR"/pids/ca.*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    stop_process "$name"
  done
}

print_processes() {
  local f pid comm name state
  for f in "$RUN_DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    read -r pid comm <"$f"
    if pid_alive "$f"; then state=running; else state=STOPPED; fi
    printf '  %-22s pid %-8s %-8s log %s\n' "$name" "$pid" "$state" "${RUN_DIR#"$REPO_ROOT"/}/logs/$name.log"
  done
}
