#!/usr/bin/env bash
# Mixed traffic and credential stuffing, end to end: a release daemon on a fresh data directory and
# one pool of users, then `mixed` (every hot path at once, by --weights), the legitimate sign-ins
# alone (`stuffing --attackers 0`) and the same sign-ins under attack (`stuffing`: wrong passwords
# for real and unknown usernames from many loopback addresses). Writes traffic.md and traffic.json
# (per operation of the mix; the legitimate users' success rate and latency without and with the
# attack; what the attack got, by error) plus each run's report and chart. See loadtests/README.md.
#
#   loadtests/traffic.sh [--concurrency N] [--attackers N] [--attacker-ips N] [--legit-flow srp|password]
#                        [--weights OP=W,...] [--duration S] [--warmup S] [--users N] [--out DIR] [--skip-build]
#
# Rate limits are raised as in the other scripts (lib.sh), per source address too, so that only the
# brute-force protection (lockout) stands between the attackers and their victims. Port
# PORTCULLIS_PORT (9843). Every process it starts is stopped on exit, also on Ctrl-C or failure.
set -euo pipefail

# shellcheck source=loadtests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # sets ROOT and changes into it

CONCURRENCY=16
ATTACKERS=64
ATTACKER_IPS=32
LEGIT_FLOW=srp
WEIGHTS="get-user=40,refresh=25,password=20,srp=10,signup=5"
DURATION=20
WARMUP=3
USERS=200
OUT="loadtests/results/traffic-$(date +%Y%m%d-%H%M%S)"
SKIP_BUILD=0
PORT="${PORTCULLIS_PORT:-9843}"

lt_options 2,15 --concurrency=CONCURRENCY --attackers=ATTACKERS --attacker-ips=ATTACKER_IPS \
  --legit-flow=LEGIT_FLOW --weights=WEIGHTS --duration=DURATION --warmup=WARMUP --users=USERS --out=OUT \
  --skip-build+SKIP_BUILD -- "$@"
lt_whole_numbers "$CONCURRENCY" "$ATTACKERS" "$ATTACKER_IPS" "$DURATION" "$WARMUP" "$USERS"
lt_warmup_shorter "$WARMUP" "$DURATION"
# The legitimate users sign in as the first half of the pool, the attackers go after the second.
[ "$USERS" -ge $((2 * CONCURRENCY)) ] || { echo "--users must be at least twice --concurrency" >&2; exit 2; }

say() { printf '\n[traffic] %s\n' "$*" >&2; }

lt_begin
say "starting the release daemon on 127.0.0.1:$PORT"
lt_daemon_in_work
lt_sample_rss "$OUT/rss.txt"
common=(--endpoint "https://127.0.0.1:$PORT" --ca-bundle "$DATA/tls/ca.pem" --credentials "$DATA/credentials"
        --daemon-pid "$DAEMON_PID" --duration "$DURATION" --warmup "$WARMUP" --threads 1
        --fixture "$WORK/fixture.json" --users "$USERS" --concurrency "$CONCURRENCY")

say "mixed ($WEIGHTS)"
"$LOAD" mixed "${common[@]}" --weights "$WEIGHTS" --out "$OUT/mixed" | tee "$OUT/mixed.txt"
say "legitimate $LEGIT_FLOW sign-ins alone"
"$LOAD" stuffing "${common[@]}" --legit-flow "$LEGIT_FLOW" --attackers 0 --out "$OUT/legit-alone" \
  | tee "$OUT/legit-alone.txt"
say "the same under attack: $ATTACKERS attackers from $ATTACKER_IPS addresses"
"$LOAD" stuffing "${common[@]}" --legit-flow "$LEGIT_FLOW" --attackers "$ATTACKERS" \
  --attacker-ips "$ATTACKER_IPS" --out "$OUT/stuffing" | tee "$OUT/stuffing.txt"
lt_stop_sampler

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def report(name):
    return json.load(open(os.path.join(out, f"{name}.json")))
def success(s):
    attempts = s["ok"] + s["errors"]
    return s["ok"] / attempts if attempts else None
def pct(x):
    return f"{100 * x:.1f}%" if x is not None else "–"

mixed = report("mixed")
mix_rows = []
for op, s in sorted(mixed["operations"].items(), key=lambda kv: -kv[1]["throughput"]):
    lat = s["latency_ms"]
    mix_rows.append(f"| {op} | {s['throughput']:,.0f} | {lat['p50']:.1f} / {lat['p99']:.1f} | {s['errors']} |")
ms = mixed["summary"]
mix_rows.append(f"| **all** | **{ms['throughput']:,.0f}** | {ms['latency_ms']['p50']:.1f} / "
                f"{ms['latency_ms']['p99']:.1f} | {ms['errors']} |")

alone, attacked = report("legit-alone"), report("stuffing")
options = attacked["settings"]["options"]
legit_rows, legit = [], {}
for label, r in (("alone", alone), ("under attack", attacked)):
    s = r["summary"]
    row = legit[label] = {"throughput": s["throughput"], "success_rate": success(s), "p50_ms": s["latency_ms"]["p50"],
                          "p99_ms": s["latency_ms"]["p99"], "errors": s["errors"], "errors_by_type": s["errors_by_type"],
                          "daemon_cores": r["cpu"]["daemon_cores"]}
    legit_rows.append(f"| {label} | {row['throughput']:,.1f} | {pct(row['success_rate'])} | {row['p50_ms']:.1f} / "
                      f"{row['p99_ms']:.1f} | {row['errors']} | {row['daemon_cores']:.2f} |")
attack = attacked["attack"]["summary"]
attack_rows = [f"| {kind} | {e['count']:,} | {e['latency_ms']['p50']:.1f} |"
               for kind, e in sorted(attack["errors_by_type"].items(), key=lambda kv: -kv[1]["count"])]
rss = [int(l) for l in open(os.path.join(out, "rss.txt")) if l.strip().isdigit()]
result = {"mixed": {"weights": mixed["settings"]["options"].get("weights"), "summary": ms,
                    "operations": mixed["operations"]},
          "stuffing": {"options": options, "legitimate": legit, "attack": attack},
          "rss_max_mb": max(rss) / 1024 if rss else None}
json.dump(result, open(os.path.join(out, "traffic.json"), "w"), indent=1)
md = ["# Mixed traffic and credential stuffing", "",
      f"Mixed: {mixed['settings']['concurrency']} virtual users, weights "
      f"`{','.join(f'{op}={w}' for op, w in result['mixed']['weights'].items())}` "
      "([chart](mixed.svg)).", "",
      "| operation | ops/s | p50 / p99 ms | errors |", "|---|---:|---|---:|", *mix_rows, "",
      f"Credential stuffing: {attacked['settings']['concurrency']} legitimate virtual users "
      f"({options['legit_flow']} sign-ins) alone ([chart](legit-alone.svg)), then beside {options['attackers']} "
      f"attackers from {options['attacker_sources']} ([chart](stuffing.svg)); attackers send wrong passwords, "
      "alternately for real users (not the legitimate ones) and unknown names.", "",
      "| legitimate users | sign-ins/s | success | p50 / p99 ms | errors | daemon cores |",
      "|---|---:|---:|---|---:|---:|", *legit_rows, "",
      f"The attack: {attack['ok'] + attack['errors']:,} attempts "
      f"({(attack['ok'] + attack['errors']) / attack['window_secs']:,.0f}/s), "
      f"{attack['ok']} signed in.", "",
      "| attack answered with | count | p50 ms |", "|---|---:|---:|", *attack_rows, "",
      f"Daemon RSS, largest sample: {result['rss_max_mb']:.0f} MiB." if rss else ""]
open(os.path.join(out, "traffic.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
say "wrote $OUT/traffic.md and .json"
