"""`portcullis seed` (issue 5): bulk-loads users into an existing pool with the daemon stopped;
the daemon then serves them like users created through the API."""

import subprocess
import time

from conftest import BIN, GENEROUS_LIMITS, raises_code, walk_pages

USERS = 20_000
REAL = 5
STRIDE = USERS // REAL  # the users with the password: 0, STRIDE, 2 * STRIDE, ...
PASSWORD = "Seed-Test-Passw0rd!"


def seed(d, pool_id, *extra, users=USERS, real=REAL, timeout=600):
    cmd = [BIN, "seed", "--data-dir", str(d.data_dir), "--pool-id", pool_id, "--users", str(users),
           "--real-passwords", str(real), "--password", PASSWORD, *extra]
    if d.config_path is not None:
        cmd += ["--config", str(d.config_path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def sign_in(c, client_id, username, password=PASSWORD):
    return c.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                           AuthParameters={"USERNAME": username, "PASSWORD": password})


def test_seed_bulk_loads_users_that_the_daemon_serves(make_daemon):
    d = make_daemon(GENEROUS_LIMITS)
    c = d.client()
    pool_id = c.create_user_pool(PoolName="seeded")["UserPool"]["Id"]
    client_id = c.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pool_id, Username="existing", MessageAction="SUPPRESS")

    # With the daemon running the database is locked: a clear failure, nothing written.
    running = seed(d, pool_id, users=10)
    assert running.returncode != 0, running.stdout
    assert "in use by another process" in running.stderr, running.stderr
    assert "daemon" in running.stderr, running.stderr

    assert d.stop() == 0
    started = time.monotonic()
    out = seed(d, pool_id)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert f"seeded {USERS} users" in out.stdout, out.stdout
    assert f"{REAL} of them sign in with the given password: user0000000, user{STRIDE:07}, ... (stride {STRIDE})" \
        in out.stdout, out.stdout
    assert f"{USERS}/{USERS} users" in out.stderr, out.stderr
    assert took < 120, f"seeding {USERS} users took {took:.1f}s"

    # Seeding the same range again refuses (existing users are never replaced)...
    again = seed(d, pool_id, users=10, real=0)
    assert again.returncode != 0
    assert "already has user" in again.stderr and "user0000000" in again.stderr, again.stderr
    # ...and an unknown pool is a clear error.
    missing = seed(d, "us-east-1_doesNotExist", users=10, real=0)
    assert missing.returncode != 0 and "does not exist" in missing.stderr, missing.stderr

    d.start()
    c = d.client()

    pages = walk_pages(c.list_users, "PaginationToken", max_pages=1000, UserPoolId=pool_id, Limit=60)
    usernames = [u["Username"] for page in pages for u in page["Users"]]
    assert len(usernames) == USERS + 1
    assert len(set(usernames)) == USERS + 1
    assert "user0000000" in usernames and f"user{USERS - 1:07}" in usernames and "existing" in usernames

    got = c.admin_get_user(UserPoolId=pool_id, Username="user0012345")
    assert got["UserStatus"] == "CONFIRMED"
    assert got["Enabled"] is True
    attributes = {a["Name"]: a["Value"] for a in got["UserAttributes"]}
    assert attributes["email"] == "user0012345@example.com"
    assert len(attributes["sub"]) == 36
    other = c.admin_get_user(UserPoolId=pool_id, Username="user0012346")
    assert {a["Name"]: a["Value"] for a in other["UserAttributes"]}["sub"] != attributes["sub"]

    # K users spread over the range sign in with the password; their tokens carry their own sub.
    for i in (0, STRIDE, (REAL - 1) * STRIDE):
        tokens = sign_in(c, client_id, f"user{i:07}")["AuthenticationResult"]
        me = c.get_user(AccessToken=tokens["AccessToken"])
        assert me["Username"] == f"user{i:07}"
    # The others have a well-formed verifier nobody knows the password of.
    for name in ("user0000001", f"user{STRIDE + 1:07}", "user0019999"):
        with raises_code("NotAuthorizedException"):
            sign_in(c, client_id, name)
    with raises_code("NotAuthorizedException"):
        sign_in(c, client_id, f"user{STRIDE:07}", "Wrong-Passw0rd!")
    # The pre-existing user is untouched.
    assert c.admin_get_user(UserPoolId=pool_id, Username="existing")["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_seed_checks_the_password_policy_before_writing(make_daemon):
    d = make_daemon(GENEROUS_LIMITS)
    c = d.client()
    pool_id = c.create_user_pool(PoolName="strict", Policies={"PasswordPolicy": {
        "MinimumLength": 30, "RequireUppercase": True, "RequireLowercase": True,
        "RequireNumbers": True, "RequireSymbols": True}})["UserPool"]["Id"]
    assert d.stop() == 0
    out = seed(d, pool_id, users=10, real=2)
    assert out.returncode != 0
    assert "Password not long enough" in out.stderr, out.stderr
    d.start()
    assert d.client().list_users(UserPoolId=pool_id)["Users"] == []


def test_deleting_a_large_pool_answers_at_once_and_purges_its_users_in_batches(make_daemon):
    """DeleteUserPool of a pool with 50k users removes the pool at once; its users go afterwards in
    bounded batches on a background thread (no gigabyte transaction), and nothing of another pool is
    touched."""
    d = make_daemon(GENEROUS_LIMITS)
    c = d.client()
    doomed = c.create_user_pool(PoolName="doomed")["UserPool"]["Id"]
    kept = c.create_user_pool(PoolName="kept")["UserPool"]["Id"]
    c.admin_create_user(UserPoolId=kept, Username="stays", MessageAction="SUPPRESS")
    assert d.stop() == 0
    out = seed(d, doomed, users=50_000, real=0)
    assert out.returncode == 0, out.stderr
    d.start()
    c = d.client()

    started = time.monotonic()
    c.delete_user_pool(UserPoolId=doomed)
    assert time.monotonic() - started < 5
    with raises_code("ResourceNotFoundException"):
        c.list_users(UserPoolId=doomed)
    deadline = time.monotonic() + 120
    while "purged the records of a deleted user pool" not in d.log_text():
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.5)
    purged = [line for line in d.log_text().splitlines() if "purged the records of a deleted user pool" in line]
    assert len(purged) == 1 and doomed in purged[0] and "users=50000" in purged[0], purged
    assert [u["Username"] for u in c.list_users(UserPoolId=kept)["Users"]] == ["stays"]
    # Nothing is left to resume at the next start (a marker left behind would be purged, and
    # logged, right away).
    d.restart()
    time.sleep(1)
    assert d.log_text().count("purged the records of a deleted user pool") == 1
