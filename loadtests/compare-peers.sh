#!/usr/bin/env bash
# Peer comparison, end to end: builds the release binaries, installs moto and cognito-local
# (loadtests/peers/install.sh), starts a release Portcullis daemon and the peers on loopback, runs the
# same portcullis-load scenarios with the same settings against each, and writes one comparison table
# (comparison.md and comparison.json) into the output directory. See loadtests/README.md.
#
#   loadtests/compare-peers.sh [--concurrency N] [--duration S] [--warmup S] [--users N]
#                              [--out DIR] [--targets "portcullis moto cognito-local"]
#                              [--scenarios "admin-create-user signup ..."] [--fresh-all]
#                              [--skip-build] [--verbose]
#
# cognito-local is restarted with empty state before every scenario; --fresh-all does that for every
# target (Portcullis with a new data directory, moto), otherwise they run once for all scenarios.
# The same settings come from the environment too: CONCURRENCY, DURATION, WARMUP, USERS, OUT, TARGETS,
# SCENARIOS, FRESH_ALL=1; ports PORTCULLIS_PORT (9543), MOTO_PORT (5101), COGNITO_LOCAL_PORT (5102).
# Every process it starts is stopped on exit, also on Ctrl-C or failure.
set -euo pipefail

# shellcheck source=loadtests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ROOT (cd there), PORTCULLIS, LOAD, lt_write_config; keeps its own exit trap

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-2}"
USERS="${USERS:-50}"
OUT="${OUT:-loadtests/results/peers-$(date +%Y%m%d-%H%M%S)}"
TARGETS="${TARGETS:-portcullis moto cognito-local}"
SCENARIOS="${SCENARIOS:-admin-create-user signup password refresh get-user list-users}"
PORTCULLIS_PORT="${PORTCULLIS_PORT:-9543}"
MOTO_PORT="${MOTO_PORT:-5101}"
COGNITO_LOCAL_PORT="${COGNITO_LOCAL_PORT:-5102}"
PYTHON="${PYTHON:-python3}"
SKIP_BUILD=0
FRESH_ALL="${FRESH_ALL:-0}"
VERBOSE=0

lt_options 2,16 --concurrency=CONCURRENCY --duration=DURATION --warmup=WARMUP --users=USERS --out=OUT \
  --targets=TARGETS --scenarios=SCENARIOS --skip-build+SKIP_BUILD --fresh-all+FRESH_ALL \
  --verbose+VERBOSE -- "$@"
lt_whole_numbers "$CONCURRENCY" "$DURATION" "$WARMUP" "$USERS"
[ "$WARMUP" -lt "$DURATION" ] || { echo "--warmup $WARMUP must be shorter than --duration $DURATION" >&2; exit 2; }
for t in $TARGETS; do
  case "$t" in portcullis|moto|cognito-local) ;; *) echo "unknown target: $t" >&2; exit 2 ;; esac
done

say() { printf '\n[compare] %s\n' "$*" >&2; }
note() { printf '[compare] %s\n' "$*" >&2; }

TARGET_DIR="$CARGO_TARGET_DIR"
PEER="$ROOT/loadtests/peers/peer.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-compare.XXXXXX")"
export PEERS_RUN="$WORK/peers"   # peer.sh keeps the peers' state, pid files and logs here
mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
DAEMON_PID=""
MOTO_UP=0
CL_UP=0

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ "$CL_UP" = 1 ] && "$PEER" stop cognito-local "$COGNITO_LOCAL_PORT" || true
  [ "$MOTO_UP" = 1 ] && "$PEER" stop moto "$MOTO_PORT" || true
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    note "portcullis (pid $DAEMON_PID) stopped"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----- build and install -----
if [ "$SKIP_BUILD" = 0 ]; then
  say "building release binaries (CARGO_TARGET_DIR=$TARGET_DIR)"
  cargo build --release --bins
fi
[ -x "$PORTCULLIS" ] && [ -x "$LOAD" ] || { note "missing $PORTCULLIS or $LOAD (build them)"; exit 1; }
if [[ " $TARGETS " == *" moto "* || " $TARGETS " == *" cognito-local "* ]]; then
  say "installing the peers (loadtests/peers/install.sh)"
  loadtests/peers/install.sh >&2
fi

# Versions and machine, for the table's header.
{
  lt_machine
  cat "${PEERS_DIR:-$HOME/.cache/portcullis-peers}/versions.txt" 2>/dev/null || true
} >"$OUT/versions.txt"

# ----- Portcullis -----
start_portcullis() {
  local data="$WORK/portcullis-data" config="$WORK/portcullis.toml"
  rm -rf "$data"
  # Rate limits high enough not to cap the test (throttled calls would count as errors).
  lt_write_config "$config"
  if curl -s -o /dev/null --max-time 2 -k "https://127.0.0.1:$PORTCULLIS_PORT/"; then
    note "something already answers on 127.0.0.1:$PORTCULLIS_PORT (set PORTCULLIS_PORT)"; exit 1
  fi
  say "starting portcullis (release) on https://127.0.0.1:$PORTCULLIS_PORT, data in $data"
  "$PORTCULLIS" serve --config "$config" --data-dir "$data" --listen "127.0.0.1:$PORTCULLIS_PORT" \
    >"$OUT/logs/portcullis-daemon.log" 2>&1 </dev/null &
  DAEMON_PID=$!
  local deadline=$((SECONDS + 120))
  until [ -f "$data/tls/ca.pem" ] && [ -f "$data/credentials" ] &&
        curl -sf -o /dev/null --max-time 2 --cacert "$data/tls/ca.pem" "https://127.0.0.1:$PORTCULLIS_PORT/health"; do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      note "portcullis exited during start-up:"; tail -20 "$OUT/logs/portcullis-daemon.log" >&2; exit 1
    fi
    [ $SECONDS -lt $deadline ] || { note "portcullis not healthy after 120 s"; exit 1; }
    sleep 0.2
  done
  note "portcullis healthy (pid $DAEMON_PID)"
  PORTCULLIS_ARGS=(--endpoint "https://127.0.0.1:$PORTCULLIS_PORT" --ca-bundle "$data/tls/ca.pem"
                   --credentials "$data/credentials" --profile portcullis --daemon-pid "$DAEMON_PID")
}

stop_portcullis() {
  if [ -n "$DAEMON_PID" ]; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true
    note "portcullis (pid $DAEMON_PID) stopped"; DAEMON_PID=""
  fi
}

# Starts (or restarts, from empty state) a peer; sets PEER_PID.
start_peer() {
  local peer="$1" port="$2"
  "$PEER" stop "$peer" "$port" 2>/dev/null || true
  PEER_PID="$("$PEER" start "$peer" "$port")"
  case "$peer" in moto) MOTO_UP=1 ;; cognito-local) CL_UP=1 ;; esac
}

# ----- the runs -----
set -- $SCENARIOS
n_scenarios=$#
set -- $TARGETS
total=$((n_scenarios * $#))
run=0
failed=0
say "$total runs: targets [$TARGETS] x scenarios [$SCENARIOS]; $CONCURRENCY virtual users, ${DURATION} s (warm-up ${WARMUP} s), $USERS users; about $((total * (DURATION + 3) / 60 + 1)) min"
say "output: $OUT"

start_target() {
  case "$1" in
    portcullis) start_portcullis ;;
    moto) start_peer moto "$MOTO_PORT"; MOTO_PID="$PEER_PID" ;;
    cognito-local) start_peer cognito-local "$COGNITO_LOCAL_PORT"; CL_PID="$PEER_PID" ;;
  esac
}
stop_target() {
  case "$1" in
    portcullis) stop_portcullis ;;
    moto) "$PEER" stop moto "$MOTO_PORT"; MOTO_UP=0 ;;
    cognito-local) "$PEER" stop cognito-local "$COGNITO_LOCAL_PORT"; CL_UP=0 ;;
  esac
}

for target in $TARGETS; do
  # Fresh state for every scenario: always for cognito-local (it slows down as its JSON files grow).
  fresh="$FRESH_ALL"
  [ "$target" = cognito-local ] && fresh=1
  first=1
  for scenario in $SCENARIOS; do
    run=$((run + 1))
    if [ "$first" = 1 ] || [ "$fresh" = 1 ]; then start_target "$target"; fi
    first=0
    case "$target" in
      portcullis) args=("${PORTCULLIS_ARGS[@]}") ;;
      moto) args=(--endpoint "http://127.0.0.1:$MOTO_PORT" --access-key test --secret-key test --daemon-pid "$MOTO_PID") ;;
      cognito-local)
        args=(--endpoint "http://127.0.0.1:$COGNITO_LOCAL_PORT" --access-key test --secret-key test --daemon-pid "$CL_PID") ;;
    esac
    prefix="$OUT/$target-$scenario"
    log="$OUT/logs/$target-$scenario.log"
    note "[$run/$total] $target $scenario: running ${DURATION} s (log $log)"
    cmd=("$LOAD" "$scenario" "${args[@]}" --users "$USERS" --concurrency "$CONCURRENCY"
         --setup-concurrency 8 --duration "$DURATION" --warmup "$WARMUP" --out "$prefix")
    status=0
    if [ "$VERBOSE" = 1 ]; then
      "${cmd[@]}" 2>&1 | tee "$log" >&2 || status=$?
    else
      "${cmd[@]}" >"$log" 2>&1 || status=$?
    fi
    if [ "$status" -ne 0 ]; then
      failed=$((failed + 1))
      note "[$run/$total] $target $scenario: FAILED (exit $status); last lines of $log:"
      tail -5 "$log" >&2
    fi
    if [ -f "$prefix.json" ]; then
      "$PYTHON" - "$prefix.json" "$run" "$total" "$target" "$scenario" <<'PY' >&2
import json, sys
path, run, total, target, scenario = sys.argv[1:]
r = json.load(open(path))
s = r["summary"]
lat = s.get("latency_ms") or {}
fmt = lambda v: "-" if v is None else f"{v:.1f}"
print(f"[compare] [{run}/{total}] {target} {scenario}: {s['throughput']:.0f} {r['unit']}/s, "
      f"p50 {fmt(lat.get('p50'))} ms, p99 {fmt(lat.get('p99'))} ms, {s['errors']} errors")
PY
    fi
    if [ "$fresh" = 1 ]; then stop_target "$target"; fi
  done
  if [ "$fresh" != 1 ]; then stop_target "$target"; fi
done

# ----- the table -----
say "writing $OUT/comparison.md and comparison.json"
fresh_flag=()
[ "$FRESH_ALL" = 1 ] && fresh_flag=(--fresh-all)
"$PYTHON" "$ROOT/loadtests/peers/compare.py" "$OUT" --targets $TARGETS --scenarios $SCENARIOS "${fresh_flag[@]}"
echo
cat "$OUT/comparison.md"
if [ "$failed" -gt 0 ]; then
  note "$failed of $total runs failed; see $OUT/logs/"
  exit 1
fi
