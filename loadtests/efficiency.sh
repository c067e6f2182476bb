#!/usr/bin/env bash
# Efficiency, end to end and in one run: the criterion benches of each unavoidable crypto step
# (benches/hot_steps.rs), then a release daemon under closed-loop load for each hot path, then the
# ratio (crypto CPU from the benches, timed again right before and after each closed loop) / (daemon
# CPU per operation from /proc/PID/stat). `--skip-bench` skips only the first, full bench run. Then, at a
# fixed offered rate (open loop, `portcullis-load overload`): latency at 70% of each path's measured
# peak, and what is served at 3x the peak measured right before (set against the mean of the
# closed-loop peaks just before and just after, so that the machine's drift cancels). Writes efficiency.md and efficiency.json (and every run's
# report and chart) into the output directory. See loadtests/README.md.
#
#   loadtests/efficiency.sh [--concurrency N] [--open-connections N] [--duration S] [--warmup S] [--users N]
#                           [--scenarios "srp password refresh signup"] [--at-70 "srp password refresh"]
#                           [--at-3x "password refresh"] [--out DIR] [--skip-build] [--skip-bench]
#
# Unavoidable crypto per operation (issue 5): SRP sign-in = the server's SRP step + 2 RS256
# signatures in the HSM; USER_PASSWORD_AUTH = one verifier check + 2 signatures; refresh = 2
# signatures; sign-up = one verifier + one synced RocksDB create. SRP is left out of the 3x run by
# default: the generator's own client-side SRP (~2.7 ms per sign-in) cannot offer 3x the peak on the
# same 2 cores. Port PORTCULLIS_PORT (9743).
set -euo pipefail

# shellcheck source=loadtests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # sets ROOT and changes into it

CONCURRENCY=16
# Connections (each a virtual user with its tokens) opened before an open-loop run starts. At 3x
# about 50 transactions are in flight on average and up to ~200 in bursts; one opened under load
# costs a TLS handshake, and for `refresh` a password sign-in for its token that waits out
# TooManyRequests: with 16 pre-opened, refresh at 3x opened 1,024 connections during the run and
# stalled ~1% of its requests for seconds.
OPEN_CONNECTIONS=256
DURATION=20
WARMUP=3
USERS=50
SCENARIOS="srp password refresh signup"
AT_70="srp password refresh"
AT_3X="password refresh"
OUT="loadtests/results/efficiency-$(date +%Y%m%d-%H%M%S)"
SKIP_BUILD=0
SKIP_BENCH=0
PORT="${PORTCULLIS_PORT:-9743}"

lt_options 2,15 --concurrency=CONCURRENCY --open-connections=OPEN_CONNECTIONS --duration=DURATION \
  --warmup=WARMUP --users=USERS --scenarios=SCENARIOS --at-70=AT_70 --at-3x=AT_3X --out=OUT \
  --skip-build+SKIP_BUILD --skip-bench+SKIP_BENCH -- "$@"
lt_whole_numbers "$CONCURRENCY" "$OPEN_CONNECTIONS" "$DURATION" "$WARMUP" "$USERS"
lt_warmup_shorter "$WARMUP" "$DURATION"
for s in $AT_70 $AT_3X; do
  [[ " $SCENARIOS " == *" $s "* ]] || { echo "$s in --at-70/--at-3x needs its closed-loop peak: add it to --scenarios" >&2; exit 2; }
done

say() { printf '\n[efficiency] %s\n' "$*" >&2; }

lt_begin
if [ "$SKIP_BENCH" = 0 ]; then
  say "benches (criterion; the daemon is not running meanwhile)"
  cargo bench --locked --bench hot_steps -- --noplot 2>&1 | tee "$OUT/benches.txt" | grep -E "time:" >&2 || true
fi
CRITERION="$CARGO_TARGET_DIR/criterion"
[ -f "$CRITERION/hsm_rs256_sign/new/estimates.json" ] || { echo "no bench results in $CRITERION: run without --skip-bench" >&2; exit 1; }

say "starting the release daemon on 127.0.0.1:$PORT"
lt_daemon_in_work
lt_sample_rss "$OUT/rss.txt"
# One generator thread: on the daemon's two cores it then costs the daemon least (its threads
# never wake each other), for the peaks and the open-loop runs alike.
GEN=("$LOAD")
common=(--endpoint "https://127.0.0.1:$PORT" --ca-bundle "$DATA/tls/ca.pem" --credentials "$DATA/credentials"
        --daemon-pid "$DAEMON_PID" --duration "$DURATION" --warmup "$WARMUP" --threads 1)

closed_loop() { # scenario report-name
  say "closed loop: $1 ($2)"
  "${GEN[@]}" "$1" "${common[@]}" --fixture "$WORK/fixture.json" --users "$USERS" --concurrency "$CONCURRENCY" \
    --out "$OUT/$2" | tee "$OUT/$2.txt"
}
# The benches each scenario's crypto needs, timed again right before and right after its closed loop
# (30 samples, ~5 s each time; the daemon idles meanwhile): on shared cores the machine's speed
# drifts by 10-30% within minutes, so each ratio sets the daemon's CPU against crypto timed in the
# same minute, not at the start of the run. The full run above gives the benches' table.
declare -A BRACKET_BENCHES=([srp]="srp_server_step hsm_rs256_sign" [refresh]="hsm_rs256_sign"
  [password]="password_verifier_check password_check_tag hsm_rs256_sign"
  [signup]="signup_verifier_generate store_synced_create")
bench_bracket() { # scenario tag
  local names="${BRACKET_BENCHES[$1]:-}" dir="$OUT/benches/$2"
  [ -n "$names" ] || return 0
  say "benches for $1 ($2)"
  mkdir -p "$dir"
  cargo bench --locked --bench hot_steps -- --noplot --sample-size 30 --warm-up-time 1 --measurement-time 2 \
    "^(${names// /|})\$" >"$dir/bench.txt" 2>&1
  for n in $names; do cp "$CRITERION/$n/new/estimates.json" "$dir/$n.json"; done
}
for s in $SCENARIOS; do
  bench_bracket "$s" "$s-before"
  closed_loop "$s" "$s"
  bench_bracket "$s" "$s-after"
done

open_loop() { # scenario share peak-report
  local peak rate
  peak="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["throughput"])' "$OUT/$3.json")"
  rate="$(python3 -c "print(round($peak * $2, 1))")"
  say "open loop: $1 at $2 x its peak ($rate/s)"
  "${GEN[@]}" overload --op "$1" "${common[@]}" --fixture "$WORK/fixture.json" --users "$USERS" \
    --concurrency "$OPEN_CONNECTIONS" --rate "$rate" --out "$OUT/$1-at-$2" | tee "$OUT/$1-at-$2.txt"
}
for s in $AT_70; do open_loop "$s" 0.7 "$s"; done
# 3x: the peak is measured again right before and right after, so that a machine whose speed drifts
# (shared cores: the HSM signature has moved 10% between runs minutes apart) does not pass for
# an overload effect. For these three runs the generator is SCHED_BATCH (as the daemon's reactor
# threads are): its wake-ups, thousands a second at 3x, then do not preempt a worker mid-signature,
# and it waits its turn like the remote clients it stands in for, which cost the daemon's cores
# nothing. Not for the 0.7x run: a batch thread can be held back for tens of milliseconds, and the
# arrivals it then releases at once show up in the latencies measured there.
command -v chrt >/dev/null 2>&1 && GEN=(chrt --batch 0 "$LOAD")
for s in $AT_3X; do
  closed_loop "$s" "$s-before-3x"
  open_loop "$s" 3 "$s-before-3x"
  closed_loop "$s" "$s-after-3x"
done

lt_stop_sampler
python3 - "$OUT" "$CRITERION" "$SCENARIOS" "$AT_70" "$AT_3X" <<'PY'
import json, os, sys
out, criterion, scenarios = sys.argv[1], sys.argv[2], sys.argv[3].split()
open_loop = [(s, "0.7") for s in sys.argv[4].split()] + [(s, "3") for s in sys.argv[5].split()]
def bench_ms(name):
    est = json.load(open(os.path.join(criterion, name, "new", "estimates.json")))
    return est["median"]["point_estimate"] / 1e6
b = {n: bench_ms(n) for n in ("srp_server_step", "password_verifier_check", "password_check_tag",
                              "signup_verifier_generate", "hsm_rs256_sign", "store_synced_create")}
# Whether signing scales with workers: 16 signatures with one key on one thread, then on two.
sign_x16 = {t: bench_ms(f"hsm_rs256_sign_x16/{t}_threads") for t in (1, 2)}
crypto = {
    "srp": (lambda m: m["srp_server_step"] + 2 * m["hsm_rs256_sign"], "SRP step + 2 signatures"),
    "password": (lambda m: m["password_verifier_check"] + 2 * m["hsm_rs256_sign"], "verifier check + 2 signatures"),
    "refresh": (lambda m: 2 * m["hsm_rs256_sign"], "2 signatures"),
    "signup": (lambda m: m["signup_verifier_generate"] + m["store_synced_create"], "verifier + synced create (wall time)"),
}
def bracket(tag):
    """The benches timed next to one closed loop (benches/TAG/NAME.json), in ms."""
    folder = os.path.join(out, "benches", tag)
    if not os.path.isdir(folder):
        return {}
    return {f[:-5]: json.load(open(os.path.join(folder, f)))["median"]["point_estimate"] / 1e6
            for f in os.listdir(folder) if f.endswith(".json")}
def unavoidable_ms(s):
    """(crypto per operation: the mean of the benches right before and after s's closed loop, or the full
    run's where those are missing; [before, after])."""
    formula = crypto[s][0]
    around = []
    for tag in (f"{s}-before", f"{s}-after"):
        try:
            around.append(formula(bracket(tag)))
        except KeyError:
            pass
    return (sum(around) / len(around) if around else formula(b)), around
names = {"srp": "SRP sign-in", "password": "USER_PASSWORD_AUTH", "refresh": "REFRESH_TOKEN_AUTH", "signup": "SignUp"}
result = {"benches_ms": b, "sign_x16_ms_by_threads": sign_x16, "closed_loop": {}, "open_loop": {}}
rows = []
for s in scenarios:
    r = json.load(open(os.path.join(out, f"{s}.json")))
    summ, cpu = r["summary"], r["cpu"]
    what = crypto[s][1] if s in crypto else ""
    unavoidable, around = unavoidable_ms(s) if s in crypto else (None, [])
    if len(around) == 2:
        what += f"; {around[0]:.2f} before, {around[1]:.2f} after"
    eff = unavoidable / cpu["daemon_ms_per_op"] if unavoidable and cpu.get("daemon_ms_per_op") else None
    result["closed_loop"][s] = {"ops_per_sec": summ["throughput"], "p50_ms": summ["latency_ms"]["p50"],
                                "p99_ms": summ["latency_ms"]["p99"], "errors": summ["errors"],
                                "daemon_ms_per_op": cpu["daemon_ms_per_op"], "daemon_cores": cpu["daemon_cores"],
                                "loadgen_ms_per_op": cpu.get("loadgen_ms_per_op"),
                                "unavoidable_ms": unavoidable, "unavoidable_ms_before_after": around,
                                "efficiency": eff}
    rows.append(f"| {names.get(s, s)} | {summ['throughput']:,.0f} | {summ['latency_ms']['p50']:.1f} / "
                f"{summ['latency_ms']['p99']:.1f} | {cpu['daemon_ms_per_op']:.2f} ms ({cpu['daemon_cores']:.2f} cores) "
                f"| {unavoidable:.2f} ms ({what}) | **{eff:.2f}** | [svg]({s}.svg) |" if eff else
                f"| {names.get(s, s)} | {summ['throughput']:,.0f} | – | – | – | – | [svg]({s}.svg) |")
open_rows = []
def throughput(name):
    return json.load(open(os.path.join(out, f"{name}.json")))["summary"]["throughput"]
for s, share in open_loop:
    peak = result["closed_loop"][s]["ops_per_sec"]
    peaks_next_to_it = None
    if share == "3":
        peaks_next_to_it = [throughput(f"{s}-before-3x"), throughput(f"{s}-after-3x")]
        peak = sum(peaks_next_to_it) / 2
    r = json.load(open(os.path.join(out, f"{s}-at-{share}.json")))
    summ = r["summary"]
    offered = r["open_loop"]["offered_per_sec"]
    throttled = summ.get("errors_by_type", {}).get("TooManyRequestsException", {})
    rejected = throttled.get("count", 0)
    rejected_p50 = throttled.get("latency_ms", {}).get("p50")
    other = summ["errors"] - rejected
    served = summ["throughput"]
    result["open_loop"][f"{s}@{share}"] = {"offered": offered, "served": served, "peak": peak,
                                           "peaks_before_after": peaks_next_to_it, "served_of_peak": served / peak,
                                           "p50_ms": summ["latency_ms"]["p50"], "p99_ms": summ["latency_ms"]["p99"],
                                           "throttled": rejected, "throttled_p50_ms": rejected_p50,
                                           "other_errors": other,
                                           "unanswered": r["open_loop"]["unanswered"]}
    against = (f"{100 * served / peak:.0f}% of peak" if peaks_next_to_it is None else
               f"{100 * served / peak:.0f}% of peak {peaks_next_to_it[0]:,.0f}/{peaks_next_to_it[1]:,.0f}")
    open_rows.append(f"| {names.get(s, s)} | {share}× peak ({offered:,.0f}/s) | {served:,.0f}/s "
                     f"({against}) | {summ['latency_ms']['p50']:.1f} / "
                     f"{summ['latency_ms']['p99']:.1f} | {rejected:,}"
                     + (f" (answered in {rejected_p50:.1f} ms p50)" if rejected_p50 is not None else "")
                     + f" | {other} |")
rss = [int(l) for l in open(os.path.join(out, "rss.txt")) if l.strip().isdigit()]
result["rss_max_mb"] = max(rss) / 1024 if rss else None
machine = dict(l.split("=", 1) for l in open(os.path.join(out, "machine.txt")).read().splitlines() if "=" in l)
result["machine"] = machine
json.dump(result, open(os.path.join(out, "efficiency.json"), "w"), indent=1)
md = ["# Efficiency: unavoidable crypto / daemon CPU per operation", "",
      f"Portcullis {machine.get('portcullis', '?')} on {machine.get('cpus', '?')} × {machine.get('cpu_model', '?')} "
      f"(family/model {machine.get('cpu_family_model', '?')}, L2 {machine.get('l2_cache', '?')}; "
      f"Linux {machine.get('kernel', '?')}).", "",
      "Benches (criterion medians, this run): " + ", ".join(f"{k} {v:.3f} ms" for k, v in b.items()) + ". "
      "Each operation's unavoidable crypto below is the mean of the same benches timed again right before "
      "and right after its closed loop (the machine's speed drifts within minutes).", "",
      f"Signing scales with workers: 16 RS256 signatures with one key object take {sign_x16[1]:.2f} ms on one "
      f"thread and {sign_x16[2]:.2f} ms on two ({sign_x16[1] / sign_x16[2]:.2f}x).", "",
      "| operation | ops/s | p50 / p99 ms | daemon CPU per op | unavoidable crypto | efficiency | chart |",
      "|---|---:|---|---|---|---:|---|", *rows]
if "password" in result["closed_loop"]:
    # The issue counts a verifier computation in USER_PASSWORD_AUTH; the daemon compares a check
    # tag instead (auth::password), so also say how close it runs to the crypto it does now.
    timed = {**b, **bracket("password-before")}
    own = timed["password_check_tag"] + 2 * timed["hsm_rs256_sign"]
    per_op = result["closed_loop"]["password"]["daemon_ms_per_op"]
    result["closed_loop"]["password"]["efficiency_of_own_crypto"] = own / per_op
    md += ["", f"USER_PASSWORD_AUTH compares a sealed check tag ({b['password_check_tag'] * 1000:.1f} µs) instead "
           f"of recomputing the verifier: against the crypto it does now ({own:.2f} ms) its efficiency is "
           f"{own / per_op:.2f}."]
if open_rows:
    md += ["", "Open loop at a fixed offered rate (latency of served operations from their scheduled start). "
           "Peak at 0.7× = the closed-loop ops/s above; at 3× = the mean of the closed-loop peaks measured "
           "right before / right after the 3× run (the offered rate is 3× the one before):", "",
           "| operation | offered | served | p50 / p99 ms | throttled (TooManyRequests) | other errors |",
           "|---|---|---|---|---:|---:|", *open_rows]
if result["rss_max_mb"] is not None:
    md += ["", f"Daemon RSS, sampled every second over all runs: at most {result['rss_max_mb']:.0f} MiB."]
open(os.path.join(out, "efficiency.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
say "wrote $OUT/efficiency.md and .json"
