"""User import from CSV, as Cognito's "import users into a user pool": GetCSVHeader,
Create/Start/Describe/List/StopUserImportJob with boto3, the CSV PUT to the job's PreSignedUrl
(served by Portcullis), RESET_REQUIRED users who recover with a code, per-row failures, resuming
after kill -9, and the `portcullis import` CLI."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import time
import uuid

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import BIN, GENEROUS_LIMITS, error_code, raises_code

ROLE_ARN = "arn:aws:iam::123456789012:role/CognitoImportRole"
DEFAULT_HEADER = [
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
    "website", "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number",
    "phone_number_verified", "address", "updated_at", "cognito:mfa_enabled", "cognito:username",
]
FINAL = {"Succeeded", "Failed", "Stopped", "Expired"}
NEW_PASSWORD = "Imported-Passw0rd!"


@pytest.fixture
def import_pool(signin_pool_factory):
    """A pool that auto-verifies email (Cognito imports only into such pools), with clients."""
    return signin_pool_factory(pool_kwargs={
        "AutoVerifiedAttributes": ["email"],
        "Schema": [{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
    })


def csv_text(header: list[str], rows: list[dict | list]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(row if isinstance(row, list) else [row.get(col, "") for col in header])
    return out.getvalue()


def user_row(name: str, **extra) -> dict:
    row = {"cognito:username": name, "email": f"{name}@example.com", "email_verified": "true",
           "cognito:mfa_enabled": "false"}
    row.update(extra)
    return row


def create_job(cognito, pool_id: str, name: str = "import") -> dict:
    return cognito.create_user_import_job(UserPoolId=pool_id, JobName=name, CloudWatchLogsRoleArn=ROLE_ARN)[
        "UserImportJob"]


def upload(daemon, url: str, body: str | bytes) -> requests.Response:
    """What Cognito's guide does with curl -T: a PUT with the SSE header."""
    return requests.put(url, data=body.encode() if isinstance(body, str) else body, verify=daemon.ca, timeout=60,
                        headers={"Content-Type": "text/csv", "x-amz-server-side-encryption": "aws:kms"})


def wait_for_job(cognito, pool_id: str, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = cognito.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]
        if job["Status"] in FINAL:
            return job
        assert time.monotonic() < deadline, f"job still {job['Status']} after {timeout} s: {job}"
        time.sleep(0.1)


def run_import(daemon, cognito, pool_id: str, text: str) -> dict:
    job = create_job(cognito, pool_id)
    assert upload(daemon, job["PreSignedUrl"], text).status_code == 200
    cognito.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    return wait_for_job(cognito, pool_id, job["JobId"])


def csv_files(daemon, job_id: str) -> list[str]:
    imports = daemon.data_dir / "imports"
    return sorted(p.name for p in imports.glob(f"{job_id}.*")) if imports.exists() else []


def test_the_csv_header_is_cognitos(cognito, pool, import_pool):
    assert cognito.get_csv_header(UserPoolId=pool["Id"])["CSVHeader"] == DEFAULT_HEADER
    with_custom = cognito.get_csv_header(UserPoolId=import_pool.pool_id)
    assert with_custom["UserPoolId"] == import_pool.pool_id
    assert with_custom["CSVHeader"] == DEFAULT_HEADER[:-2] + ["custom:tier"] + DEFAULT_HEADER[-2:]
    with raises_code("ResourceNotFoundException"):
        cognito.get_csv_header(UserPoolId="us-east-1_missing1")


def test_imported_users_are_reset_required_and_recover_with_a_code(daemon, cognito, import_pool):
    sp = import_pool
    header = cognito.get_csv_header(UserPoolId=sp.pool_id)["CSVHeader"]
    names = [f"imp{i:04d}-{uuid.uuid4().hex[:6]}" for i in range(300)]
    rows = [user_row(n, given_name=f"Given {i}", **{"custom:tier": "gold" if i % 2 else ""})
            for i, n in enumerate(names)]

    job = create_job(cognito, sp.pool_id, "Customer import")
    assert re.fullmatch(r"import-[0-9A-Za-z]{10}", job["JobId"])
    assert job["JobName"] == "Customer import" and job["UserPoolId"] == sp.pool_id
    assert job["Status"] == "Created" and job["CloudWatchLogsRoleArn"] == ROLE_ARN
    assert (job["ImportedUsers"], job["SkippedUsers"], job["FailedUsers"]) == (0, 0, 0)
    assert job["PreSignedUrl"].startswith(f"{daemon.endpoint}/import/{job['JobId']}?token=")
    assert "StartDate" not in job and "CompletionDate" not in job

    assert upload(daemon, job["PreSignedUrl"], csv_text(header, rows)).status_code == 200
    assert len(csv_files(daemon, job["JobId"])) == 1, "stored before the 200"
    described = cognito.describe_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert described["Status"] == "Created" and "token=" not in described["PreSignedUrl"]

    started = cognito.start_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] in {"Pending", "InProgress", "Succeeded"} and started["StartDate"] >= job["CreationDate"]
    done = wait_for_job(cognito, sp.pool_id, job["JobId"])
    assert done["Status"] == "Succeeded", done
    assert (done["ImportedUsers"], done["FailedUsers"], done["SkippedUsers"]) == (300, 0, 0)
    assert done["CompletionMessage"] == "Import Job Completed Successfully."
    assert done["CompletionDate"] >= done["StartDate"]
    assert csv_files(daemon, job["JobId"]) == [], "the CSV goes when the job ends"

    listed = cognito.list_users(UserPoolId=sp.pool_id, Limit=60)
    assert len(listed["Users"]) == 60 and all(u["UserStatus"] == "RESET_REQUIRED" for u in listed["Users"])
    user = cognito.admin_get_user(UserPoolId=sp.pool_id, Username=names[1])
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "RESET_REQUIRED" and user["Enabled"] is True
    assert attrs["email"] == f"{names[1]}@example.com" and attrs["email_verified"] == "true"
    assert attrs["given_name"] == "Given 1" and attrs["custom:tier"] == "gold"
    assert re.fullmatch(r"[0-9a-f-]{36}", attrs["sub"])
    assert "custom:tier" not in {a["Name"] for a in
                                 cognito.admin_get_user(UserPoolId=sp.pool_id, Username=names[0])["UserAttributes"]}

    # No password yet: sign-in is refused until a reset, which the verified email makes possible.
    for attempt in (lambda: sp.password_auth(names[1], NEW_PASSWORD),
                    lambda: sp.pycognito_user(names[1]).authenticate(password=NEW_PASSWORD)):
        with raises_code("PasswordResetRequiredException", "Password reset required for the user"):
            attempt()
    email = f"{names[1]}@example.com"
    cognito.forgot_password(ClientId=sp.public.client_id, Username=names[1])
    code = re.search(r"\b(\d{6})\b", daemon.wait_for_message(sp.pool_id, email)["Body"]).group(1)
    cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=names[1], ConfirmationCode=code,
                                    Password=NEW_PASSWORD)
    assert "AccessToken" in sp.password_auth(names[1], NEW_PASSWORD)["AuthenticationResult"]
    assert cognito.admin_get_user(UserPoolId=sp.pool_id, Username=names[1])["UserStatus"] == "CONFIRMED"


def test_bad_rows_fail_alone_and_are_logged_without_their_values(daemon, cognito, import_pool):
    sp = import_pool
    header = ["cognito:username", "email", "email_verified", "cognito:mfa_enabled", "given_name"]
    existing = sp.create_user(attributes={"email": "keep@example.com", "given_name": "Original"})["Username"]
    good = [f"good-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    rows = [
        user_row(good[0]),                                         # line 2
        user_row("", email="nobody@example.com"),                  # 3: no cognito:username
        user_row(good[1]),                                         # 4
        user_row(good[1], given_name="Second copy"),               # 5: the username again
        user_row(existing, given_name="Overwritten?"),             # 6: the user exists already
        [f"extra-{uuid.uuid4().hex[:6]}", "x@example.com", "true", "false", "", "undeclared-secret-value"],  # 7
        user_row(f"bool-{uuid.uuid4().hex[:6]}", email_verified="maybe-secret-value"),  # 8: not a boolean
        user_row(good[2]),                                         # 9
    ]
    done = run_import(daemon, cognito, sp.pool_id, csv_text(header, rows))
    assert done["Status"] == "Succeeded", done
    assert (done["ImportedUsers"], done["FailedUsers"], done["SkippedUsers"]) == (3, 5, 0)

    for name in good:
        assert cognito.admin_get_user(UserPoolId=sp.pool_id, Username=name)["UserStatus"] == "RESET_REQUIRED"
    copy = {a["Name"]: a["Value"] for a in
            cognito.admin_get_user(UserPoolId=sp.pool_id, Username=good[1])["UserAttributes"]}
    assert "given_name" not in copy, "the first row with the username wins"
    kept = cognito.admin_get_user(UserPoolId=sp.pool_id, Username=existing)
    assert kept["UserStatus"] == "CONFIRMED"
    assert {a["Name"]: a["Value"] for a in kept["UserAttributes"]}["given_name"] == "Original"
    with raises_code("UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=sp.pool_id, Username=rows[6]["cognito:username"])
    with raises_code("UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=sp.pool_id, Username=rows[5][0])

    log = daemon.log_text()
    failures = [line for line in log.splitlines() if "import row failed" in line and done["JobId"] in line]
    assert sorted(int(re.search(r"line=(\d+)", f).group(1)) for f in failures) == [3, 5, 6, 7, 8]
    assert "maybe-secret-value" not in log and "undeclared-secret-value" not in log and "Overwritten?" not in log


def test_a_header_with_an_attribute_the_pool_lacks_fails_the_job(daemon, cognito, import_pool):
    text = csv_text(["cognito:username", "email", "email_verified", "favourite_colour"],
                    [["someone", "s@example.com", "true", "blue"]])
    done = run_import(daemon, cognito, import_pool.pool_id, text)
    assert done["Status"] == "Failed" and done["ImportedUsers"] == 0
    assert "favourite_colour" in done["CompletionMessage"]
    with raises_code("UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=import_pool.pool_id, Username="someone")


def test_only_rows_that_all_fail_fail_the_job(daemon, cognito, import_pool):
    text = csv_text(["cognito:username", "email", "email_verified"], [["a1", "a@example.com", "false"]])
    done = run_import(daemon, cognito, import_pool.pool_id, text)
    assert (done["Status"], done["FailedUsers"], done["ImportedUsers"]) == ("Failed", 1, 0)
    assert done["CompletionMessage"] == "Too many users have failed or been skipped during the import."


def test_uploads_need_the_jobs_own_token_while_it_waits(daemon, cognito, import_pool):
    sp = import_pool
    job, other = create_job(cognito, sp.pool_id), create_job(cognito, sp.pool_id)
    base, token = job["PreSignedUrl"].split("?token=")
    other_token = other["PreSignedUrl"].split("?token=")[1]
    body = csv_text(["cognito:username", "email", "email_verified"], [["tok-user", "t@example.com", "true"]])
    for url in (base, f"{base}?token=", f"{base}?token={other_token}", f"{base}?token={token[:-2]}xx",
                f"{daemon.endpoint}/import/import-NoSuchJob1?token={token}"):
        r = upload(daemon, url, body)
        assert r.status_code == 403, (url, r.text)
    assert csv_files(daemon, job["JobId"]) == [], "nothing stored for a refused upload"
    with raises_code("InvalidParameterException", "no CSV file has been uploaded"):
        cognito.start_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])

    assert upload(daemon, job["PreSignedUrl"], body).status_code == 200
    assert upload(daemon, job["PreSignedUrl"], body).status_code == 200, "a new upload replaces the first"
    assert len(csv_files(daemon, job["JobId"])) == 1
    cognito.start_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])
    assert upload(daemon, job["PreSignedUrl"], body).status_code == 403, "the URL ends when the job starts"
    assert wait_for_job(cognito, sp.pool_id, job["JobId"])["ImportedUsers"] == 1


def test_start_and_stop_only_from_the_states_cognito_allows(daemon, cognito, import_pool, pool):
    sp = import_pool
    job = create_job(cognito, sp.pool_id)
    with raises_code("InvalidParameterException", "cannot be stopped: its status is Created"):
        cognito.stop_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_import_job(UserPoolId=sp.pool_id, JobId="import-AAAAAAAAAA")
    with raises_code("ResourceNotFoundException"):
        cognito.start_user_import_job(UserPoolId=pool["Id"], JobId=job["JobId"])  # another pool's job
    with raises_code("ResourceNotFoundException"):
        cognito.stop_user_import_job(UserPoolId=sp.pool_id, JobId="import-AAAAAAAAAA")
    # A pool that auto-verifies nothing cannot import (Cognito: "the import job will not start").
    plain = create_job(cognito, pool["Id"])
    assert upload(daemon, plain["PreSignedUrl"], "cognito:username\nx\n").status_code == 200
    with raises_code("PreconditionNotMetException"):
        cognito.start_user_import_job(UserPoolId=pool["Id"], JobId=plain["JobId"])

    done = run_import(daemon, cognito, sp.pool_id,
                      csv_text(["cognito:username", "email", "email_verified"], [["st1", "s@example.com", "true"]]))
    with raises_code("InvalidParameterException", "cannot be started: its status is Succeeded"):
        cognito.start_user_import_job(UserPoolId=sp.pool_id, JobId=done["JobId"])
    with raises_code("InvalidParameterException", "cannot be stopped: its status is Succeeded"):
        cognito.stop_user_import_job(UserPoolId=sp.pool_id, JobId=done["JobId"])


def big_csv(rows: int, prefix: str) -> str:
    lines = ["cognito:username,email,email_verified,cognito:mfa_enabled"]
    lines += [f"{prefix}{i:06d},{prefix}{i:06d}@example.com,true,false" for i in range(rows)]
    return "\n".join(lines) + "\n"


def test_stop_ends_a_running_job_between_batches(daemon, cognito, import_pool):
    sp = import_pool
    job = create_job(cognito, sp.pool_id)
    assert upload(daemon, job["PreSignedUrl"], big_csv(30_000, f"s{uuid.uuid4().hex[:4]}-")).status_code == 200
    cognito.start_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])
    with raises_code("UserImportInProgressException"):
        cognito.delete_user_pool(UserPoolId=sp.pool_id)
    stopped = cognito.stop_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert stopped["Status"] in {"Stopping", "Stopped"}
    done = wait_for_job(cognito, sp.pool_id, job["JobId"])
    assert done["Status"] == "Stopped", done
    assert done["CompletionMessage"] == "The Import Job was stopped by the developer."
    processed = done["ImportedUsers"] + done["FailedUsers"]
    assert processed < 30_000 and processed % 500 == 0, "stops between batches of 500 rows"
    assert done["FailedUsers"] == 0
    with raises_code("InvalidParameterException", "cannot be started: its status is Stopped"):
        cognito.start_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])
    assert csv_files(daemon, job["JobId"]) == []


def test_list_user_import_jobs_pages_newest_first(daemon, cognito, import_pool):
    sp = import_pool
    made = [create_job(cognito, sp.pool_id, f"job-{i}")["JobId"] for i in range(5)]
    pages, token = [], None
    while True:
        kwargs = {"PaginationToken": token} if token else {}
        page = cognito.list_user_import_jobs(UserPoolId=sp.pool_id, MaxResults=2, **kwargs)
        pages.append([j["JobId"] for j in page["UserImportJobs"]])
        token = page.get("PaginationToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [j for p in pages for j in p] == list(reversed(made))
    one = cognito.list_user_import_jobs(UserPoolId=sp.pool_id, MaxResults=60)["UserImportJobs"]
    assert [j["JobName"] for j in one] == [f"job-{i}" for i in reversed(range(5))]
    assert all("token=" not in j["PreSignedUrl"] for j in one)
    with raises_code("InvalidParameterException"):
        cognito.list_user_import_jobs(UserPoolId=sp.pool_id, MaxResults=2, PaginationToken="bm90LWEtam9i")
    r = daemon.raw("ListUserImportJobs", {"UserPoolId": sp.pool_id, "MaxResults": 0})
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"


def test_deleting_the_pool_removes_its_jobs(daemon, cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AutoVerifiedAttributes": ["email"]})
    job = create_job(cognito, sp.pool_id)
    cognito.delete_user_pool(UserPoolId=sp.pool_id)
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_import_job(UserPoolId=sp.pool_id, JobId=job["JobId"])
    assert upload(daemon, job["PreSignedUrl"], "cognito:username\n").status_code == 403


def test_a_running_import_resumes_exactly_after_kill_9(make_daemon):
    d = make_daemon(GENEROUS_LIMITS)
    c = d.client()
    pool_id = c.create_user_pool(PoolName="resume", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    rows = 30_000
    job = create_job(c, pool_id)
    assert upload(d, job["PreSignedUrl"], big_csv(rows, "r-")).status_code == 200
    c.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    deadline = time.monotonic() + 60
    while c.describe_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]["ImportedUsers"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    d.kill9()
    c = d.client()
    mid = c.describe_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
    done = wait_for_job(c, pool_id, job["JobId"])
    assert done["Status"] == "Succeeded", (mid, done)
    assert (done["ImportedUsers"], done["FailedUsers"]) == (rows, 0), "no row lost or counted twice"
    assert "resuming user import" in d.log_text()
    for i in (0, rows // 2, rows - 1):
        assert c.admin_get_user(UserPoolId=pool_id, Username=f"r-{i:06d}")["UserStatus"] == "RESET_REQUIRED"


def test_the_cli_imports_a_file_and_prints_the_counts(daemon, cognito, import_pool, tmp_path):
    sp = import_pool
    names = [f"cli-{uuid.uuid4().hex[:6]}-{i}" for i in range(12)]
    path = tmp_path / "users.csv"
    path.write_text(csv_text(["cognito:username", "email", "email_verified", "cognito:mfa_enabled"],
                             [user_row(n) for n in names] + [user_row("", email="x@example.com")]))
    cmd = [BIN, "import", "--pool-id", sp.pool_id, "--csv", str(path), "--endpoint", daemon.endpoint,
           "--data-dir", str(daemon.data_dir), "--job-name", "cli import"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"import-\w{10} Succeeded: 12 imported, 1 failed, 0 skipped of 13 rows", out.stdout), out.stdout
    assert cognito.admin_get_user(UserPoolId=sp.pool_id, Username=names[-1])["UserStatus"] == "RESET_REQUIRED"
    jobs = cognito.list_user_import_jobs(UserPoolId=sp.pool_id, MaxResults=10)["UserImportJobs"]
    assert jobs[0]["JobName"] == "cli import" and jobs[0]["ImportedUsers"] == 12

    # Every row fails: the job fails and so does the command.
    path.write_text(csv_text(["cognito:username", "email", "email_verified"], [[names[0], "a@example.com", "true"]]))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Failed: 0 imported, 1 failed" in out.stdout, (out.stdout, out.stderr)


def test_import_into_an_email_as_username_pool_claims_each_address(daemon, cognito, signin_pool_factory):
    """With UsernameAttributes [email], cognito:username is the address: each imported user gets a
    generated username (its sub) and the address as a sign-in name, unique in the pool."""
    sp = signin_pool_factory(pool_kwargs={"UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"]})
    taken = f"{uuid.uuid4().hex[:8]}@example.com"
    sp.create_user(taken)
    header = cognito.get_csv_header(UserPoolId=sp.pool_id)["CSVHeader"]
    fresh = [f"{uuid.uuid4().hex[:8]}@example.com" for _ in range(3)]
    rows = [user_row(a, email=a) for a in fresh] + [user_row(taken, email=taken), user_row("not-an-email")]
    job = run_import(daemon, cognito, sp.pool_id, csv_text(header, rows))
    assert (job["ImportedUsers"], job["FailedUsers"]) == (3, 2), job
    for address in fresh:
        user = cognito.admin_get_user(UserPoolId=sp.pool_id, Username=address)
        attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        assert user["Username"] == attributes["sub"] and attributes["email"] == address
        assert user["UserStatus"] == "RESET_REQUIRED"
