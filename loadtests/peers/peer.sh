#!/usr/bin/env bash
# Start/stop a peer Cognito emulator on 127.0.0.1:PORT for throughput comparison.
#
#   loadtests/peers/peer.sh start moto PORT            -> prints the PID on stdout
#   loadtests/peers/peer.sh start cognito-local PORT   -> prints the PID on stdout
#   loadtests/peers/peer.sh stop  moto|cognito-local PORT
#   loadtests/peers/peer.sh status moto|cognito-local PORT
#
# Install the peers first with loadtests/peers/install.sh.
# State (pid file, log, cognito-local's .cognito/ dir) lives in
# $PEERS_RUN/<peer>-<port>/ (default: $TMPDIR/portcullis-peers/<peer>-<port>), wiped on start.
# Progress lines go to stderr so that `pid=$(peer.sh start ...)` works.
set -euo pipefail

PEERS_DIR="${PEERS_DIR:-$HOME/.cache/portcullis-peers}"
PEERS_RUN="${PEERS_RUN:-${TMPDIR:-/tmp}/portcullis-peers}"
WAIT_SECS="${WAIT_SECS:-30}"

usage() { echo "usage: $0 start|stop|status moto|cognito-local PORT" >&2; exit 2; }
say() { printf '[peer] %s\n' "$*" >&2; }

[ $# -eq 3 ] || usage
action="$1" peer="$2" port="$3"
case "$peer" in moto|cognito-local) ;; *) usage ;; esac
[[ "$port" =~ ^[0-9]+$ ]] || usage

rundir="$PEERS_RUN/$peer-$port"
pidfile="$rundir/pid"
logfile="$rundir/log"

is_running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# Any HTTP response at all on / means the server is accepting requests
# (moto answers 404 on GET /, cognito-local answers 404 too).
answers() {
  curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null | grep -qv '^000$'
}

start() {
  if is_running; then
    say "$peer already running on port $port (pid $(cat "$pidfile"))"
    cat "$pidfile"; return 0
  fi
  if answers; then
    say "something else already answers on 127.0.0.1:$port"; exit 1
  fi
  rm -rf "$rundir"; mkdir -p "$rundir"
  case "$peer" in
    moto)
      local bin="$PEERS_DIR/venv/bin/moto_server"
      [ -x "$bin" ] || { say "moto not installed: run loadtests/peers/install.sh"; exit 1; }
      # setsid: own process group, so `stop` can kill the whole tree.
      (cd "$rundir" && exec setsid "$bin" -H 127.0.0.1 -p "$port") >"$logfile" 2>&1 </dev/null &
      ;;
    cognito-local)
      local bin="$PEERS_DIR/node/node_modules/cognito-local/lib/bin/start.js"
      [ -f "$bin" ] || { say "cognito-local not installed: run loadtests/peers/install.sh"; exit 1; }
      # cognito-local keeps its state (config + one JSON "db" per pool) in ./.cognito/.
      # UsernameAttributes defaults to ["email"] (username must be an email and the stored
      # username becomes the sub); turn it off so pools behave like Cognito's default.
      mkdir -p "$rundir/.cognito"
      cat >"$rundir/.cognito/config.json" <<JSON
{
  "UserPoolDefaults": { "UsernameAttributes": [] },
  "ServerConfig": { "hostname": "127.0.0.1", "port": $port },
  "TokenConfig": { "IssuerDomain": "http://127.0.0.1:$port" }
}
JSON
      (cd "$rundir" && HOST=127.0.0.1 PORT="$port" exec setsid node "$bin") >"$logfile" 2>&1 </dev/null &
      ;;
  esac
  local pid=$!
  echo "$pid" >"$pidfile"
  local deadline=$((SECONDS + WAIT_SECS))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$peer exited during start-up; log ($logfile):"; tail -20 "$logfile" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "$peer did not answer on port $port within ${WAIT_SECS}s; log ($logfile):"
      tail -20 "$logfile" >&2; kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; exit 1
    fi
    sleep 0.2
  done
  say "$peer listening on http://127.0.0.1:$port (pid $pid, log $logfile)"
  echo "$pid"
}

stop() {
  if ! is_running; then say "$peer on port $port not running"; rm -f "$pidfile"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  # pid is a session/group leader (setsid), so signal the whole group.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "$peer on port $port stopped (pid $pid)"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  status) if is_running; then say "running (pid $(cat "$pidfile"))"; cat "$pidfile"; else say "not running"; exit 1; fi ;;
  *) usage ;;
esac
