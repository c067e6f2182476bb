# Shared plumbing of the load-test scripts (efficiency.sh, instructions.sh, directory-size.sh, traffic.sh,
# import-100k.sh, compare-peers.sh):
# sourced, not run. The daemon configuration for load runs, a release daemon on loopback with its
# health wait, an RSS sampler, and (lt_init) one exit trap that stops them and removes the work
# directory.
#
# Sourcing sets ROOT (the repository) and SCRIPT, changes into ROOT, and sets PORTCULLIS and LOAD;
# lt_init sets WORK. The sourcing script sets SKIP_BUILD for lt_build.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The sourcing script by absolute path, for its help text once the working directory has changed.
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PORTCULLIS="$CARGO_TARGET_DIR/release/portcullis"
LOAD="$CARGO_TARGET_DIR/release/portcullis-load"
DAEMON_PID=""
SAMPLER_PID=""

# A work directory, removed on exit together with the daemon and sampler (scripts with their own
# exit handling, such as compare-peers.sh, use only the functions below).
lt_init() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-loadtest.XXXXXX")"
  trap lt_cleanup EXIT INT TERM
}

lt_cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$WORK"
  exit "$status"
}

# lt_options LINES SPEC... -- "$@": parses the script's command line. SPEC `--flag=VAR` takes a value
# into VAR, `--flag+VAR` sets VAR=1. -h/--help, an unknown argument or a missing value print the
# script's header comment (its LINES, e.g. 2,15) and exit 2.
lt_options() {
  local help="$1" spec
  local -A value_of=() switch_of=()
  shift
  while [ "$1" != -- ]; do
    spec="$1"; shift
    case "$spec" in
      *=*) value_of["${spec%%=*}"]="${spec#*=}" ;;
      *+*) switch_of["${spec%%+*}"]="${spec#*+}" ;;
    esac
  done
  shift
  while [ $# -gt 0 ]; do
    if [ -n "${value_of[$1]:-}" ] && [ $# -ge 2 ]; then
      printf -v "${value_of[$1]}" '%s' "$2"; shift 2
    elif [ -n "${switch_of[$1]:-}" ]; then
      printf -v "${switch_of[$1]}" '%s' 1; shift
    else
      if [ -n "${value_of[$1]:-}" ]; then echo "$1 needs a value" >&2
      elif [ "$1" != -h ] && [ "$1" != --help ]; then echo "unknown argument: $1" >&2; fi
      sed -n "${help}p" "$SCRIPT" | sed 's/^# \{0,1\}//' >&2
      exit 2
    fi
  done
}

# lt_whole_numbers VALUE...: exits 2 unless every value is a whole number.
lt_whole_numbers() {
  local n
  for n in "$@"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a whole number: $n" >&2; exit 2; }
  done
}

# lt_warmup_shorter WARMUP DURATION: exits 2 unless the warm-up leaves some of the run to measure.
lt_warmup_shorter() {
  [ "$1" -lt "$2" ] || { echo "--warmup must be shorter than --duration" >&2; exit 2; }
}

# What every measuring script does first: lt_init, the output directory $OUT made (and made
# absolute, as the runs may change directory), lt_build, and what the run is measured with in
# $OUT/machine.txt (lt_machine).
lt_begin() {
  lt_init
  mkdir -p "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  lt_build
  lt_machine >"$OUT/machine.txt"
}

# Builds the release binaries, or (with SKIP_BUILD=1) checks that they exist.
lt_build() {
  if [ "$SKIP_BUILD" = 0 ]; then
    printf '\n[loadtest] building release binaries\n' >&2
    cargo build --release --locked --bins
  else
    for bin in "$PORTCULLIS" "$LOAD"; do
      [ -x "$bin" ] || { echo "$bin is missing: build first (or drop --skip-build)" >&2; exit 2; }
    done
  fi
}

# lt_write_config FILE [TOML...]: the daemon's configuration for load runs. Cognito's quotas (the
# dev defaults) would cap the runs long before two cores do, so the limits are far above that.
lt_write_config() {
  local file="$1"; shift
  {
    printf '%s\n' "$@"
    printf '[rate_limits]\nper_ip_rps = 0\n[rate_limits.categories]\n'
    for c in UserAuthentication UserCreation UserUpdate UserRead UserList UserToken UserResourceRead \
             UserPoolRead UserPoolUpdate UserPoolClientUpdate; do
      printf '%s = 100000\n' "$c"
    done
  } >"$file"
}

# lt_start_daemon CONFIG DATA_DIR PORT LOG: starts `portcullis serve` and waits for /health.
# DAEMON_PREFIX (an array, e.g. valgrind and its options) runs the daemon under another program, and
# HEALTH_WAIT_S (20) is how long to wait for it.
DAEMON_PREFIX=()
HEALTH_WAIT_S=20
lt_start_daemon() {
  ${DAEMON_PREFIX[@]+"${DAEMON_PREFIX[@]}"} "$PORTCULLIS" serve --config "$1" --data-dir "$2" \
    --listen "127.0.0.1:$3" >>"$4" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 1 $((HEALTH_WAIT_S * 5))); do
    curl -sf --cacert "$2/tls/ca.pem" "https://127.0.0.1:$3/health" >/dev/null 2>&1 && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || { tail -20 "$4" >&2; return 1; }
    sleep 0.2
  done
  echo "the daemon did not become healthy (log: $4)" >&2
  return 1
}

# lt_daemon_in_work: the daemon for one script's runs, on a fresh data directory in WORK: sets CONFIG
# and DATA, writes the configuration (lt_write_config) and starts it on PORT, logging to OUT/daemon.log.
lt_daemon_in_work() {
  CONFIG="$WORK/portcullis.toml"
  DATA="$WORK/data"
  lt_write_config "$CONFIG"
  lt_start_daemon "$CONFIG" "$DATA" "$PORT" "$OUT/daemon.log"
}

# Graceful stop (SIGTERM), as an operator would.
lt_stop_daemon() {
  kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""
}

# lt_sample_rss FILE: the daemon's VmRSS (KiB) once a second into FILE until lt_stop_sampler.
lt_sample_rss() {
  local pid="$DAEMON_PID"
  (while kill -0 "$pid" 2>/dev/null; do
     awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null; sleep 1
   done) >"$1" &
  SAMPLER_PID=$!
}

# lt_machine: key=value lines naming what a report was measured with (the build, the cores), for
# its header: the same code reads differently on another CPU.
lt_machine() {
  echo "portcullis=$("$PORTCULLIS" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "cpus=$(nproc)"
  echo "cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cpu_family_model=$(awk -F': ' '/^cpu family/ {f=$2} /^model\t/ {m=$2} END {print f "/" m}' /proc/cpuinfo)"
  echo "l2_cache=$(lscpu 2>/dev/null | awk -F': *' '/^L2 cache/ {print $2; exit}')"
  echo "kernel=$(uname -r)"
}

lt_stop_sampler() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
}
