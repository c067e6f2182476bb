"""Operations: per-pool, per-category rate limits (TooManyRequestsException) while /health keeps
answering, /metrics, start-up refusal of a bad configuration, and graceful SIGTERM."""

import http.client
import json
import re
import signal
import ssl
import subprocess
import threading
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BIN, GENEROUS_LIMITS, JSON_CT, TARGET_PREFIX, error_code
from signin_helpers import PASSWORD, make_signin_pool

THROTTLE_CONFIG = """
[rate_limits]
per_ip_rps = 0

[rate_limits.categories]
UserPoolRead = 5
"""


def metric_value(text: str, name: str, **labels) -> float | None:
    """Sum of the samples of `name` whose labels include `labels` (None when there is none)."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        sample_labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
            found = True
    return total if found else None


def test_burst_is_throttled_per_pool_while_health_answers(make_daemon):
    d = make_daemon(THROTTLE_CONFIG)
    setup = d.client()
    pid = setup.create_user_pool(PoolName="busy")["UserPool"]["Id"]
    quiet = setup.create_user_pool(PoolName="quiet")["UserPool"]["Id"]

    n_threads, per_thread = 8, 5  # 40 DescribeUserPool calls
    clients = [d.client() for _ in range(n_threads)]
    for c in clients:  # open the connections first so that the burst is requests, not handshakes
        c.list_tags_for_resource(ResourceArn=f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{quiet}")
    barrier = threading.Barrier(n_threads + 1)
    outcomes: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()
    burst_done = threading.Event()

    def burst(c):
        barrier.wait()
        for _ in range(per_thread):
            try:
                c.describe_user_pool(UserPoolId=pid)
                result, status = "ok", 200
            except ClientError as e:
                result, status = error_code(e), e.response["ResponseMetadata"]["HTTPStatusCode"]
            except Exception as e:  # noqa: BLE001 - any other outcome fails the test below
                result, status = repr(e), -1
            with lock:
                outcomes.append(result)
                statuses.append(status)

    health: list[int] = []

    def probe():
        s = d.new_http_session()
        barrier.wait()
        while not burst_done.is_set() or not health:
            try:
                health.append(s.get(d.endpoint + "/health", timeout=10).status_code)
            except Exception as e:  # noqa: BLE001
                health.append(repr(e))

    threads = [threading.Thread(target=burst, args=(c,)) for c in clients]
    prober = threading.Thread(target=probe)
    for t in threads + [prober]:
        t.start()
    started = time.monotonic()
    for t in threads:
        t.join(120)
    elapsed = time.monotonic() - started
    burst_done.set()
    prober.join(30)

    assert len(outcomes) == n_threads * per_thread
    others = [o for o in outcomes if o not in ("ok", "TooManyRequestsException")]
    assert others == [], outcomes
    ok, throttled = outcomes.count("ok"), outcomes.count("TooManyRequestsException")
    assert throttled > 0, f"no throttling in {elapsed:.2f}s: {outcomes}"
    assert ok >= 1
    # A 5 rps quota with a burst of 5 admits at most 5 + 5/s.
    assert ok <= 5 + 5 * elapsed + 1, f"{ok} admitted in {elapsed:.2f}s"
    # Cognito sends TooManyRequestsException as a 400.
    assert {s for o, s in zip(outcomes, statuses) if o == "TooManyRequestsException"} == {400}
    assert health and all(h == 200 for h in health), health

    # The limit is per pool: another pool's reads are not affected.
    assert setup.describe_user_pool(UserPoolId=quiet)["UserPool"]["Id"] == quiet

    metrics = d.metrics()
    limited = metric_value(metrics, "portcullis_rate_limited_total")
    assert limited is not None, "portcullis_rate_limited_total missing from /metrics"
    assert limited >= throttled
    assert metric_value(metrics, "portcullis_rate_limited_total", limit="UserPoolRead") is not None


def test_source_ip_limit_throttles_every_operation(make_daemon):
    """The per-source-IP limit applies before anything else; its refusals are counted apart."""
    d = make_daemon("[rate_limits]\nper_ip_rps = 3\nper_ip_burst = 3\n")
    c = d.client()
    outcomes = []
    for _ in range(15):
        try:
            c.list_user_pools(MaxResults=10)
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(error_code(e))
    assert set(outcomes) <= {"ok", "TooManyRequestsException"}, outcomes
    assert outcomes.count("TooManyRequestsException") > 0, outcomes
    assert outcomes.count("ok") >= 3, outcomes
    limited = metric_value(d.metrics(), "portcullis_rate_limited_total", limit="source_ip")
    assert limited is not None and limited >= outcomes.count("TooManyRequestsException")


def test_throttle_window_refills(make_daemon):
    """After a throttled burst the pool is readable again once the quota refills."""
    d = make_daemon(THROTTLE_CONFIG)
    c = d.client()
    pid = c.create_user_pool(PoolName="refill")["UserPool"]["Id"]
    results = []
    for _ in range(12):
        try:
            c.describe_user_pool(UserPoolId=pid)
            results.append("ok")
        except ClientError as e:
            results.append(error_code(e))
    assert "TooManyRequestsException" in results, results
    deadline = time.monotonic() + 5
    while True:
        try:
            c.describe_user_pool(UserPoolId=pid)
            break
        except ClientError as e:
            assert error_code(e) == "TooManyRequestsException"
            assert time.monotonic() < deadline, "quota never refilled"
            time.sleep(0.05)


def run_serve_expecting_failure(tmp_path, config_text):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(config_text)
    return subprocess.run(
        [BIN, "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def test_bad_listen_address_exits_2(tmp_path):
    proc = run_serve_expecting_failure(tmp_path, '[server]\nlisten = "nowhere"\n')
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "config: server.listen: " in proc.stderr, proc.stderr


def test_unknown_quota_category_exits_2(tmp_path):
    proc = run_serve_expecting_failure(tmp_path, "[rate_limits.categories]\nUserSomething = 5\n")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "config: rate_limits.categories.UserSomething: " in proc.stderr, proc.stderr


def test_unknown_key_exits_2(tmp_path):
    proc = run_serve_expecting_failure(tmp_path, "[workers]\nthreds = 4\n")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "config: workers" in proc.stderr and "threds" in proc.stderr, proc.stderr


def test_check_config_subcommand(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(THROTTLE_CONFIG)
    proc = subprocess.run([BIN, "check-config", "--config", str(good)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "configuration is valid" in proc.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\naccount_id = "12345"\n')
    proc = subprocess.run([BIN, "check-config", "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "config: server.account_id: " in proc.stderr, proc.stderr


def test_sigterm_is_graceful_and_restart_sees_data(make_daemon):
    d = make_daemon()
    c = d.client()
    pid = c.create_user_pool(PoolName="before-sigterm")["UserPool"]["Id"]
    client_id = c.create_user_pool_client(UserPoolId=pid, ClientName="c", GenerateSecret=True)["UserPoolClient"]["ClientId"]
    c.create_group(UserPoolId=pid, GroupName="g")
    assert d.stop() == 0, d.log_tail()
    assert not d.alive()
    d.start()
    c = d.client()
    assert c.describe_user_pool(UserPoolId=pid)["UserPool"]["Name"] == "before-sigterm"
    assert c.describe_user_pool_client(UserPoolId=pid, ClientId=client_id)["UserPoolClient"]["ClientSecret"]
    assert c.get_group(UserPoolId=pid, GroupName="g")["Group"]["GroupName"] == "g"


def wait_for_log(d, needle, timeout=10.0):
    deadline = time.monotonic() + timeout
    while needle not in d.log_text():
        assert time.monotonic() < deadline, f"{needle!r} never logged:\n{d.log_tail()}"
        time.sleep(0.02)


def test_sigterm_lets_an_in_flight_request_finish(make_daemon):
    """SIGTERM while a request is still arriving: the request completes (200, and its write is
    durable), then the daemon exits 0. Idle keep-alive connections do not hold it up."""
    d = make_daemon()
    idle = d.new_http_session()
    assert d.get("/health", session=idle).status_code == 200  # an idle keep-alive connection stays open

    body = json.dumps({"PoolName": "in-flight"}).encode()
    req = AWSRequest(method="POST", url=d.endpoint + "/", data=body, headers={
        "Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.CreateUserPool"})
    SigV4Auth(Credentials(*d.credentials()), "cognito-idp", "us-east-1").add_auth(req)
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, context=ssl.create_default_context(cafile=d.ca),
                                       timeout=30)
    try:
        conn.putrequest("POST", "/", skip_accept_encoding=True)
        for k, v in req.headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body[:5])  # the request is in flight: headers and part of the body
        time.sleep(0.2)

        d.proc.send_signal(signal.SIGTERM)
        wait_for_log(d, "SIGTERM received")
        time.sleep(0.3)
        assert d.alive(), "exited with a request in flight"

        conn.send(body[5:])
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    assert resp.status == 200, payload
    pool_id = json.loads(payload)["UserPool"]["Id"]

    started = time.monotonic()
    status = d.proc.wait(15)
    assert status == 0, d.log_tail()
    # The grace period is 20 s; nothing in flight remained, so no waiting for it.
    assert time.monotonic() - started < 10
    idle.close()

    d.start()
    assert d.client().describe_user_pool(UserPoolId=pool_id)["UserPool"]["Name"] == "in-flight"


def test_metrics_count_requests_and_errors(daemon):
    before = daemon.metrics()
    base_list = metric_value(before, "portcullis_requests_total", operation="ListUserPools") or 0
    base_err = metric_value(before, "portcullis_errors_total", operation="DescribeUserPool",
                            type="ResourceNotFoundException") or 0
    for _ in range(3):
        daemon.call("ListUserPools", {"MaxResults": 1})
    r = daemon.raw("DescribeUserPool", {"UserPoolId": "us-east-1_NoSuchPo0"})
    assert r.status_code == 400

    resp = daemon.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    after = resp.text
    assert metric_value(after, "portcullis_requests_total", operation="ListUserPools") == base_list + 3
    assert metric_value(after, "portcullis_errors_total", operation="DescribeUserPool",
                        type="ResourceNotFoundException") == base_err + 1
    # Latency histogram of the operation and the worker queue gauge are exported too.
    assert metric_value(after, "portcullis_operation_seconds_count", operation="ListUserPools") is not None, after
    assert metric_value(after, "portcullis_worker_queue_depth") is not None, after
    assert all(
        line.startswith(("#", "portcullis_")) for line in after.splitlines() if line.strip()
    ), "metric without the portcullis_ prefix"


def test_a_full_worker_queue_sheds_sign_ins_quickly_and_keeps_serving(make_daemon):
    """One worker with one queue slot: a burst of concurrent sign-ins gets some answered with
    tokens and the excess refused with TooManyRequestsException (counted in the metrics); nothing
    else goes wrong and the daemon serves normally afterwards."""
    d = make_daemon(GENEROUS_LIMITS + "\n[workers]\nthreads = 1\nqueue_capacity = 1\n")
    sp = make_signin_pool(d, d.client())
    user = sp.create_user()
    before = metric_value(d.metrics(), "portcullis_worker_queue_rejections_total") or 0
    outcomes: list[str] = []
    lock = threading.Lock()

    def sign_in() -> None:
        cognito = d.client()
        for _ in range(4):
            try:
                out = cognito.initiate_auth(ClientId=sp.public.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": user["Username"], "PASSWORD": PASSWORD})
                result = "ok" if "AccessToken" in out["AuthenticationResult"] else "no-token"
            except ClientError as e:
                result = f"{error_code(e)}: {e.response['Error']['Message']}"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=sign_in) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 96
    assert set(outcomes) <= {"ok", "TooManyRequestsException: Too many requests"}, set(outcomes)
    assert outcomes.count("ok") >= 1 and outcomes.count("TooManyRequestsException: Too many requests") >= 1
    shed = metric_value(d.metrics(), "portcullis_worker_queue_rejections_total") or 0
    assert shed - before == outcomes.count("TooManyRequestsException: Too many requests")
    # Once the burst is over, sign-ins go through again.
    assert "AccessToken" in sp.password_auth(user["Username"])["AuthenticationResult"]


def test_wrong_passwords_take_no_worker_job(make_daemon):
    """A wrong password, for a real user or an unknown name, is turned away without a worker job
    (the check tag is compared on the reactor), so credential stuffing cannot crowd real sign-ins
    out of the worker queue; a right password mints its tokens on a worker."""
    d = make_daemon(GENEROUS_LIMITS)
    sp = make_signin_pool(d, d.client())
    hidden = sp.add_client(PreventUserExistenceErrors="ENABLED")
    user = sp.create_user()["Username"]

    def jobs() -> float:
        return metric_value(d.metrics(), "portcullis_worker_jobs_total") or 0

    def refusal(name: str, client) -> str:
        try:
            sp.password_auth(name, "Wrong-Passw0rd!", client=client)
            return "signed in"
        except ClientError as e:
            return f"{error_code(e)}: {e.response['Error']['Message']}"

    before = jobs()
    answers = [refusal(user, sp.public), refusal(user, hidden), refusal("nobody-1", sp.public),
               refusal("nobody-2", hidden), refusal(user, sp.public)]
    assert answers == ["NotAuthorizedException: Incorrect username or password."] * 2 + [
        "UserNotFoundException: User does not exist.",
        "NotAuthorizedException: Incorrect username or password.",
        "NotAuthorizedException: Incorrect username or password.",
    ], answers
    assert jobs() == before
    assert "AccessToken" in sp.password_auth(user)["AuthenticationResult"]
    assert jobs() > before
