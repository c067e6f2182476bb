#!/usr/bin/env python3
"""Builds the peer comparison table from portcullis-load reports (stdlib only).

    compare.py DIR [--targets portcullis moto cognito-local] [--scenarios admin-create-user ...] [--fresh-all]

Reads DIR/{target}-{scenario}.json (written by loadtests/compare-peers.sh) and DIR/versions.txt, writes
DIR/comparison.md and DIR/comparison.json. Rows are operations; per target the throughput (successful
operations per second over the measured window) and p50/p99 latency, then Portcullis's throughput over
the best peer's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OPERATIONS = {
    "admin-create-user": "AdminCreateUser",
    "signup": "SignUp",
    "password": "InitiateAuth USER_PASSWORD_AUTH",
    "refresh": "InitiateAuth REFRESH_TOKEN_AUTH",
    "get-user": "GetUser",
    "list-users": "ListUsers (Limit 60)",
    "srp": "InitiateAuth USER_SRP_AUTH + RespondToAuthChallenge",
}
PORTCULLIS = "portcullis"


def load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cell(report: dict | None) -> dict | None:
    if report is None:
        return None
    s = report["summary"]
    lat = s.get("latency_ms") or {}
    cpu = report.get("cpu") or {}
    return {
        "ops_per_sec": s["throughput"],
        "ok": s["ok"],
        "errors": s["errors"],
        "errors_by_type": {k: v["count"] for k, v in (s.get("errors_by_type") or {}).items()},
        "p50_ms": lat.get("p50"),
        "p99_ms": lat.get("p99"),
        "reconnects": report.get("reconnects", 0),
        "daemon_ms_per_op": cpu.get("daemon_ms_per_op"),
        "daemon_cores": cpu.get("daemon_cores"),
    }


def num(v, digits: int = 1) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if digits == 0 else f"{v:,.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--targets", nargs="+", default=[PORTCULLIS, "moto", "cognito-local"])
    ap.add_argument("--scenarios", nargs="+", default=list(OPERATIONS)[:6])
    ap.add_argument("--fresh-all", action="store_true", help="every server was restarted empty per scenario")
    args = ap.parse_args()
    out: Path = args.dir
    targets, scenarios = args.targets, args.scenarios
    peers = [t for t in targets if t != PORTCULLIS]

    versions = {}
    for line in (out / "versions.txt").read_text().splitlines() if (out / "versions.txt").exists() else []:
        if "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()

    rows = []
    settings = None
    for scenario in scenarios:
        cells = {}
        for target in targets:
            report = load(out / f"{target}-{scenario}.json")
            if report is not None and settings is None:
                s = report["settings"]
                settings = {k: s[k] for k in ("users", "concurrency", "duration_secs", "warmup_secs")}
            cells[target] = cell(report)
        ratio = None
        mine = cells.get(PORTCULLIS)
        best = max((cells[p]["ops_per_sec"] for p in peers if cells.get(p)), default=None)
        if mine and best:
            ratio = mine["ops_per_sec"] / best
        rows.append({"scenario": scenario, "operation": OPERATIONS.get(scenario, scenario), "targets": cells,
                     "portcullis_over_best_peer": ratio})

    result = {"settings": settings, "versions": versions, "targets": targets, "rows": rows}
    (out / "comparison.json").write_text(json.dumps(result, indent=2) + "\n")

    # ----- markdown -----
    md = ["# Portcullis vs. peers", ""]
    if settings:
        md.append(
            f"Each cell: one `portcullis-load` run of {settings['duration_secs']} s "
            f"(first {settings['warmup_secs']} s left out), {settings['concurrency']} virtual users "
            f"(closed loop), pool of {settings['users']} users; all servers on loopback of the same machine, "
            "one at a time. ops/s = successful operations per second; p50/p99 in ms."
        )
        md.append("")
    if versions:
        md.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
        md.append("")
    head = ["operation"]
    for t in targets:
        head += [f"{t} ops/s", f"{t} p50", f"{t} p99"]
    if PORTCULLIS in targets and peers:
        head.append("Portcullis / best peer")
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    footnotes = []
    for row in rows:
        line = [row["operation"]]
        for t in targets:
            c = row["targets"][t]
            if c is None:
                line += ["no report", "", ""]
                continue
            mark = ""
            if c["errors"]:
                footnotes.append(f"{t}, {row['operation']}: {c['errors']} errors "
                                 + ", ".join(f"{k} ×{v}" for k, v in c["errors_by_type"].items()))
                mark = f" [{len(footnotes)}]"
            line += [num(c["ops_per_sec"], 0) + mark, num(c["p50_ms"]), num(c["p99_ms"])]
        if PORTCULLIS in targets and peers:
            r = row["portcullis_over_best_peer"]
            line.append("–" if r is None else f"{r:.2f}×")
        md.append("| " + " | ".join(line) + " |")
    md.append("")
    for i, text in enumerate(footnotes, 1):
        md.append(f"[{i}] {text}  ")
    if footnotes:
        md.append("")

    # Server CPU, from /proc of the server process (all of them are one process).
    md.append("Server CPU per operation (ms) and cores busy on average:")
    md.append("")
    md.append("| operation | " + " | ".join(targets) + " |")
    md.append("|---|" + "|".join(["---:"] * len(targets)) + "|")
    for row in rows:
        line = [row["operation"]]
        for t in targets:
            c = row["targets"][t]
            if c is None or c["daemon_ms_per_op"] is None:
                line.append("–")
            else:
                line.append(f"{c['daemon_ms_per_op']:.2f} ms, {c['daemon_cores']:.2f} cores")
        md.append("| " + " | ".join(line) + " |")
    md.append("")

    reconnects = {t: sum((r["targets"][t] or {}).get("reconnects", 0) for r in rows) for t in targets}
    md += [
        "Notes (see loadtests/peers/PEERS.md):",
        "",
        "- Portcullis is a release build over HTTPS (verified against its dev CA) and checks every admin call's SigV4 "
        "signature; moto and cognito-local are plain HTTP and accept any signature (dummy keys).",
        f"- moto closes the connection after every response, so every moto request includes a new TCP connection "
        f"(reconnects this run: {reconnects.get('moto', 0):,}); Portcullis and cognito-local keep connections "
        "alive. moto (Python) and cognito-local (Node) are single processes using at most one core.",
        ("- Every server was restarted with empty state before every scenario. "
         if args.fresh_all else
         "- cognito-local was restarted with empty state before every scenario; Portcullis and moto ran once for "
         "all scenarios in the order of the rows (each run sets up and deletes its own pool). ")
        + "cognito-local rewrites a pool's whole JSON file on every write, so it slows down as state grows; "
        "its numbers for write-heavy operations depend on run length.",
        "- cognito-local ignores ListUsers' `Limit` (returns the whole pool) and does not enforce the password "
        "policy on SignUp. AdminCreateUser uses `MessageAction: SUPPRESS` everywhere.",
        "- Throughput is closed-loop: the load generator runs on the same machine and competes for its cores.",
        "",
    ]
    (out / "comparison.md").write_text("\n".join(md))
    missing = sum(1 for r in rows for c in r["targets"].values() if c is None)
    if missing:
        print(f"compare.py: {missing} reports missing", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
