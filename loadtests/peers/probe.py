#!/usr/bin/env python3
"""Probe Cognito-compatible endpoints (Portcullis, moto server, cognito-local) for the
operations the load test (portcullis-load) uses, and report what works, what fails,
client-visible quirks, and a quick sequential latency per operation.

Usage (with the project's venv, which has boto3):
    /root/.cache/portcullis-venv/bin/python loadtests/peers/probe.py \
        moto=http://127.0.0.1:5001 cognito-local=http://127.0.0.1:5002 [--calls 50] [--json out.json]

    NAME=URL may be repeated; for an https endpoint with a private CA, pass --ca-bundle
    (and --access-key/--secret-key for a daemon that checks signatures).

The set-up mirrors loadtests/src/setup.rs: CreateUserPool (MinimumLength 6, no character classes),
CreateUserPoolClient (no secret, ALLOW_USER_SRP_AUTH + ALLOW_USER_PASSWORD_AUTH +
ALLOW_REFRESH_TOKEN_AUTH), AdminCreateUser (MessageAction SUPPRESS, no TemporaryPassword) +
AdminSetUserPassword(Permanent=True); the measured ops are sent like the load tool sends them:
admin ops (AdminCreateUser, ListUsers) signed with SigV4 using dummy credentials, public ops
(InitiateAuth, GetUser, SignUp) unsigned.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import time
import urllib.parse
import uuid

import boto3
import botocore.config
import botocore.exceptions

TARGET = "AWSCognitoIdentityProviderService"
PASSWORD = "portcullis-load-1"  # loadtests/src/setup.rs DEFAULT_PASSWORD
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def err_text(e: BaseException) -> str:
    if isinstance(e, botocore.exceptions.ClientError):
        er = e.response.get("Error", {})
        return f"{er.get('Code', '?')}: {er.get('Message', '')}".strip()[:160]
    return f"{type(e).__name__}: {e}"[:160]


def jwt_claims(token: str) -> dict:
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload))
    except Exception:  # noqa: BLE001 - opaque token
        return {}


class Raw:
    """A keep-alive HTTP/1.1 connection that posts JSON 1.1 like portcullis-load does."""

    def __init__(self, endpoint: str):
        u = urllib.parse.urlsplit(endpoint)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.conn = self._connect()

    def _connect(self):
        if self.https:
            import ssl

            return http.client.HTTPSConnection(self.host, self.port, context=ssl._create_unverified_context())
        return http.client.HTTPConnection(self.host, self.port)

    def post(self, op: str, body: dict, headers: dict | None = None):
        h = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.{op}"}
        h.update(headers or {})
        self.conn.request("POST", "/", body=json.dumps(body), headers=h)
        r = self.conn.getresponse()
        data = r.read()
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {"_raw": data[:200].decode(errors="replace")}
        return r.status, dict(r.getheaders()), parsed


class Probe:
    def __init__(self, name: str, endpoint: str, args):
        self.name, self.endpoint, self.args = name, endpoint, args
        self.rows: list[tuple[str, bool, str]] = []
        self.quirks: list[str] = []
        self.latency: dict[str, dict] = {}
        self.region = args.region
        self.c = self.client(self.region)

    def client(self, region: str, access_key: str | None = None):
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key or self.args.access_key,
            aws_secret_access_key=self.args.secret_key,
            verify=self.args.ca_bundle if self.args.ca_bundle else (not self.endpoint.startswith("https")),
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def step(self, label: str, fn, note=None):
        try:
            out = fn()
        except Exception as e:  # noqa: BLE001
            self.rows.append((label, False, err_text(e)))
            return None
        self.rows.append((label, True, note(out) if note else ""))
        return out

    def quirk(self, text: str):
        self.quirks.append(text)

    def time_op(self, label: str, fn, n: int):
        samples, errors, first_err = [], 0, ""
        for i in range(n):
            t0 = time.perf_counter()
            try:
                fn(i)
            except Exception as e:  # noqa: BLE001
                errors += 1
                first_err = first_err or err_text(e)
                continue
            samples.append((time.perf_counter() - t0) * 1000)
        if samples:
            s = sorted(samples)
            self.latency[label] = {
                "n": len(s),
                "errors": errors,
                "mean_ms": statistics.fmean(s),
                "p50_ms": s[len(s) // 2],
                "p95_ms": s[min(len(s) - 1, int(len(s) * 0.95))],
                "first_error": first_err,
            }
        else:
            self.latency[label] = {"n": 0, "errors": errors, "first_error": first_err}

    # ---------------------------------------------------------------- the probe
    def run(self):
        c, run = self.c, uuid.uuid4().hex[:8]
        pool = self.step(
            "CreateUserPool (lenient policy)",
            lambda: c.create_user_pool(
                PoolName=f"peers-{run}",
                Policies={
                    "PasswordPolicy": {
                        "MinimumLength": 6,
                        "RequireUppercase": False,
                        "RequireLowercase": False,
                        "RequireNumbers": False,
                        "RequireSymbols": False,
                    }
                },
            ),
            lambda r: f"Id={r['UserPool']['Id']}",
        )
        if not pool:
            return
        pool_id = pool["UserPool"]["Id"]
        self.pool_id = pool_id
        self.quirk(f"pool id shape: {pool_id!r} (region {self.region!r})")
        if "UsernameAttributes" in pool["UserPool"] and pool["UserPool"]["UsernameAttributes"]:
            self.quirk(f"pool created with UsernameAttributes={pool['UserPool']['UsernameAttributes']} by default")

        cl = self.step(
            "CreateUserPoolClient (no secret, ALLOW_* flows)",
            lambda: c.create_user_pool_client(
                UserPoolId=pool_id, ClientName=f"peers-{run}", GenerateSecret=False, ExplicitAuthFlows=FLOWS
            ),
            lambda r: f"ClientId={r['UserPoolClient']['ClientId']} flows={r['UserPoolClient'].get('ExplicitAuthFlows')}",
        )
        if not cl:
            return
        client_id = cl["UserPoolClient"]["ClientId"]

        # Legacy flow names in ExplicitAuthFlows (pre-2019 form).
        legacy = self.step(
            "CreateUserPoolClient (legacy USER_PASSWORD_AUTH name)",
            lambda: c.create_user_pool_client(
                UserPoolId=pool_id, ClientName=f"legacy-{run}", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
            ),
            lambda r: f"flows={r['UserPoolClient'].get('ExplicitAuthFlows')}",
        )

        user = f"peers-{run}-000000"
        created = self.step(
            "AdminCreateUser (SUPPRESS, no temp pw)",
            lambda: c.admin_create_user(UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS"),
            lambda r: f"Username={r['User']['Username']} status={r['User'].get('UserStatus')}",
        )
        if created and created["User"]["Username"] != user:
            self.quirk(f"AdminCreateUser stores Username={created['User']['Username']!r}, not the given {user!r}")

        # Sign-in before the password is set (FORCE_CHANGE_PASSWORD user, unknown temp password).
        self.step(
            "AdminSetUserPassword (Permanent=True)",
            lambda: c.admin_set_user_password(UserPoolId=pool_id, Username=user, Password=PASSWORD, Permanent=True),
        )
        got = self.step(
            "AdminGetUser after set-password",
            lambda: c.admin_get_user(UserPoolId=pool_id, Username=user),
            lambda r: f"status={r.get('UserStatus')}",
        )
        if got and got.get("UserStatus") != "CONFIRMED":
            self.quirk(f"after AdminSetUserPassword(Permanent) UserStatus={got.get('UserStatus')!r} (Cognito: CONFIRMED)")

        def auth_note(r):
            ar = r.get("AuthenticationResult") or {}
            if not ar:
                return f"no AuthenticationResult; ChallengeName={r.get('ChallengeName')}"
            keys = sorted(k for k in ar if k.endswith("Token"))
            return f"tokens={','.join(keys)} ExpiresIn={ar.get('ExpiresIn')}"

        auth = self.step(
            "InitiateAuth USER_PASSWORD_AUTH",
            lambda: c.initiate_auth(
                ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
            ),
            auth_note,
        )
        ar = (auth or {}).get("AuthenticationResult") or {}
        access, refresh = ar.get("AccessToken"), ar.get("RefreshToken")
        if auth and not ar:
            self.quirk(f"USER_PASSWORD_AUTH answered a challenge instead of tokens: {auth.get('ChallengeName')}")
        if ar and not refresh:
            self.quirk("USER_PASSWORD_AUTH returns no RefreshToken")
        if access:
            cl_ = jwt_claims(access)
            self.quirk(
                "access token claims: "
                + ", ".join(f"{k}={cl_.get(k)!r}" for k in ("iss", "token_use", "client_id", "username") if k in cl_)
                + (f" (alg {json.loads(base64.urlsafe_b64decode(access.split('.')[0] + '==')).get('alg')})" if cl_ else " (opaque)")
            )
        if refresh:
            self.quirk(f"refresh token shape: {'JWT' if jwt_claims(refresh) else 'opaque'} ({len(refresh)} chars)")

        self.step(
            "InitiateAuth wrong password -> NotAuthorized",
            lambda: self._expect_error(
                lambda: c.initiate_auth(
                    ClientId=client_id,
                    AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": user, "PASSWORD": "wrong-password"},
                ),
                "NotAuthorizedException",
            ),
            lambda r: r,
        )

        if refresh:
            ref = self.step(
                "InitiateAuth REFRESH_TOKEN_AUTH",
                lambda: c.initiate_auth(
                    ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
                ),
                auth_note,
            )
            rar = (ref or {}).get("AuthenticationResult") or {}
            if rar.get("RefreshToken"):
                self.quirk("REFRESH_TOKEN_AUTH returns a (new) RefreshToken (Cognito without rotation: none)")
        else:
            self.rows.append(("InitiateAuth REFRESH_TOKEN_AUTH", False, "skipped: no RefreshToken"))

        if access:
            self.step(
                "GetUser (AccessToken)",
                lambda: c.get_user(AccessToken=access),
                lambda r: f"Username={r.get('Username')} attrs={[a['Name'] for a in r.get('UserAttributes', [])]}",
            )
        else:
            self.rows.append(("GetUser (AccessToken)", False, "skipped: no AccessToken"))

        # A few more users so that ListUsers pagination can be checked.
        for i in range(1, 4):
            try:
                c.admin_create_user(UserPoolId=pool_id, Username=f"peers-{run}-{i:06d}", MessageAction="SUPPRESS")
            except Exception:  # noqa: BLE001
                pass
        lu = self.step(
            "ListUsers (Limit=60)",
            lambda: c.list_users(UserPoolId=pool_id, Limit=60),
            lambda r: f"{len(r.get('Users', []))} users",
        )
        page = self.step(
            "ListUsers (Limit=2) pagination",
            lambda: c.list_users(UserPoolId=pool_id, Limit=2),
            lambda r: f"{len(r.get('Users', []))} users, PaginationToken={'yes' if r.get('PaginationToken') else 'no'}",
        )
        if page and (len(page.get("Users", [])) > 2 or not page.get("PaginationToken")):
            self.quirk(f"ListUsers ignores Limit/pagination (Limit=2 gave {len(page.get('Users', []))} users)")

        su_user = f"peers-{run}-signup"
        su = self.step(
            "SignUp",
            lambda: c.sign_up(ClientId=client_id, Username=su_user, Password=PASSWORD),
            lambda r: f"UserConfirmed={r.get('UserConfirmed')} UserSub={'yes' if r.get('UserSub') else 'no'}",
        )
        self.step(
            "SignUp duplicate -> UsernameExists",
            lambda: self._expect_error(
                lambda: c.sign_up(ClientId=client_id, Username=su_user, Password=PASSWORD), "UsernameExistsException"
            ),
            lambda r: r,
        )
        self.step(
            "SignUp short password -> InvalidPassword",
            lambda: self._expect_error(
                lambda: c.sign_up(ClientId=client_id, Username=su_user + "x", Password="abc"), "InvalidPasswordException"
            ),
            lambda r: r,
        )
        if su:
            self.step(
                "AdminConfirmSignUp",
                lambda: c.admin_confirm_sign_up(UserPoolId=pool_id, Username=su_user),
            )
            self.step(
                "InitiateAuth USER_PASSWORD_AUTH (signed-up user)",
                lambda: c.initiate_auth(
                    ClientId=client_id,
                    AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": su_user, "PASSWORD": PASSWORD},
                ),
                auth_note,
            )

        # Flow enforcement: a client that only allows REFRESH must refuse USER_PASSWORD_AUTH.
        nf = None
        try:
            nf = c.create_user_pool_client(
                UserPoolId=pool_id, ClientName=f"noflow-{run}", ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"]
            )["UserPoolClient"]["ClientId"]
        except Exception:  # noqa: BLE001
            pass
        if nf:
            self.step(
                "USER_PASSWORD_AUTH on client without the flow -> refused",
                lambda: self._expect_error(
                    lambda: c.initiate_auth(
                        ClientId=nf,
                        AuthFlow="USER_PASSWORD_AUTH",
                        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
                    ),
                    "InvalidParameterException",
                ),
                lambda r: r,
            )

        self._raw_checks(pool_id, client_id, user)
        self._region_checks(pool_id)
        if self.args.calls > 0 and access and refresh:
            self._timings(pool_id, client_id, run, user, access, refresh)

        self.step("DeleteUserPool", lambda: c.delete_user_pool(UserPoolId=pool_id))

    @staticmethod
    def _expect_error(fn, code):
        try:
            fn()
        except botocore.exceptions.ClientError as e:
            got = e.response["Error"]["Code"]
            if got == code:
                return f"{got}"
            raise AssertionError(f"expected {code}, got {err_text(e)}") from None
        raise AssertionError(f"expected {code}, call succeeded")

    def _raw_checks(self, pool_id, client_id, user):
        """What a hand-rolled client (portcullis-load: hyper, keep-alive, own SigV4) must know."""
        try:
            raw = Raw(self.endpoint)
            st, hd, body = raw.post(
                "InitiateAuth",
                {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id, "AuthParameters": {"USERNAME": user, "PASSWORD": PASSWORD}},
            )
            self.rows.append(("raw unsigned InitiateAuth", st == 200, f"HTTP {st} content-type={hd.get('Content-Type') or hd.get('content-type')}"))
            conn_hdr = hd.get("Connection") or hd.get("connection") or ""
            st2, _, _ = raw.post("ListUsers", {"UserPoolId": pool_id, "Limit": 60})
            self.rows.append(
                (
                    "raw unsigned ListUsers (2nd request, same connection)",
                    st2 == 200,
                    f"HTTP {st2}; 1st response Connection: {conn_hdr or '-'}; server: {hd.get('Server', '-')}",
                )
            )
            if conn_hdr.lower() == "close":
                self.quirk("server closes the connection after each response (no keep-alive)")
            if st2 == 200:
                self.quirk("admin ops accepted without any Authorization header (no SigV4 check)")
            st3, _, b3 = raw.post(
                "ListUsers",
                {"UserPoolId": pool_id, "Limit": 60},
                {
                    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDBOGUS/20000101/us-east-1/cognito-idp/aws4_request, "
                    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64,
                    "X-Amz-Date": "20000101T000000Z",
                },
            )
            self.rows.append(("raw ListUsers with garbage SigV4 signature", st3 == 200, f"HTTP {st3} {str(b3)[:80]}"))
            if st3 == 200:
                self.quirk("SigV4 signatures are not verified (any dummy credentials work)")
            st4, _, b4 = raw.post("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
                                                   "AuthParameters": {"USERNAME": user, "PASSWORD": "nope-nope"}})
            self.quirk(f"error body shape (HTTP {st4}): {json.dumps(b4)[:140]}")
            if "__type" not in b4:
                self.quirk("error body has no `__type` field; portcullis-load keys errors by __type")
        except Exception as e:  # noqa: BLE001
            self.rows.append(("raw HTTP checks", False, err_text(e)))

    def _region_checks(self, pool_id):
        other = "eu-west-1" if self.region != "eu-west-1" else "us-east-1"
        try:
            self.client(other).list_users(UserPoolId=pool_id, Limit=1)
            self.rows.append((f"ListUsers signed for region {other}", True, "pool visible from any region"))
        except Exception as e:  # noqa: BLE001
            self.rows.append((f"ListUsers signed for region {other}", False, err_text(e)))
            self.quirk(f"state is per SigV4 region: a pool made under {self.region} is invisible when signed for {other} "
                       "(sign with the same --region)")
        try:
            self.client(self.region, access_key="AKIDOTHERACCOUNT1").list_users(UserPoolId=pool_id, Limit=1)
        except Exception as e:  # noqa: BLE001
            self.quirk(f"state is per access key/account: other key -> {err_text(e)}")

    def _timings(self, pool_id, client_id, run, user, access, refresh):
        c, n = self.c, self.args.calls
        self.time_op(
            "AdminCreateUser",
            lambda i: c.admin_create_user(UserPoolId=pool_id, Username=f"peers-{run}-t{i:05d}", MessageAction="SUPPRESS"),
            n,
        )
        self.time_op(
            "SignUp",
            lambda i: c.sign_up(ClientId=client_id, Username=f"peers-{run}-s{i:05d}", Password=PASSWORD),
            n,
        )
        self.time_op(
            "InitiateAuth USER_PASSWORD_AUTH",
            lambda i: c.initiate_auth(
                ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
            ),
            n,
        )
        self.time_op(
            "InitiateAuth REFRESH_TOKEN_AUTH",
            lambda i: c.initiate_auth(
                ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
            ),
            n,
        )
        self.time_op("GetUser", lambda i: c.get_user(AccessToken=access), n)
        size = None
        try:
            size = c.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("EstimatedNumberOfUsers")
        except Exception:  # noqa: BLE001
            pass
        self.time_op("ListUsers (Limit=60)", lambda i: c.list_users(UserPoolId=pool_id, Limit=60), n)
        self.latency["ListUsers (Limit=60)"]["pool_users"] = size if size is not None else 4 + 2 * n

        soak = self.args.soak
        if soak <= 0:
            return
        # Does latency drift as state grows? `soak` more users and `soak` more sign-ins, then re-time.
        t0 = time.perf_counter()
        for i in range(soak):
            try:
                c.admin_create_user(UserPoolId=pool_id, Username=f"peers-{run}-g{i:06d}", MessageAction="SUPPRESS")
                c.initiate_auth(
                    ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
                )
            except Exception:  # noqa: BLE001
                pass
        self.soak_secs = time.perf_counter() - t0
        m = min(n, 20)
        tag = f" after +{soak} users/sign-ins"
        self.time_op(
            "AdminCreateUser" + tag,
            lambda i: c.admin_create_user(UserPoolId=pool_id, Username=f"peers-{run}-u{i:05d}", MessageAction="SUPPRESS"),
            m,
        )
        self.time_op(
            "InitiateAuth USER_PASSWORD_AUTH" + tag,
            lambda i: c.initiate_auth(
                ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
            ),
            m,
        )
        self.time_op(
            "InitiateAuth REFRESH_TOKEN_AUTH" + tag,
            lambda i: c.initiate_auth(
                ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
            ),
            m,
        )
        self.time_op("GetUser" + tag, lambda i: c.get_user(AccessToken=access), m)


def print_report(probes: list[Probe]):
    for p in probes:
        print(f"\n=== {p.name}  {p.endpoint}")
        w = max(len(r[0]) for r in p.rows) if p.rows else 10
        for label, ok, detail in p.rows:
            print(f"  {'OK  ' if ok else 'FAIL'} {label:<{w}}  {detail}")
        if p.quirks:
            print("  quirks:")
            for q in p.quirks:
                print(f"    - {q}")
    ops = []
    for p in probes:
        ops += [o for o in p.latency if o not in ops]
    if ops:
        print(f"\n=== sequential latency, boto3, one connection (mean / p50 / p95 ms; {probes[0].args.calls} calls each)")
        names = [p.name for p in probes]
        print(f"  {'operation':<60}" + "".join(f"{n:>24}" for n in names))
        for o in ops:
            cells = []
            for p in probes:
                s = p.latency.get(o)
                if not s:
                    cells.append("-")
                elif not s["n"]:
                    cells.append(f"all {s['errors']} failed")
                else:
                    cells.append(f"{s['mean_ms']:.1f}/{s['p50_ms']:.1f}/{s['p95_ms']:.1f}" + (f" ({s['errors']}err)" if s["errors"] else ""))
            print(f"  {o:<60}" + "".join(f"{c:>24}" for c in cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("endpoints", nargs="+", metavar="NAME=URL")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--access-key", default="AKIDPORTCULLISLOAD")
    ap.add_argument("--secret-key", default="dummy-secret-key")
    ap.add_argument("--ca-bundle")
    ap.add_argument("--calls", type=int, default=50, help="calls per op for the latency table (0: skip)")
    ap.add_argument("--soak", type=int, default=0,
                    help="then add N users and N sign-ins and re-time (shows latency drift as state grows)")
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args()

    probes = []
    for spec in args.endpoints:
        name, _, url = spec.partition("=")
        if not url:
            name, url = urllib.parse.urlsplit(spec).netloc, spec
        p = Probe(name, url, args)
        print(f"probing {name} at {url} ...", file=sys.stderr)
        try:
            p.run()
        except Exception as e:  # noqa: BLE001
            p.rows.append(("probe aborted", False, err_text(e)))
        probes.append(p)
    print_report(probes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {p.name: {"endpoint": p.endpoint, "rows": p.rows, "quirks": p.quirks, "latency": p.latency} for p in probes},
                f,
                indent=2,
            )
    failed = any(not ok for p in probes for _, ok, _ in p.rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
