#!/usr/bin/env bash
# Instruction counts of the hot paths, which stay the same on a noisy machine: the release daemon
# under `valgrind --tool=callgrind`, a short closed-loop run per scenario, and for each the share of
# the daemon's user-space instructions spent inside the unavoidable crypto (SRP sign-in: the server's
# SRP step and the HSM signatures; USER_PASSWORD_AUTH: the password check and the signatures; refresh:
# the signatures), every thread counted. Writes instructions.md and instructions.json, and each run's
# callgrind profile (`callgrind_annotate --inclusive=yes FILE` reads it), into the output directory.
#
#   loadtests/instructions.sh [--scenarios "srp password refresh"] [--concurrency N] [--duration S]
#                             [--users N] [--out DIR] [--skip-build]
#
# What it cannot see: time in the kernel (syscalls, loopback TCP, context switches) and what an
# instruction costs (cache misses, a slower minute of shared cores); efficiency.sh measures those in
# CPU time. Under callgrind the daemon runs ~50x slower, so a run of 30 s holds a few hundred
# operations; the window of each also holds the generator's set-up (its TLS handshakes and, for
# refresh, one password sign-in per virtual user). Port PORTCULLIS_PORT (9943).
set -euo pipefail

# shellcheck source=loadtests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # sets ROOT and changes into it

SCENARIOS="srp password refresh"
CONCURRENCY=4
DURATION=30
USERS=16
OUT="loadtests/results/instructions-$(date +%Y%m%d-%H%M%S)"
SKIP_BUILD=0
PORT="${PORTCULLIS_PORT:-9943}"

lt_options 2,16 --scenarios=SCENARIOS --concurrency=CONCURRENCY --duration=DURATION --users=USERS \
  --out=OUT --skip-build+SKIP_BUILD -- "$@"
lt_whole_numbers "$CONCURRENCY" "$DURATION" "$USERS"
for s in $SCENARIOS; do
  case "$s" in srp|password|refresh) ;; *) echo "no crypto is defined for scenario $s" >&2; exit 2 ;; esac
done
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "valgrind (with callgrind_control) is needed: apt-get install valgrind" >&2; exit 2; }

say() { printf '\n[instructions] %s\n' "$*" >&2; }

lt_begin

say "starting the release daemon under callgrind on 127.0.0.1:$PORT (its start-up takes a while)"
PROFILE="$WORK/callgrind.out"
DAEMON_PREFIX=(valgrind --tool=callgrind "--callgrind-out-file=$PROFILE")
HEALTH_WAIT_S=300
lt_daemon_in_work

common=(--endpoint "https://127.0.0.1:$PORT" --ca-bundle "$DATA/tls/ca.pem" --credentials "$DATA/credentials"
        --fixture "$WORK/fixture.json" --users "$USERS" --threads 1 --timeout 120)
# The pool and users, and every lazily built table (the SRP fixed-base table among them), before any count.
say "set-up and a warm-up sign-in run (not counted)"
"$LOAD" srp "${common[@]}" --concurrency 2 --duration 5 --out "$WORK/warm-up" >"$OUT/warm-up.txt" 2>&1

dumps=0
for s in $SCENARIOS; do
  say "$s: ${DURATION}s at concurrency $CONCURRENCY, counted"
  callgrind_control -z "$DAEMON_PID" >/dev/null 2>&1
  "$LOAD" "$s" "${common[@]}" --concurrency "$CONCURRENCY" --duration "$DURATION" --out "$OUT/$s" | tee "$OUT/$s.txt"
  callgrind_control -d "$DAEMON_PID" >/dev/null 2>&1
  dumps=$((dumps + 1))
  for _ in $(seq 1 300); do [ -s "$PROFILE.$dumps" ] && break; sleep 0.2; done
  sleep 1 # the dump is written in one go, but give it a moment to be closed
  mv "$PROFILE.$dumps" "$OUT/$s.callgrind"
  callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$OUT/$s.callgrind" >"$OUT/$s.annotated.txt" 2>/dev/null
done
lt_stop_daemon

python3 - "$OUT" "$SCENARIOS" <<'PY'
import json, os, re, sys
out, scenarios = sys.argv[1], sys.argv[2].split()
SIGN = "<portcullis::hsm::pkcs11::Pkcs11Vault as portcullis::hsm::KeyVault>::sign_rs256"
# The functions whose inclusive count is the unavoidable crypto of each path (none calls another).
CRYPTO = {
    "srp": (["portcullis::auth::srp::server_challenge", SIGN], "SRP step + signatures"),
    "password": (["portcullis::auth::password::PasswordCheck::matches", SIGN], "password check + signatures"),
    "refresh": ([SIGN], "signatures"),
}
NAMES = {"srp": "SRP sign-in", "password": "USER_PASSWORD_AUTH", "refresh": "REFRESH_TOKEN_AUTH"}
line = re.compile(r"^\s*([\d,]+) \([\d.]+%\)\s+(?:(?:\?\?\?|[^\s:]*/[^\s:]*):)?(.+?)(?: \[[^\]]*\])?$")
result, rows = {}, []
for s in scenarios:
    total, inclusive = None, {}
    for text in open(os.path.join(out, f"{s}.annotated.txt")):
        m = line.match(text.rstrip("\n"))
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        if name == "PROGRAM TOTALS":
            total = count
        else:
            inclusive[name] = max(inclusive.get(name, 0), count)
    functions, what = CRYPTO[s]
    crypto = sum(inclusive.get(f, 0) for f in functions)
    ops = json.load(open(os.path.join(out, f"{s}.json")))["summary"]["ok"]
    share = crypto / total if total else None
    result[s] = {"operations": ops, "instructions": total, "crypto_instructions": crypto,
                 "crypto_functions": {f: inclusive.get(f, 0) for f in functions}, "crypto_share": share}
    rows.append(f"| {NAMES[s]} | {ops:,} | {total / ops / 1e6:.1f} M | {crypto / ops / 1e6:.1f} M ({what}) "
                f"| {(total - crypto) / ops / 1e6:.2f} M | **{share:.3f}** |")
json.dump(result, open(os.path.join(out, "instructions.json"), "w"), indent=1)
md = ["# Instructions per operation (callgrind, user space, all of the daemon's threads)", "",
      "| operation | operations counted | instructions per op | in the unavoidable crypto | everything else | crypto share |",
      "|---|---:|---:|---:|---:|---:|", *rows, "",
      "Per operation = the run's count over its successful operations, so it also carries the generator's "
      "set-up (TLS handshakes; for refresh one password sign-in per virtual user). Kernel time and the cost "
      "of each instruction are not seen here: efficiency.sh measures CPU time."]
open(os.path.join(out, "instructions.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
say "wrote $OUT/instructions.md and .json"
