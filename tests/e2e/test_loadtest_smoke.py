"""Smoke test of the load generator (issue 4): `portcullis-load srp` runs for a few seconds against
the session daemon, setting up its own pool, client and users over SigV4, and reports. Checks the
report's shape and honesty (sign-ins happened, none failed, JSON and SVG written, pool deleted),
never its timings.

Environment: PORTCULLIS_LOAD_BIN (default: `portcullis-load` next to PORTCULLIS_BIN; build it with
`cargo build --bin portcullis-load`)."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import BIN

LOAD_BIN = os.environ.get("PORTCULLIS_LOAD_BIN", str(Path(BIN).with_name("portcullis-load")))


@pytest.fixture(scope="module")
def load_bin() -> str:
    if not os.access(LOAD_BIN, os.X_OK):
        pytest.fail(f"{LOAD_BIN} not found: run `cargo build --bin portcullis-load` (or set PORTCULLIS_LOAD_BIN)")
    return LOAD_BIN


def run_load(load_bin: str, daemon, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [
        load_bin, "srp",
        "--endpoint", daemon.endpoint,
        "--ca-bundle", daemon.ca,
        "--credentials", str(daemon.credentials_file),
        "--profile", "portcullis",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    print(proc.stderr[-4000:], proc.stdout[-4000:], sep="\n")
    return proc


def test_srp_load_run_reports_sign_ins(load_bin, daemon, tmp_path):
    out = tmp_path / "results" / "srp"
    proc = run_load(
        load_bin, daemon,
        "--users", "6", "--concurrency", "3", "--duration", "3",
        "--daemon-pid", str(daemon.proc.pid), "--out", str(out),
    )
    assert proc.returncode == 0, proc.stderr

    # Progress once a second on stderr; the summary table on stdout.
    assert "/3s]" in proc.stderr
    assert "sign-ins/s" in proc.stdout and "errors                 none" in proc.stdout

    report = json.loads(out.with_suffix(".json").read_text())
    assert report["scenario"] == "srp" and report["unit"] == "sign-ins"
    settings = report["settings"]
    assert (settings["users"], settings["concurrency"], settings["duration_secs"]) == (6, 3, 3)
    summary = report["summary"]
    assert summary["ok"] > 0, summary
    assert summary["errors"] == 0 and summary["errors_by_type"] == {}, summary["errors_by_type"]
    assert summary["throughput"] > 0
    latency = summary["latency_ms"]
    assert 0 < latency["min"] <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"], latency
    assert report["reconnects"] == 0
    cpu = report["cpu"]
    assert isinstance(cpu["daemon_ms"], float) and isinstance(cpu["daemon_ms_per_op"], float), cpu
    timeline = report["timeline"]
    assert [p["t"] for p in timeline] == [1, 2, 3]
    assert sum(p["ok"] for p in timeline) == summary["ok"]
    assert all("daemon_cpu_pct" in p for p in timeline), timeline

    svg = ET.parse(out.with_suffix(".svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert len(svg.findall(".//s:polyline", ns)) >= 3  # sign-ins/s, p50, p99
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "time (s)" in texts and "p99" in texts and "sign-ins per second" in texts

    # The pool made for the run is gone.
    assert settings["pool_id"] not in {p["Id"] for p in daemon.list_all_pools()}


def test_fixture_is_saved_and_reused(load_bin, daemon, tmp_path):
    fixture = tmp_path / "fixture.json"
    first = run_load(load_bin, daemon, "--users", "2", "--concurrency", "2", "--duration", "1",
                     "--fixture", str(fixture), "--out", str(tmp_path / "first"))
    assert first.returncode == 0, first.stderr
    saved = json.loads(fixture.read_text())
    try:
        assert len(saved["usernames"]) == 2 and saved["password"]
        # Kept for reuse; the second run needs no credentials.
        assert saved["pool_id"] in {p["Id"] for p in daemon.list_all_pools()}
        def reuse(users: int) -> subprocess.CompletedProcess:
            cmd = [load_bin, "srp", "--endpoint", daemon.endpoint, "--ca-bundle", daemon.ca,
                   "--users", str(users), "--concurrency", "1", "--duration", "1",
                   "--fixture", str(fixture), "--out", str(tmp_path / "second")]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

        second = reuse(1)
        assert second.returncode == 0, second.stderr
        assert f"reusing pool {saved['pool_id']} and 1 users" in second.stderr
        report = json.loads((tmp_path / "second.json").read_text())
        assert report["summary"]["ok"] > 0 and report["summary"]["errors"] == 0, report["summary"]

        too_many = reuse(3)
        assert too_many.returncode == 1 and "fewer than --users 3" in too_many.stderr, too_many.stderr
    finally:
        daemon.call("DeleteUserPool", {"UserPoolId": saved["pool_id"]})
