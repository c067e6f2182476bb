"""End-to-end harness for Portcullis: runs the real `portcullis serve` binary in a fresh data
directory on a free 127.0.0.1 port and talks to it the way unmodified AWS clients do (boto3,
aws-cli, raw HTTPS with botocore's SigV4 signer).

TLS is always verified against the CA the daemon generates in `{data_dir}/tls/ca.pem`.

Fixtures
--------
daemon        session-scoped daemon shared by most tests (generous rate limits so that
              functional tests are never throttled; throttling has its own daemon).
make_daemon   factory for function-scoped daemons (restart / kill -9 / config tests); every
              daemon it starts is killed at the end of the test.
cognito       boto3 `cognito-idp` client of the session daemon.
unique        unique name generator (pool, client and group names never collide between tests).

Environment
-----------
PORTCULLIS_BIN        the binary (default /root/.cache/portcullis-target/debug/portcullis).
PORTCULLIS_E2E_WAIT   seconds to wait for the binary to appear (default 0: fail at once).
"""

from __future__ import annotations

import atexit
import configparser
import contextlib
import datetime
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

BIN = os.environ.get("PORTCULLIS_BIN", "/root/.cache/portcullis-target/debug/portcullis")
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
SERVICE = "cognito-idp"
TARGET_PREFIX = "AWSCognitoIdentityProviderService"
JSON_CT = "application/x-amz-json-1.1"
PROFILE = "portcullis"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
STARTUP_TIMEOUT = 90.0
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
STOP_TIMEOUT = 40.0

# The session daemon runs the dev defaults except for rate limits: the default UserPoolRead quota
# (15 rps, and ListUserPools shares one account-level bucket) would throttle ordinary functional
# tests that paginate. Throttling itself is tested on a dedicated daemon (test_limits_and_ops.py).
GENEROUS_LIMITS = "[rate_limits]\nper_ip_rps = 0\n\n[rate_limits.categories]\n" + "".join(
    f"{c} = 100000\n"
    for c in (
        "UserAuthentication", "UserCreation", "UserFederation", "UserAccountRecovery", "UserRead",
        "UserUpdate", "UserToken", "UserResourceRead", "UserResourceUpdate", "UserList",
        "UserPoolRead", "UserPoolUpdate", "UserPoolResourceRead", "UserPoolResourceUpdate",
        "UserPoolClientRead", "UserPoolClientUpdate", "ClientAuthentication",
    )
)

# Every daemon started by this harness, so that a failing test can show their logs and so that
# none outlives the session.
_ALL_DAEMONS: list["Daemon"] = []
_ALL_LOCK = threading.Lock()


def aws_cli_path() -> str:
    candidate = Path(sys.executable).parent / "aws"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("aws")
    if not found:
        raise RuntimeError("aws-cli not found next to the Python interpreter or on PATH")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_binary() -> None:
    deadline = time.monotonic() + float(os.environ.get("PORTCULLIS_E2E_WAIT", "0"))
    while not os.access(BIN, os.X_OK):
        if time.monotonic() > deadline:
            pytest.exit(f"portcullis binary not found at {BIN} (set PORTCULLIS_BIN)", returncode=3)
        time.sleep(2)


class DaemonDied(RuntimeError):
    pass


class Daemon:
    """One `portcullis serve` process over a data directory that outlives restarts."""

    def __init__(self, workdir: Path, config_text: str | None = None, name: str = "daemon"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "portcullis.stderr.log"
        self.config_path: Path | None = None
        if config_text is not None:
            self.config_path = self.workdir / "portcullis.toml"
            self.config_path.write_text(config_text)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._session: requests.Session | None = None
        with _ALL_LOCK:
            _ALL_DAEMONS.append(self)

    # ----- paths and identities -----

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.data_dir / "tls" / "ca.pem")

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def hsm_dir(self) -> Path:
        return self.data_dir / "hsm"

    def credentials(self) -> tuple[str, str]:
        cp = configparser.ConfigParser()
        cp.read(self.credentials_file)
        section = cp[PROFILE]
        return section["aws_access_key_id"].strip(), section["aws_secret_access_key"].strip()

    # ----- lifecycle -----

    def command(self) -> list[str]:
        cmd = [BIN, "serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "Daemon":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== harness: start #{self.starts} on port {self.port} =====\n".encode())
            log.flush()
            env = dict(os.environ)
            env.setdefault("RUST_LOG", "info")
            env.setdefault("RUST_BACKTRACE", "1")
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        self._session = None
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DaemonDied(
                    f"{self.name} exited with status {self.proc.returncode} during start-up:\n{self.log_tail()}"
                )
            if os.path.exists(self.ca) and self.credentials_file.exists():
                try:
                    r = requests.get(self.endpoint + "/health", verify=self.ca, timeout=2)
                    if r.status_code == 200:
                        return
                    last_error = RuntimeError(f"/health answered {r.status_code}: {r.text!r}")
                except requests.RequestException as e:  # not listening yet
                    last_error = e
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s ({last_error}):\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait for exit, return the exit status (negative: killed by that signal)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s:\n{self.log_tail()}")
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> "Daemon":
        status = self.stop()
        assert status == 0, f"graceful stop exited with {status}:\n{self.log_tail()}"
        return self.start()

    def kill9(self) -> "Daemon":
        """SIGKILL (no flush, no clean shutdown), then start again on the same data directory."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_text()
        return "\n".join(text.splitlines()[-lines:]) if text else "(no log)"

    def log_text(self) -> str:
        """The daemon's stderr so far, without terminal colour codes."""
        try:
            return ANSI_RE.sub("", self.log_path.read_text(errors="replace"))
        except OSError:
            return ""

    # ----- clients -----

    def client(self, access_key: str | None = None, secret_key: str | None = None, **config_kwargs):
        """A boto3 cognito-idp client with retries off (they would hide throttling); TLS verified
        against the daemon's CA (an explicit `verify` also wins over AWS_CA_BUNDLE)."""
        ak, sk = self.credentials()
        session = boto3.session.Session(
            aws_access_key_id=access_key if access_key is not None else ak,
            aws_secret_access_key=secret_key if secret_key is not None else sk,
            region_name=REGION,
        )
        # botocore's `max_attempts` counts retries (max_attempts=1 still allows one retry, sent as
        # `amz-sdk-request: attempt=1; max=2`); `total_max_attempts` counts the first attempt too.
        cfg = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            **config_kwargs,
        )
        return session.client(SERVICE, endpoint_url=self.endpoint, verify=self.ca, config=cfg)

    def new_http_session(self) -> requests.Session:
        """A requests session that verifies against the daemon's CA. trust_env is off because
        REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment would otherwise override
        Session.verify (and proxies do not apply to 127.0.0.1)."""
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca
        return s

    def http(self) -> requests.Session:
        if self._session is None:
            self._session = self.new_http_session()
        return self._session

    def get(self, path: str, session: requests.Session | None = None, **kw) -> requests.Response:
        s = session or self.http()
        kw.setdefault("timeout", 30)
        return s.get(self.endpoint + path, **kw)

    def raw(
        self,
        target: str | None,
        body: bytes | str | dict | None = b"{}",
        *,
        sign: bool = True,
        credentials: tuple[str, str] | None = None,
        headers: dict | None = None,
        signing_time: datetime.datetime | None = None,
        region: str = REGION,
        service: str = SERVICE,
        full_target: bool = False,
        session: requests.Session | None = None,
        data_override=None,
    ) -> requests.Response:
        """POST / with arbitrary bytes and headers.

        target: operation name (prefixed with AWSCognitoIdentityProviderService.) or, with
        full_target=True, the literal X-Amz-Target value; None sends no X-Amz-Target.
        sign: sign with botocore's SigV4Auth (as boto3 would) using `credentials` (default:
        the admin key), at `signing_time` (default now).
        data_override: what is actually sent (e.g. a generator for a chunked body) while the
        signature covers `body`.
        """
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        elif body is None:
            body = b""
        hdrs = {"Content-Type": JSON_CT}
        if target is not None:
            hdrs["X-Amz-Target"] = target if full_target else f"{TARGET_PREFIX}.{target}"
        if headers:
            hdrs.update(headers)
        url = self.endpoint + "/"
        if sign:
            ak, sk = credentials or self.credentials()
            req = AWSRequest(method="POST", url=url, data=body, headers=hdrs)
            with signing_clock(signing_time):
                SigV4Auth(Credentials(ak, sk), service, region).add_auth(req)
            hdrs = dict(req.headers.items())
        s = session or self.http()
        return s.post(url, data=body if data_override is None else data_override, headers=hdrs, timeout=60)

    def outbox(self, pool_id: str, to: str | None = None, credentials: tuple[str, str] | None = None,
               expect_status: int = 200) -> list[dict] | requests.Response:
        """GET /admin/outbox (SigV4-signed with the admin key): the dev outbox's messages of a pool."""
        from urllib.parse import urlencode
        params = {"UserPoolId": pool_id}
        if to is not None:
            params["To"] = to
        url = f"{self.endpoint}/admin/outbox?{urlencode(params)}"
        ak, sk = credentials or self.credentials()
        req = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(ak, sk), SERVICE, REGION).add_auth(req)
        r = self.http().get(url, headers=dict(req.headers.items()), timeout=30)
        assert r.status_code == expect_status, r.text
        return r.json()["Messages"] if expect_status == 200 else r

    def wait_for_message(self, pool_id: str, to: str, count: int = 1, timeout: float = 10.0) -> dict:
        """The `count`-th message the dev outbox holds for `to` (waits for background delivery)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.outbox(pool_id, to)
            if len(messages) >= count:
                return messages[count - 1]
            assert time.monotonic() < deadline, f"no message #{count} for {to} after {timeout} s: {messages}"
            time.sleep(0.05)

    def call(self, target: str, body: dict, **kw) -> dict:
        """A signed raw call that must succeed; returns the JSON body."""
        r = self.raw(target, body, **kw)
        assert r.status_code == 200, f"{target}: {r.status_code} {r.text}"
        return r.json()

    def aws(self, *args: str, env_extra: dict | None = None, check: bool = True, timeout: float = 120):
        """Runs `aws cognito-idp ARGS --endpoint-url ... --ca-bundle ... --region us-east-1 --output json`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_SHARED_CREDENTIALS_FILE=str(self.credentials_file),
            AWS_PROFILE=PROFILE,
            AWS_CONFIG_FILE=os.devnull,
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_PAGER="",
        )
        if env_extra:
            env.update(env_extra)
        cmd = [
            aws_cli_path(), "cognito-idp", *args,
            "--endpoint-url", self.endpoint,
            "--ca-bundle", self.ca,
            "--region", REGION,
            "--output", "json",
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        proc.json = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
        return proc

    # ----- observability helpers -----

    def metrics(self) -> str:
        r = self.get("/metrics")
        assert r.status_code == 200, r.text
        return r.text

    def jwks(self, pool_id: str) -> dict:
        r = self.get(f"/{pool_id}/.well-known/jwks.json")
        assert r.status_code == 200, f"jwks of {pool_id}: {r.status_code} {r.text}"
        return r.json()

    def list_all_pools(self, client=None) -> list[dict]:
        """Every pool, following NextToken (raw signed calls, independent of boto3)."""
        pages = walk_pages(lambda **body: self.call("ListUserPools", body), max_pages=1000, MaxResults=60)
        return [p for page in pages for p in page["UserPools"]]

    def close(self) -> None:
        self.kill()
        if self._session is not None:
            self._session.close()
        with _ALL_LOCK:
            if self in _ALL_DAEMONS:
                _ALL_DAEMONS.remove(self)


@contextlib.contextmanager
def signing_clock(when: datetime.datetime | None):
    """Makes botocore's SigV4 signer (botocore.auth.get_current_datetime, naive UTC) see `when`."""
    if when is None:
        yield
        return
    original = botocore.auth.get_current_datetime
    naive = when.astimezone(datetime.timezone.utc).replace(tzinfo=None) if when.tzinfo else when

    def fake(remove_tzinfo=True):
        return naive if remove_tzinfo else naive.replace(tzinfo=datetime.timezone.utc)

    botocore.auth.get_current_datetime = fake
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = original


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def walk_pages(call, token_key: str = "NextToken", max_pages: int = 100, **kwargs) -> list[dict]:
    """Every page of a paginated call, following `token_key` from each response into the next
    request; fails if the listing has not ended after `max_pages` pages."""
    pages, token = [], None
    while True:
        page = call(**kwargs, **({token_key: token} if token else {}))
        pages.append(page)
        token = page.get(token_key)
        if not token:
            return pages
        assert len(pages) < max_pages, "pagination does not end"


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


@contextlib.contextmanager
def raises_code(code: str, message_contains: str | None = None):
    """Expects a botocore ClientError with Error.Code == code."""
    with pytest.raises(ClientError) as info:
        yield info
    got = error_code(info.value)
    assert got == code, f"expected {code}, got {got}: {info.value.response['Error']}"
    if message_contains is not None:
        assert message_contains in info.value.response["Error"].get("Message", ""), info.value.response["Error"]


def assert_error(resp: requests.Response, type_name: str, status: int = 400, message: str | None = None,
                 message_startswith: str | None = None) -> dict:
    """A raw response is a Cognito JSON error of this type."""
    assert resp.status_code == status, f"expected {status} {type_name}, got {resp.status_code}: {resp.text}"
    assert resp.headers.get("Content-Type", "").startswith(JSON_CT), resp.headers
    assert resp.headers.get("x-amzn-RequestId"), resp.headers
    body = resp.json()
    assert body.get("__type") == type_name, body
    assert isinstance(body.get("message"), str), body
    if message is not None:
        assert body["message"] == message, body
    if message_startswith is not None:
        assert body["message"].startswith(message_startswith), body
    return body


# ---------------------------------------------------------------------------------------------
# pytest wiring
# ---------------------------------------------------------------------------------------------

_counter = itertools.count()


@pytest.fixture
def unique():
    run = uuid.uuid4().hex[:6]

    def make(prefix: str = "e2e") -> str:
        return f"{prefix}-{run}-{next(_counter)}"

    return make


@pytest.fixture(scope="session")
def workroot():
    root = Path(tempfile.mkdtemp(prefix="portcullis-e2e-"))
    yield root
    if os.environ.get("PORTCULLIS_E2E_KEEP") != "1":
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def daemon(workroot):
    wait_for_binary()
    d = Daemon(workroot / "session", GENEROUS_LIMITS, name="session daemon")
    try:
        d.start()
        yield d
    finally:
        d.close()


@pytest.fixture
def make_daemon(workroot, request):
    wait_for_binary()
    made: list[Daemon] = []

    def make(config_text: str | None = None, start: bool = True) -> Daemon:
        d = Daemon(workroot / f"{request.node.name}-{len(made)}-{uuid.uuid4().hex[:4]}", config_text,
                   name=f"daemon of {request.node.name}")
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture(scope="session")
def cognito(daemon):
    return daemon.client()


@pytest.fixture
def pool(cognito, unique):
    """A fresh pool on the session daemon (deleted afterwards)."""
    p = cognito.create_user_pool(PoolName=unique("pool"))["UserPool"]
    yield p
    with contextlib.suppress(ClientError):
        cognito.delete_user_pool(UserPoolId=p["Id"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        with _ALL_LOCK:
            daemons = list(_ALL_DAEMONS)
        for d in daemons:
            state = "running" if d.alive() else f"exited {d.proc.returncode if d.proc else '-'}"
            rep.sections.append(
                (f"{d.name} stderr, last 60 lines ({state}; {d.log_path})", d.log_tail(60))
            )


def _kill_all_daemons(*_args) -> None:
    with _ALL_LOCK:
        daemons = list(_ALL_DAEMONS)
    for d in daemons:
        d.kill()


def pytest_sessionfinish(session, exitstatus):
    _kill_all_daemons()


# Daemons run in their own session (so a terminal ^C reaches pytest only); make sure none
# outlives an interpreter that exits without finishing the pytest session.
atexit.register(_kill_all_daemons)


# ---------------------------------------------------------------------------------------------
# sign-in fixtures (test_signin_*.py); helpers live in signin_helpers.py
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def signin_pool_factory(daemon, cognito):
    """make(pool_kwargs=None, client_settings=None) -> signin_helpers.SigninPool on the session
    daemon: a fresh pool with a public and a confidential app client (every password, SRP and
    refresh flow allowed unless client_settings says otherwise). Pools are deleted afterwards."""
    from signin_helpers import delete_pool, make_signin_pool

    made = []

    def make(pool_kwargs: dict | None = None, client_settings: dict | None = None):
        sp = make_signin_pool(daemon, cognito, pool_kwargs, client_settings)
        made.append(sp)
        return sp

    yield make
    for sp in made:
        delete_pool(cognito, sp.pool_id)


@pytest.fixture
def signin_pool(signin_pool_factory):
    """A default pool (default password policy) with a public and a confidential client."""
    return signin_pool_factory()
