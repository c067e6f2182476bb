"""Shared helpers for the sign-in end-to-end tests (test_signin_*.py): a pool with a public and a
confidential app client, user creation, the password/refresh flows over boto3, SRP through
pycognito's own client code, JWT verification with PyJWT against the daemon's JWKS, and a runner
for the Node scripts in tests/e2e/js (amazon-cognito-identity-js, aws-jwt-verify).

Everything here talks to the daemon the way an unmodified client does: boto3 with `endpoint_url`,
TLS verified against the daemon's dev CA."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pycognito
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

JS_DIR = Path(__file__).resolve().parent / "js"

# Meets the default policy (8+ characters, upper, lower, digit, symbol).
PASSWORD = "Correct-Horse-9!"
NEW_PASSWORD = "Battery-Staple-7?"
OTHER_PASSWORD = "Tr0ub4dor&3-Xyz"

ALL_FLOWS = [
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
]

SIGNIN_SCOPE = "aws.cognito.signin.user.admin"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TOKEN_CHARS_RE = re.compile(r"^[A-Za-z0-9\-_=.]+$")


def is_uuid(value) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Base64(HMAC-SHA256(key=secret, msg=username + clientId)), as every SDK computes it."""
    mac = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def b64url_json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def unverified(token: str) -> tuple[dict, dict]:
    """(header, payload) of a compact JWS, without checking anything."""
    parts = token.split(".")
    assert len(parts) == 3, f"not a compact JWS: {token[:40]}..."
    return b64url_json(parts[0]), b64url_json(parts[1])


def attrs(attribute_list: list[dict]) -> dict:
    """[{"Name": n, "Value": v}, ...] -> {n: v}."""
    return {a["Name"]: a.get("Value") for a in attribute_list}


def tamper(text: str, index: int | None = None) -> str:
    """The same string with one character replaced by a different one of the same class."""
    i = len(text) // 2 if index is None else index
    while not text[i].isalnum():
        i += 1
    c = text[i]
    if c.isdigit():
        repl = "7" if c != "7" else "3"
    elif c.isupper():
        repl = "Q" if c != "Q" else "R"
    else:
        repl = "q" if c != "q" else "r"
    return text[:i] + repl + text[i + 1:]


def flip_signature(token: str) -> str:
    """A JWS whose signature no longer matches (header and payload untouched)."""
    head, payload, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def error_of(exc: ClientError) -> tuple[str, str]:
    err = exc.response["Error"]
    return err["Code"], err.get("Message", "")


# ---------------------------------------------------------------------------------------------
# pools, clients, users, flows
# ---------------------------------------------------------------------------------------------


@dataclass
class AppClient:
    client_id: str
    secret: str | None = None
    settings: dict = field(default_factory=dict)

    def hash_for(self, username: str) -> str | None:
        return secret_hash(username, self.client_id, self.secret) if self.secret else None


class SigninPool:
    """A user pool on a daemon with a public client (`public`) and a confidential one (`confidential`),
    both allowing every password/SRP/refresh flow."""

    def __init__(self, daemon, cognito, pool_id: str, public: AppClient, confidential: AppClient):
        self.daemon = daemon
        self.cognito = cognito
        self.pool_id = pool_id
        self.public = public
        self.confidential = confidential
        self._counter = 0

    # ----- identities -----

    @property
    def issuer(self) -> str:
        return f"{self.daemon.endpoint}/{self.pool_id}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def username(self, prefix: str = "user") -> str:
        self._counter += 1
        return f"{prefix}-{uuid.uuid4().hex[:8]}-{self._counter}"

    # ----- set-up -----

    def add_client(self, secret: bool = False, **settings) -> AppClient:
        settings.setdefault("ExplicitAuthFlows", list(ALL_FLOWS))
        made = self.cognito.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName=f"c-{uuid.uuid4().hex[:8]}", GenerateSecret=secret, **settings
        )["UserPoolClient"]
        return AppClient(made["ClientId"], made.get("ClientSecret"), made)

    def create_user(self, username: str | None = None, password: str | None = PASSWORD,
                    attributes: dict | None = None, permanent: bool = True) -> dict:
        """AdminCreateUser (MessageAction SUPPRESS) and, with a password, AdminSetUserPassword.
        Returns the created User with an extra "Password" key."""
        username = username or self.username()
        kwargs = dict(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
        if attributes:
            kwargs["UserAttributes"] = [{"Name": k, "Value": v} for k, v in attributes.items()]
        user = self.cognito.admin_create_user(**kwargs)["User"]
        if password is not None:
            self.cognito.admin_set_user_password(
                UserPoolId=self.pool_id, Username=username, Password=password, Permanent=permanent
            )
        user["Password"] = password
        return user

    def get_user(self, username: str) -> dict:
        return self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)

    def sub_of(self, username: str) -> str:
        return attrs(self.get_user(username)["UserAttributes"])["sub"]

    # ----- flows (boto3) -----

    def _client(self, client: AppClient | None) -> AppClient:
        return client or self.public

    def password_auth(self, username: str, password: str = PASSWORD, client: AppClient | None = None,
                      with_hash: bool = True) -> dict:
        """InitiateAuth USER_PASSWORD_AUTH."""
        c = self._client(client)
        params = {"USERNAME": username, "PASSWORD": password}
        if with_hash and c.secret:
            params["SECRET_HASH"] = c.hash_for(username)
        return self.cognito.initiate_auth(ClientId=c.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)

    def admin_auth(self, username: str, password: str = PASSWORD, client: AppClient | None = None,
                   flow: str = "ADMIN_USER_PASSWORD_AUTH", with_hash: bool = True) -> dict:
        """AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH (or ADMIN_NO_SRP_AUTH)."""
        c = self._client(client)
        params = {"USERNAME": username, "PASSWORD": password}
        if with_hash and c.secret:
            params["SECRET_HASH"] = c.hash_for(username)
        return self.cognito.admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=c.client_id, AuthFlow=flow, AuthParameters=params
        )

    def tokens(self, username: str, password: str = PASSWORD, client: AppClient | None = None) -> dict:
        """A signed-in user's AuthenticationResult (ADMIN_USER_PASSWORD_AUTH)."""
        out = self.admin_auth(username, password, client)
        assert "AuthenticationResult" in out, out
        return out["AuthenticationResult"]

    def refresh(self, refresh_token: str, client: AppClient | None = None, username: str | None = None,
                flow: str = "REFRESH_TOKEN_AUTH", admin: bool = False) -> dict:
        """InitiateAuth (or AdminInitiateAuth) REFRESH_TOKEN_AUTH; SECRET_HASH over `username`
        for a confidential client."""
        c = self._client(client)
        params = {"REFRESH_TOKEN": refresh_token}
        if c.secret and username is not None:
            params["SECRET_HASH"] = c.hash_for(username)
        if admin:
            return self.cognito.admin_initiate_auth(
                UserPoolId=self.pool_id, ClientId=c.client_id, AuthFlow=flow, AuthParameters=params
            )
        return self.cognito.initiate_auth(ClientId=c.client_id, AuthFlow=flow, AuthParameters=params)

    # ----- SRP through pycognito's client code -----

    def boto3_kwargs(self) -> dict:
        return dict(
            endpoint_url=self.daemon.endpoint,
            verify=self.daemon.ca,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    def srp(self, username: str, password: str = PASSWORD, client: AppClient | None = None) -> AWSSRP:
        """pycognito's AWSSRP helper bound to this pool and a boto3 client of the daemon."""
        c = self._client(client)
        return AWSSRP(username=username, password=password, pool_id=self.pool_id, client_id=c.client_id,
                      client=self.cognito, client_secret=c.secret)

    def srp_challenge(self, aws: AWSSRP) -> tuple[dict, dict]:
        """InitiateAuth USER_SRP_AUTH with pycognito's parameters: (auth_params, response)."""
        auth_params = aws.get_auth_params()
        resp = self.cognito.initiate_auth(ClientId=aws.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth_params)
        return auth_params, resp

    def respond_password_verifier(self, aws: AWSSRP, responses: dict, session: str | None = None) -> dict:
        kwargs = dict(ClientId=aws.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)
        if session:
            kwargs["Session"] = session
        return self.cognito.respond_to_auth_challenge(**kwargs)

    def pycognito_user(self, username: str, client: AppClient | None = None) -> pycognito.Cognito:
        """pycognito.Cognito pointed at the daemon; its token verification (iss = endpoint/poolId,
        aud = client id, RS256 against the JWKS) runs on every sign-in."""
        c = self._client(client)
        user = pycognito.Cognito(
            self.pool_id, c.client_id, username=username, client_secret=c.secret,
            boto3_client_kwargs=self.boto3_kwargs(),
        )
        # pycognito fetches the JWKS with a bare requests.get (no CA option); hand it the set the
        # daemon serves at {user_pool_url}/.well-known/jwks.json instead.
        user.pool_jwk = self.daemon.jwks(self.pool_id)
        assert user.user_pool_url == self.issuer
        return user


def make_signin_pool(daemon, cognito, pool_kwargs: dict | None = None, client_settings: dict | None = None) -> SigninPool:
    kwargs = dict(pool_kwargs or {})
    kwargs.setdefault("PoolName", f"signin-{uuid.uuid4().hex[:8]}")
    pool_id = cognito.create_user_pool(**kwargs)["UserPool"]["Id"]
    sp = SigninPool(daemon, cognito, pool_id, AppClient(""), AppClient(""))
    sp.public = sp.add_client(secret=False, **dict(client_settings or {}))
    sp.confidential = sp.add_client(secret=True, **dict(client_settings or {}))
    return sp


def delete_pool(cognito, pool_id: str) -> None:
    with contextlib.suppress(ClientError):
        cognito.delete_user_pool(UserPoolId=pool_id)


# ---------------------------------------------------------------------------------------------
# tokens
# ---------------------------------------------------------------------------------------------


class TokenVerifier:
    """PyJWT verification of Cognito tokens against the daemon's JWKS over verified TLS."""

    def __init__(self, daemon, issuer: str, jwks_uri: str | None = None):
        self.issuer = issuer
        self.jwks_uri = jwks_uri or f"{issuer}/.well-known/jwks.json"
        self.ssl_context = ssl.create_default_context(cafile=daemon.ca)
        self.jwks = jwt.PyJWKClient(self.jwks_uri, cache_keys=False, cache_jwk_set=False,
                                    ssl_context=self.ssl_context)

    def verify_id(self, token: str, client_id: str) -> dict:
        key = self.jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], audience=client_id, issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
        )
        assert claims["token_use"] == "id", claims
        return claims

    def verify_access(self, token: str, client_id: str) -> dict:
        key = self.jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "sub", "token_use", "client_id"], "verify_aud": False},
        )
        assert claims["token_use"] == "access", claims
        assert claims["client_id"] == client_id, claims
        return claims


def assert_token_pair(sp: SigninPool, result: dict, client: AppClient, username: str, sub: str | None = None,
                      expect_refresh: bool = True) -> tuple[dict, dict]:
    """Checks an AuthenticationResult and both JWTs as Cognito issues them; returns (id, access) claims."""
    assert result["TokenType"] == "Bearer", result
    assert isinstance(result["ExpiresIn"], int) and result["ExpiresIn"] > 0, result
    if expect_refresh:
        assert isinstance(result.get("RefreshToken"), str) and len(result["RefreshToken"]) >= 32, result
        assert TOKEN_CHARS_RE.match(result["RefreshToken"]), result["RefreshToken"][:60]
    verifier = TokenVerifier(sp.daemon, sp.issuer)
    id_claims = verifier.verify_id(result["IdToken"], client.client_id)
    access = verifier.verify_access(result["AccessToken"], client.client_id)
    now = time.time()
    for token, claims in ((result["IdToken"], id_claims), (result["AccessToken"], access)):
        header, _ = unverified(token)
        assert header["alg"] == "RS256" and header.get("kid"), header
        assert claims["iss"] == sp.issuer
        assert is_uuid(claims["sub"]), claims
        assert is_uuid(claims["jti"]) and is_uuid(claims["origin_jti"]) and is_uuid(claims["event_id"]), claims
        for k in ("auth_time", "iat", "exp"):
            assert isinstance(claims[k], int), (k, claims)
        assert claims["auth_time"] <= claims["iat"] <= now + 5, claims
        assert claims["exp"] > now, claims
    assert id_claims["aud"] == client.client_id and isinstance(id_claims["aud"], str)
    assert id_claims["cognito:username"] == username, id_claims
    assert "aud" not in access, access
    assert access["username"] == username, access
    assert access["scope"] == SIGNIN_SCOPE, access
    assert id_claims["sub"] == access["sub"]
    if sub is not None:
        assert id_claims["sub"] == sub
    assert id_claims["event_id"] == access["event_id"]
    assert id_claims["origin_jti"] == access["origin_jti"]
    assert id_claims["auth_time"] == access["auth_time"]
    assert id_claims["jti"] != access["jti"]
    assert access["exp"] - access["iat"] == result["ExpiresIn"], (access, result["ExpiresIn"])
    return id_claims, access


# ---------------------------------------------------------------------------------------------
# Node scripts
# ---------------------------------------------------------------------------------------------


def node_binary() -> str:
    found = shutil.which("node")
    assert found, "node is not installed: run scripts/setup"
    return found


def run_node(daemon, script: str, payload: dict, timeout: float = 90) -> dict:
    """Runs tests/e2e/js/<script> with `payload` as JSON on stdin and NODE_EXTRA_CA_CERTS = the
    daemon's CA; returns the JSON object it prints as its last stdout line."""
    assert (JS_DIR / "node_modules").is_dir(), f"{JS_DIR}/node_modules is missing: run scripts/setup"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env["NODE_EXTRA_CA_CERTS"] = daemon.ca
    proc = subprocess.run(
        [node_binary(), str(JS_DIR / script)], input=json.dumps(payload), cwd=JS_DIR, env=env,
        capture_output=True, text=True, timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0 and lines, (
        f"node {script} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return json.loads(lines[-1])
