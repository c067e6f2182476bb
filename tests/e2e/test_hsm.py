"""The pool signing keys live in the (Soft)HSM token: the private key is sensitive and never
extractable, its CKA_ID is the JWKS kid, its public half is what /.well-known/jwks.json serves, and
DeleteUserPool destroys it. Inspected with OpenSC's pkcs11-tool while the daemon is stopped
(SoftHSM keeps its own file state, so the daemon is stopped with SIGTERM first)."""

import base64
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from conftest import SOFTHSM_MODULE

PKCS11_TOOL = shutil.which("pkcs11-tool")

pytestmark = [
    pytest.mark.skipif(PKCS11_TOOL is None, reason="pkcs11-tool missing: apt-get install -y opensc"),
    pytest.mark.skipif(not os.path.exists(SOFTHSM_MODULE), reason=f"{SOFTHSM_MODULE} missing"),
]


def b64url_int(s: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


class Token:
    def __init__(self, daemon):
        self.env = dict(os.environ, SOFTHSM2_CONF=str(daemon.hsm_dir / "softhsm2.conf"))
        self.pin = (daemon.hsm_dir / "pin").read_text().strip()

    def run(self, *args, check=True):
        cmd = [PKCS11_TOOL, "--module", SOFTHSM_MODULE, "--token-label", "portcullis", "--login", "--pin", self.pin, *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, timeout=60)
        if check:
            assert proc.returncode == 0, f"{args}: {proc.returncode}\n{proc.stdout!r}\n{proc.stderr!r}"
        return proc

    def objects(self):
        """`--list-objects` parsed into dicts: kind ('Private Key Object; RSA'), label, id, usage, access."""
        out = self.run("--list-objects").stdout.decode(errors="replace")
        objects, current = [], None
        for line in out.splitlines():
            if not line.strip():
                continue
            if not line.startswith((" ", "\t")):
                if "Object" in line:
                    current = {"kind": line.strip()}
                    objects.append(current)
                else:
                    current = None
                continue
            if current is not None and ":" in line:
                key, _, value = line.strip().partition(":")
                current[key.strip().lower()] = value.strip()
        return objects

    def by_id(self, hex_id):
        return [o for o in self.objects() if o.get("id", "").lower() == hex_id.lower()]


def access_words(obj):
    return {w.strip() for w in obj.get("access", "").split(",") if w.strip()}


def test_signing_key_is_in_the_hsm_and_matches_the_jwks(make_daemon, tmp_path):
    d = make_daemon()
    c = d.client()
    pid = c.create_user_pool(PoolName="hsm")["UserPool"]["Id"]
    jwk = d.jwks(pid)["keys"][0]
    kid_hex = jwk["kid"].encode("utf-8").hex()
    assert d.stop() == 0

    token = Token(d)
    objs = token.by_id(kid_hex)
    kinds = sorted(o["kind"].split(";")[0] for o in objs)
    assert kinds == ["Private Key Object", "Public Key Object"], objs

    private = next(o for o in objs if o["kind"].startswith("Private Key Object"))
    assert "RSA" in private["kind"]
    words = access_words(private)
    assert "sensitive" in words, private
    assert "never extractable" in words, private
    assert "always sensitive" in words, private  # generated sensitive, never exported in the clear
    assert "extractable" not in words, private
    assert "sign" in private.get("usage", ""), private

    public = next(o for o in objs if o["kind"].startswith("Public Key Object"))
    assert "2048" in public["kind"], public

    # The public half read from the token is exactly the JWKS n/e.
    der_path = tmp_path / "pub.der"
    token.run("--read-object", "--type", "pubkey", "--id", kid_hex, "--output-file", str(der_path))
    key = load_der_public_key(der_path.read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    numbers = key.public_numbers()
    assert numbers.n == b64url_int(jwk["n"])
    assert numbers.e == b64url_int(jwk["e"])
    assert key.key_size == 2048

    # The private half cannot be read out of the token. (OpenSC 0.23's pkcs11-tool refuses to
    # read any private key, so this is a weak check; the Access flags above are the real one.)
    priv_path = tmp_path / "priv.der"
    proc = token.run("--read-object", "--type", "privkey", "--id", kid_hex, "--output-file", str(priv_path),
                     check=False)
    got_key_material = priv_path.exists() and priv_path.stat().st_size > 0
    assert not got_key_material, "pkcs11-tool exported the private signing key"
    assert proc.returncode != 0 or b"not" in (proc.stdout + proc.stderr), (proc.stdout, proc.stderr)

    # The key survives the stop: the restarted daemon serves the same JWKS.
    d.start()
    assert d.jwks(pid)["keys"][0] == jwk


def test_signing_key_is_usable_only_for_signing(make_daemon):
    """Least privilege for an HSM key (hardening, not visible to Cognito clients): the JWT signing
    key is created with CKA_SIGN only. Without an explicit CKA_DECRYPT/CKA_UNWRAP = false, SoftHSM
    defaults them to true, so the private key could also decrypt and unwrap (import) keys."""
    d = make_daemon()
    pid = d.client().create_user_pool(PoolName="usage")["UserPool"]["Id"]
    kid_hex = d.jwks(pid)["keys"][0]["kid"].encode().hex()
    assert d.stop() == 0
    objs = Token(d).by_id(kid_hex)
    private = next(o for o in objs if o["kind"].startswith("Private Key Object"))
    public = next(o for o in objs if o["kind"].startswith("Public Key Object"))
    usage = {u.strip() for u in private.get("usage", "").split(",") if u.strip()}
    assert usage == {"sign"}, private
    usage = {u.strip() for u in public.get("usage", "").split(",") if u.strip()}
    assert usage <= {"verify"}, public


def test_each_pool_has_its_own_key_and_delete_destroys_it(make_daemon):
    d = make_daemon()
    c = d.client()
    doomed = c.create_user_pool(PoolName="doomed")["UserPool"]["Id"]
    kept = c.create_user_pool(PoolName="kept")["UserPool"]["Id"]
    doomed_hex = d.jwks(doomed)["keys"][0]["kid"].encode().hex()
    kept_hex = d.jwks(kept)["keys"][0]["kid"].encode().hex()
    assert doomed_hex != kept_hex
    assert d.stop() == 0
    token = Token(d)
    assert len(token.by_id(doomed_hex)) == 2
    assert len(token.by_id(kept_hex)) == 2

    d.start()
    c = d.client()
    c.delete_user_pool(UserPoolId=doomed)
    assert d.get(f"/{doomed}/.well-known/jwks.json").status_code == 404
    assert d.stop() == 0

    assert token.by_id(doomed_hex) == [], "DeleteUserPool left the signing key in the HSM"
    assert len(token.by_id(kept_hex)) == 2
    # No key objects other than the kept pool's pair and secret keys (e.g. the sealing key).
    leftovers = [o for o in token.objects()
                 if o["kind"].startswith(("Private Key Object", "Public Key Object")) and o.get("id") != kept_hex]
    assert leftovers == []


def test_secret_sealing_key_is_not_extractable(make_daemon):
    """Client secrets are sealed under an AES key in the token; it must not be extractable either."""
    d = make_daemon()
    c = d.client()
    pid = c.create_user_pool(PoolName="sealed")["UserPool"]["Id"]
    c.create_user_pool_client(UserPoolId=pid, ClientName="s", GenerateSecret=True)
    assert d.stop() == 0
    secrets = [o for o in Token(d).objects() if o["kind"].startswith("Secret Key Object")]
    assert secrets, "no secret key object in the token"
    for o in secrets:
        words = access_words(o)
        assert "sensitive" in words and "never extractable" in words, o
