"""Smoke test of the load generator (issues 4 and 5): `portcullis-load srp` runs for a few seconds
against the session daemon, setting up its own pool, client and users over SigV4, and reports; then
every other scenario (password, refresh, signup, get-user, list-users, admin-create-user, mixed,
overload, stuffing) runs for about 2 s on a shared fixture, and list-users once over plain HTTP
(through a local HTTP-to-HTTPS relay) with keys given as flags. Checks the reports' shape and honesty (transactions
happened, none failed unless the scenario expects it, JSON and SVG written), never their timings.

Environment: PORTCULLIS_LOAD_BIN (default: `portcullis-load` next to PORTCULLIS_BIN; build it with
`cargo build --bin portcullis-load`)."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import BIN, free_port

LOAD_BIN = os.environ.get("PORTCULLIS_LOAD_BIN", str(Path(BIN).with_name("portcullis-load")))


@pytest.fixture(scope="module")
def load_bin() -> str:
    if not os.access(LOAD_BIN, os.X_OK):
        pytest.fail(f"{LOAD_BIN} not found: run `cargo build --bin portcullis-load` (or set PORTCULLIS_LOAD_BIN)")
    return LOAD_BIN


def run_load(
    load_bin: str, daemon, *args: str, scenario: str = "srp", timeout: float = 180
) -> subprocess.CompletedProcess:
    cmd = [
        load_bin, scenario,
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


# ----- the other scenarios (issue 5), on one shared pool -----


@pytest.fixture(scope="module")
def shared_fixture(load_bin, daemon, tmp_path_factory):
    path = tmp_path_factory.mktemp("load") / "fixture.json"
    proc = run_load(load_bin, daemon, "--users", "4", "--concurrency", "2", "--duration", "1",
                    "--fixture", str(path), "--out", str(path.parent / "setup"), scenario="password")
    assert proc.returncode == 0, proc.stderr
    yield path
    daemon.call("DeleteUserPool", {"UserPoolId": json.loads(path.read_text())["pool_id"]})


def check_report(out: Path, scenario: str, unit: str, duration: int = 2) -> dict:
    """The JSON's common shape and the SVG's; returns the report."""
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["scenario"] == scenario and report["unit"] == unit
    summary = report["summary"]
    assert summary["ok"] > 0 and summary["throughput"] > 0, summary
    latency = summary["latency_ms"]
    assert 0 < latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"], latency
    assert [p["t"] for p in report["timeline"]] == list(range(1, duration + 1))
    svg = ET.parse(out.with_suffix(".svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 3
    return report


ALL_OPS = ("srp", "password", "refresh", "signup", "get-user", "list-users")
CLOSED_LOOP = {
    "password": ([], "sign-ins"),
    "refresh": ([], "refreshes"),
    "signup": ([], "sign-ups"),
    "get-user": ([], "requests"),
    "list-users": ([], "requests"),
    "list-users-filtered": ([], "requests"),
    "admin-create-user": ([], "users created"),
    "mixed": (["--weights", ",".join(f"{op}=1" for op in ALL_OPS)], "operations"),
}


@pytest.mark.parametrize("scenario", list(CLOSED_LOOP))
def test_closed_loop_scenario(load_bin, daemon, shared_fixture, tmp_path, scenario):
    extra, unit = CLOSED_LOOP[scenario]
    out = tmp_path / scenario
    proc = run_load(load_bin, daemon, "--users", "4", "--concurrency", "2", "--duration", "2",
                    "--fixture", str(shared_fixture), "--out", str(out), *extra, scenario=scenario)
    assert proc.returncode == 0, proc.stderr
    assert f"{unit}/s" in proc.stdout and "errors                 none" in proc.stdout
    report = check_report(out, scenario, unit)
    assert report["summary"]["errors"] == 0, report["summary"]["errors_by_type"]
    if scenario == "mixed":
        # A row per operation, adding up to the total.
        ops = report["operations"]
        assert set(ops) == set(ALL_OPS), ops.keys()
        assert all(o["ok"] > 0 for o in ops.values()), ops
        assert sum(o["ok"] for o in ops.values()) == report["summary"]["ok"]
        assert report["settings"]["options"]["weights"] == {op: 1 for op in ALL_OPS}
        assert "per operation" in proc.stdout and "get-user" in proc.stdout
    else:
        assert "operations" not in report


def test_overload_offers_a_fixed_rate(load_bin, daemon, shared_fixture, tmp_path):
    out = tmp_path / "overload"
    # On one current-thread runtime, with arrivals released every 5 ms, as efficiency.sh runs it.
    proc = run_load(load_bin, daemon, "--users", "4", "--concurrency", "2", "--duration", "2", "--rate", "150",
                    "--max-in-flight", "64", "--tick-ms", "5", "--threads", "1", "--fixture", str(shared_fixture),
                    "--out", str(out), scenario="overload")
    assert proc.returncode == 0, proc.stderr
    assert "offered" in proc.stdout and "served" in proc.stdout and "rejected (throttled)" in proc.stdout
    report = check_report(out, "overload", "sign-ins")
    loop = report["open_loop"]
    # Every arrival of the schedule was started, whatever the server did.
    assert (loop["rate"], loop["offered_per_sec"], loop["scheduled"]) == (150.0, 150.0, 300), loop
    assert loop["tick_ms"] == 5.0 and "released every 5 ms" in proc.stdout, loop
    assert loop["served_per_sec"] == report["summary"]["throughput"]
    assert 1 <= loop["peak_in_flight"] <= 64 and loop["connections"] >= 2, loop
    # The session daemon's limits are generous; throttling is the only failure tolerated.
    assert set(report["summary"]["errors_by_type"]) <= {"TooManyRequestsException"}


@pytest.mark.parametrize("legit_flow", ["srp", "password"])
def test_stuffing_separates_attackers(load_bin, daemon, shared_fixture, tmp_path, legit_flow):
    out = tmp_path / "stuffing"
    proc = run_load(load_bin, daemon, "--users", "4", "--concurrency", "2", "--duration", "2",
                    "--attackers", "6", "--attacker-ips", "3", "--legit-flow", legit_flow,
                    "--fixture", str(shared_fixture), "--out", str(out), scenario="stuffing")
    assert proc.returncode == 0, proc.stderr
    report = check_report(out, "stuffing", "legitimate sign-ins")
    assert report["summary"]["errors"] == 0, report["summary"]["errors_by_type"]
    options = report["settings"]["options"]
    assert (options["attackers"], options["attacker_ips"], options["legit_flow"]) == (6, 3, legit_flow)
    attack = report["attack"]
    # No wrong password signs in; attacks fail by type, on real and unknown usernames alike.
    assert attack["summary"]["ok"] == 0 and attack["summary"]["errors"] > 0, attack["summary"]
    kinds = attack["summary"]["errors_by_type"]
    assert set(kinds) <= {"NotAuthorizedException", "UserNotFoundException", "TooManyRequestsException"}, kinds
    assert set(attack["per_operation"]) == {"attacker (real user)", "attacker (unknown user)"}
    assert "attack" in proc.stdout


class HttpRelay:
    """Plain HTTP on a loopback port, relayed over TLS to the daemon (for `--endpoint http://`)."""

    def __init__(self, daemon):
        self.port = free_port()
        self.target_port = int(daemon.endpoint.rsplit(":", 1)[1])
        self.tls = ssl.create_default_context(cafile=daemon.ca)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port, ssl=self.tls, server_hostname="127.0.0.1")
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def __enter__(self):
        self.thread.start()
        start = asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_plain_http_and_keys_as_flags(load_bin, daemon, tmp_path):
    key, secret = daemon.credentials()
    out = tmp_path / "http"
    with HttpRelay(daemon) as relay:
        cmd = [load_bin, "list-users", "--endpoint", f"http://127.0.0.1:{relay.port}",
               "--access-key", key, "--secret-key", secret,
               "--users", "2", "--concurrency", "2", "--duration", "2", "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        print(proc.stderr[-4000:], proc.stdout[-4000:], sep="\n")
    assert proc.returncode == 0, proc.stderr
    report = check_report(out, "list-users", "requests")
    assert report["summary"]["errors"] == 0, report["summary"]["errors_by_type"]
    assert report["settings"]["endpoint"].startswith("http://")
    assert report["settings"]["pool_id"] not in {p["Id"] for p in daemon.list_all_pools()}
