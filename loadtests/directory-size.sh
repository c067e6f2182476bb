#!/usr/bin/env bash
# Flat cost with directory size, end to end: for a small and a large user pool (1k and 1M users by
# default) it starts a release daemon on a fresh data directory, creates a pool and client through
# portcullis-load's set-up, stops the daemon, bulk-loads the users with `portcullis seed`, starts
# the daemon again and runs the same scenarios against both, sampling the daemon's RSS once a
# second. Writes directory-size.md and directory-size.json (p50 per size, their ratio, peak RSS)
# plus each run's report and chart into the output directory. See loadtests/README.md.
#
#   loadtests/directory-size.sh [--small N] [--large N] [--real K] [--scenarios "srp get-user list-users-filtered"]
#                               [--concurrency N] [--duration S] [--warmup S] [--block-cache-mb M]
#                               [--out DIR] [--skip-build]
#
# K users per pool (every N/K-th, so sign-ins touch the whole key space) get a real password; the
# virtual users cycle through them. Ports: PORTCULLIS_PORT (9643). Every process it starts is
# stopped on exit, also on Ctrl-C or failure.
set -euo pipefail

# shellcheck source=loadtests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # sets ROOT and changes into it

SMALL=1000
LARGE=1000000
REAL=1000
SCENARIOS="srp get-user list-users-filtered"
CONCURRENCY=16
DURATION=20
WARMUP=3
BLOCK_CACHE_MB=64
OUT="loadtests/results/directory-size-$(date +%Y%m%d-%H%M%S)"
SKIP_BUILD=0
PORT="${PORTCULLIS_PORT:-9643}"
PASSWORD="Seed-Passw0rd!"

lt_options 2,15 --small=SMALL --large=LARGE --real=REAL --scenarios=SCENARIOS --concurrency=CONCURRENCY \
  --duration=DURATION --warmup=WARMUP --block-cache-mb=BLOCK_CACHE_MB --out=OUT --skip-build+SKIP_BUILD \
  -- "$@"
lt_whole_numbers "$SMALL" "$LARGE" "$REAL" "$CONCURRENCY" "$DURATION" "$WARMUP" "$BLOCK_CACHE_MB"
[ "$REAL" -le "$SMALL" ] || { echo "--real $REAL must not exceed --small $SMALL" >&2; exit 2; }
lt_warmup_shorter "$WARMUP" "$DURATION"

say() { printf '\n[directory-size] %s\n' "$*" >&2; }

lt_begin
CONFIG="$WORK/portcullis.toml"
lt_write_config "$CONFIG" "[storage]" "block_cache_mb = $BLOCK_CACHE_MB"

for size in "$SMALL" "$LARGE"; do
  data="$WORK/data-$size"; log="$OUT/daemon-$size.log"
  : >"$log"
  say "$size users: pool and client"
  lt_start_daemon "$CONFIG" "$data" "$PORT" "$log"
  common=(--endpoint "https://127.0.0.1:$PORT" --ca-bundle "$data/tls/ca.pem" --credentials "$data/credentials")
  "$LOAD" get-user "${common[@]}" --users 1 --concurrency 1 --duration 1 --keep-pool \
    --fixture "$WORK/setup-$size.json" --out "$WORK/setup-run-$size" >/dev/null
  lt_stop_daemon
  pool_id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pool_id"])' "$WORK/setup-$size.json")"

  say "$size users: seeding (daemon stopped)"
  "$PORTCULLIS" seed --config "$CONFIG" --data-dir "$data" --pool-id "$pool_id" --users "$size" \
    --prefix s --real-passwords "$REAL" --password "$PASSWORD" | tee "$OUT/seed-$size.txt"
  python3 - "$WORK/setup-$size.json" "$WORK/fixture-$size.json" "$size" "$REAL" "$PASSWORD" <<'PY'
import json, sys
setup, out, size, real, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
stride = size // real  # the seeded users with the password (see PasswordUsers in src/seed.rs)
fixture = json.load(open(setup))
fixture.update(password=password, usernames=[f"s{k * stride:07d}" for k in range(real)])
json.dump(fixture, open(out, "w"), indent=1)
PY

  lt_start_daemon "$CONFIG" "$data" "$PORT" "$log"
  lt_sample_rss "$OUT/rss-$size.txt"
  for scenario in $SCENARIOS; do
    say "$size users: $scenario"
    "$LOAD" "$scenario" "${common[@]}" --fixture "$WORK/fixture-$size.json" --users "$REAL" \
      --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --daemon-pid "$DAEMON_PID" \
      --out "$OUT/$scenario-$size" | tee "$OUT/$scenario-$size.txt"
  done
  awk '/^VmHWM/ {print $2}' "/proc/$DAEMON_PID/status" >"$OUT/hwm-$size.txt"
  lt_stop_sampler
  lt_stop_daemon
done

python3 - "$OUT" "$SMALL" "$LARGE" "$SCENARIOS" "$BLOCK_CACHE_MB" <<'PY'
import json, os, sys
out, small, large, scenarios, cache_mb = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5]
def report(scenario, size):
    return json.load(open(os.path.join(out, f"{scenario}-{size}.json")))
def rss_mb(size):
    samples = [int(l) for l in open(os.path.join(out, f"rss-{size}.txt")) if l.strip().isdigit()]
    hwm = open(os.path.join(out, f"hwm-{size}.txt")).read().strip()
    return max(samples) / 1024 if samples else None, int(hwm) / 1024 if hwm.isdigit() else None
rows, result = [], {"small": int(small), "large": int(large), "block_cache_mb": int(cache_mb), "scenarios": {}}
for s in scenarios:
    a, b = report(s, small), report(s, large)
    pa, pb = a["summary"]["latency_ms"]["p50"], b["summary"]["latency_ms"]["p50"]
    ratio = pb / pa if pa else float("nan")
    result["scenarios"][s] = {"p50_ms": {small: pa, large: pb}, "ratio": ratio,
                              "throughput": {small: a["summary"]["throughput"], large: b["summary"]["throughput"]},
                              "p99_ms": {small: a["summary"]["latency_ms"]["p99"], large: b["summary"]["latency_ms"]["p99"]},
                              "errors": {small: a["summary"]["errors"], large: b["summary"]["errors"]}}
    rows.append(f"| {s} | {a['summary']['throughput']:,.0f} | {pa:.2f} | {b['summary']['throughput']:,.0f} | {pb:.2f} "
                f"| {ratio:.2f} | {a['summary']['errors'] + b['summary']['errors']} |")
rss = {size: rss_mb(size) for size in (small, large)}
result["rss_mb"] = {size: {"max_sampled": r[0], "peak_vmhwm": r[1]} for size, r in rss.items()}
json.dump(result, open(os.path.join(out, "directory-size.json"), "w"), indent=1)
md = [f"# Cost against directory size: {int(small):,} vs {int(large):,} users", "",
      f"Block cache {cache_mb} MiB. Same scenarios, settings and machine; p50 in ms; ratio = p50 at "
      f"{int(large):,} / p50 at {int(small):,}.", "",
      f"| scenario | ops/s at {int(small):,} | p50 | ops/s at {int(large):,} | p50 | ratio | errors |",
      "|---|---:|---:|---:|---:|---:|---:|", *rows, "",
      "Daemon RSS under load (MiB): " + ", ".join(
          f"{int(size):,} users: max sampled {r[0]:.0f}, peak (VmHWM) {r[1]:.0f}" for size, r in rss.items()
          if r[0] is not None and r[1] is not None)]
open(os.path.join(out, "directory-size.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
say "wrote $OUT/directory-size.md and .json"
