//! Passwords: the pool's password policy (checked on every set, with Cognito's messages), the
//! generation of temporary passwords, and the sealing of secrets (SRP verifiers, codes, messages) at rest.
//!
//! Verifiers are sealed with AES-256-GCM under a data key that is itself sealed by the HSM's
//! AES key (envelope encryption): a copy of the RocksDB directory alone allows no offline guessing.
//!
//! Next to v = g^x the sealed value keeps a check tag, HMAC-SHA256(check key, x), with the check
//! key derived from the data key: USER_PASSWORD_AUTH and ChangePassword compare tags (two SHA-256
//! and one HMAC) instead of recomputing g^x (a 3072-bit exponentiation, ~0.2 ms). The tag is
//! sealed like v and, like v, is no password equivalent; without the data key it checks nothing.

use crypto_bigint::zeroize::{Zeroize, Zeroizing};
use rand::seq::SliceRandom;
use rand::Rng;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

use super::srp::{pad_hex_bytes, password_exponent, SrpVerifier};
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::SealedVerifier;

/// The characters Cognito counts as symbols.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// A pool's `Policies.PasswordPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub minimum_length: usize,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: i64,
}

impl PasswordPolicy {
    /// Reads the policy from a pool's settings (Cognito's defaults for what is missing).
    pub fn of_pool(settings: &Map<String, Value>) -> Self {
        let policy = settings.get("Policies").and_then(|p| p.get("PasswordPolicy"));
        let flag = |name: &str| policy.and_then(|p| p.get(name)).and_then(Value::as_bool).unwrap_or(false);
        let number =
            |name: &str, default: i64| policy.and_then(|p| p.get(name)).and_then(Value::as_i64).unwrap_or(default);
        Self {
            minimum_length: usize::try_from(number("MinimumLength", 8)).unwrap_or(8),
            require_uppercase: flag("RequireUppercase"),
            require_lowercase: flag("RequireLowercase"),
            require_numbers: flag("RequireNumbers"),
            require_symbols: flag("RequireSymbols"),
            // The older `AdminCreateUserConfig.UnusedAccountValidityDays` applies when the policy
            // does not say (Cognito replaced it with the policy member).
            temporary_password_validity_days: number(
                "TemporaryPasswordValidityDays",
                settings
                    .get("AdminCreateUserConfig")
                    .and_then(|c| c.get("UnusedAccountValidityDays"))
                    .and_then(Value::as_i64)
                    .unwrap_or(7),
            ),
        }
    }

    /// `InvalidPasswordException` with Cognito's message for the first rule `password` breaks.
    pub fn check(&self, password: &str) -> Result<()> {
        let fail = |why: &str| {
            Err(Error::new(ErrorKind::InvalidPassword, format!("Password did not conform with policy: {why}")))
        };
        if password.chars().count() < self.minimum_length {
            return fail("Password not long enough");
        }
        if self.require_lowercase && !password.chars().any(|c| c.is_lowercase()) {
            return fail("Password must have lowercase characters");
        }
        if self.require_uppercase && !password.chars().any(|c| c.is_uppercase()) {
            return fail("Password must have uppercase characters");
        }
        if self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
            return fail("Password must have numeric characters");
        }
        if self.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
            return fail("Password must have symbol characters");
        }
        Ok(())
    }

    /// A random password that satisfies this policy (AdminCreateUser without TemporaryPassword).
    pub fn generate_temporary(&self) -> String {
        const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
        const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        const DIGITS: &[u8] = b"23456789";
        const PUNCT: &[u8] = b"!#%&*+-=?@^_";
        let mut rng = rand::rngs::OsRng;
        let mut pick = |set: &[u8]| char::from(set[rng.gen_range(0..set.len())]);
        let mut chars: Vec<char> = vec![pick(LOWER), pick(UPPER), pick(DIGITS), pick(PUNCT)];
        let all: Vec<u8> = [LOWER, UPPER, DIGITS, PUNCT].concat();
        while chars.len() < self.minimum_length.max(12) {
            chars.push(pick(&all));
        }
        chars.shuffle(&mut rand::rngs::OsRng);
        chars.into_iter().collect()
    }
}

/// Seals and opens secrets at rest (SRP verifiers, pending codes, queued messages) with the
/// directory's data key, which the HSM seals. Every sealed value is bound to a context string
/// (the record it belongs to), so a sealed value copied elsewhere does not open.
pub struct DataCipher {
    key: LessSafeKey,
    rng: SystemRandom,
    /// Keys the password check tags.
    check_key: hmac::Key,
    /// Whether every sealed verifier of this directory has a check tag, so that every password
    /// check (including the phantom one for unknown names) compares tags and all take the same
    /// time. `false` for a directory with verifiers sealed before tags existed: all checks
    /// recompute g^x then.
    checks_by_tag: bool,
}

/// Format byte of a sealed value: `0x01 || nonce(12) || AES-GCM(plaintext) || tag`. A verifier's
/// plaintext is `salt_len(1) || salt || v(384) || check_tag(32)` (without the tag when sealed
/// before tags existed).
const SEALED_V1: u8 = 1;
/// Bytes of v in a sealed verifier.
const VERIFIER_LEN: usize = 384;
/// Bytes of a password check tag (HMAC-SHA256).
const CHECK_TAG_LEN: usize = 32;
/// Derives the check key from the data key.
const CHECK_KEY_LABEL: &[u8] = b"portcullis/password-check-tag/v1";

/// What x is computed from besides the salt: the pool's short name, USER_ID_FOR_SRP and the password.
#[derive(Clone, Copy)]
pub struct PasswordOf<'a> {
    pub pool_short: &'a str,
    pub user_id_for_srp: &'a str,
    pub password: &'a str,
}

/// A stored password opened: the SRP verifier (for USER_SRP_AUTH) and its check tag, if sealed with one.
pub struct StoredPassword {
    pub verifier: SrpVerifier,
    check_tag: Option<[u8; CHECK_TAG_LEN]>,
}

/// How a presented password is checked (on the worker pool; see [`DataCipher::check_of`]).
pub enum PasswordCheck {
    /// HMAC(check key, x) compared with the stored tag in constant time.
    Tag { key: hmac::Key, salt: Vec<u8>, tag: [u8; CHECK_TAG_LEN] },
    /// g^x recomputed and compared with v in constant time.
    Verifier(SrpVerifier),
}

impl PasswordCheck {
    /// A tag check (a hash and an HMAC, about a microsecond), cheap enough for the async reactor;
    /// a g^x recomputation (0.2 ms) belongs on the worker pool.
    pub fn is_cheap(&self) -> bool {
        matches!(self, Self::Tag { .. })
    }

    pub fn matches(&self, of: PasswordOf<'_>) -> bool {
        match self {
            Self::Tag { key, salt, tag } => hmac::verify(key, check_input(of, salt).as_slice(), tag).is_ok(),
            Self::Verifier(v) => v.matches_password(of.pool_short, of.user_id_for_srp, of.password),
        }
    }
}

/// x as 32 big-endian bytes, wiped on drop.
fn check_input(of: PasswordOf<'_>, salt: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut x = password_exponent(of.pool_short, of.user_id_for_srp, of.password, &pad_hex_bytes(salt));
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(&x.to_be_bytes());
    x.zeroize();
    bytes
}

impl DataCipher {
    /// A fresh 256-bit data key (to be sealed by the HSM and stored).
    pub fn generate_data_key() -> Result<[u8; 32]> {
        let mut key = [0u8; 32];
        SystemRandom::new().fill(&mut key).map_err(|_| Error::internal("data key", "no randomness"))?;
        Ok(key)
    }

    /// `checks_by_tag`: every sealed verifier of the directory has a check tag (see the field).
    pub fn new(data_key: &[u8], checks_by_tag: bool) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, data_key).map_err(|_| Error::internal("data key", "bad length"))?;
        let check_key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, data_key), CHECK_KEY_LABEL);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
            check_key: hmac::Key::new(hmac::HMAC_SHA256, check_key.as_ref()),
            checks_by_tag,
        })
    }

    /// Seals `plain`, binding `context` as associated data.
    pub fn seal_bytes(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| Error::internal("sealing", "no randomness"))?;
        let mut buf = Vec::with_capacity(1 + NONCE_LEN + plain.len() + 16);
        buf.push(SEALED_V1);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plain);
        let mut body = buf.split_off(1 + NONCE_LEN);
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| Error::internal("sealing", "aead"))?;
        buf.extend_from_slice(&body);
        Ok(buf)
    }

    /// Opens what [`DataCipher::seal_bytes`] produced for the same `context`.
    pub fn open_bytes(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let bad = || Error::internal("opening sealed data", "corrupt or foreign sealed value");
        let (&format, rest) = sealed.split_first().ok_or_else(bad)?;
        if format != SEALED_V1 || rest.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut buf = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf).map_err(|_| bad())?;
        Ok(plain.to_vec())
    }

    /// Seals a verifier of the password `of` with its check tag; `context` (pool id and `sub`) is
    /// bound as associated data, so a sealed verifier copied onto another user does not open.
    pub fn seal(&self, context: &str, verifier: &SrpVerifier, of: PasswordOf<'_>) -> Result<SealedVerifier> {
        let salt_len = u8::try_from(verifier.salt.len()).map_err(|_| Error::internal("sealing verifier", "salt"))?;
        let tag = hmac::sign(&self.check_key, check_input(of, &verifier.salt).as_slice());
        let mut plain = Vec::with_capacity(1 + verifier.salt.len() + VERIFIER_LEN + CHECK_TAG_LEN);
        plain.push(salt_len);
        plain.extend_from_slice(&verifier.salt);
        plain.extend_from_slice(&verifier.verifier);
        plain.extend_from_slice(tag.as_ref());
        Ok(SealedVerifier::from_bytes(&self.seal_bytes(context, &plain)?))
    }

    /// Opens what [`DataCipher::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &SealedVerifier) -> Result<StoredPassword> {
        let bad = || Error::internal("opening verifier", "corrupt or foreign sealed verifier");
        let plain = self.open_bytes(context, &sealed.to_bytes().ok_or_else(bad)?)?;
        let (&salt_len, rest) = plain.split_first().ok_or_else(bad)?;
        let salt_len = usize::from(salt_len);
        if rest.len() < salt_len + VERIFIER_LEN {
            return Err(bad());
        }
        let (salt, rest) = rest.split_at(salt_len);
        let (v, tag) = rest.split_at(VERIFIER_LEN);
        let check_tag = match tag.len() {
            0 => None,
            CHECK_TAG_LEN => tag.try_into().ok(),
            _ => return Err(bad()),
        };
        Ok(StoredPassword { verifier: SrpVerifier::from_parts(salt, v).map_err(|_| bad())?, check_tag })
    }

    /// How to check a password against `stored`: by its tag when the whole directory checks by
    /// tag, else by recomputing g^x.
    pub fn check_of(&self, stored: StoredPassword) -> PasswordCheck {
        match stored.check_tag {
            Some(tag) if self.checks_by_tag => {
                PasswordCheck::Tag { key: self.check_key.clone(), salt: stored.verifier.salt, tag }
            }
            _ => PasswordCheck::Verifier(stored.verifier),
        }
    }

    /// The check for a name that does not exist: the same work as [`DataCipher::check_of`] a real
    /// user, never a match. `phantom` is the phantom verifier shown for the name.
    pub fn phantom_check(&self, phantom: SrpVerifier, unknowable_tag: [u8; CHECK_TAG_LEN]) -> PasswordCheck {
        match self.checks_by_tag {
            true => PasswordCheck::Tag { key: self.check_key.clone(), salt: phantom.salt, tag: unknowable_tag },
            false => PasswordCheck::Verifier(phantom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_last_the_policy_days_else_the_unused_account_days() {
        let settings = |v: Value| v.as_object().cloned().unwrap_or_default();
        let both = settings(serde_json::json!({
            "Policies": {"PasswordPolicy": {"TemporaryPasswordValidityDays": 3}},
            "AdminCreateUserConfig": {"UnusedAccountValidityDays": 10},
        }));
        assert_eq!(PasswordPolicy::of_pool(&both).temporary_password_validity_days, 3);
        let old_only = settings(serde_json::json!({"AdminCreateUserConfig": {"UnusedAccountValidityDays": 10}}));
        assert_eq!(PasswordPolicy::of_pool(&old_only).temporary_password_validity_days, 10);
        assert_eq!(PasswordPolicy::of_pool(&Map::new()).temporary_password_validity_days, 7);
    }

    fn policy(json: Value) -> PasswordPolicy {
        let mut settings = Map::new();
        settings.insert("Policies".into(), serde_json::json!({ "PasswordPolicy": json }));
        PasswordPolicy::of_pool(&settings)
    }

    #[test]
    fn each_rule_has_cognitos_message() {
        let p = policy(serde_json::json!({"MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
            "RequireNumbers": true, "RequireSymbols": true}));
        let msg = |pw: &str| p.check(pw).unwrap_err().message;
        assert_eq!(msg("Ab1!"), "Password did not conform with policy: Password not long enough");
        assert_eq!(msg("ABCDEFG1!"), "Password did not conform with policy: Password must have lowercase characters");
        assert_eq!(msg("abcdefg1!"), "Password did not conform with policy: Password must have uppercase characters");
        assert_eq!(msg("Abcdefgh!"), "Password did not conform with policy: Password must have numeric characters");
        assert_eq!(msg("Abcdefgh1"), "Password did not conform with policy: Password must have symbol characters");
        assert!(p.check("Abcdefg1!").is_ok());
        assert_eq!(p.check("x").unwrap_err().kind, ErrorKind::InvalidPassword);
    }

    #[test]
    fn a_lenient_policy_accepts_plain_passwords_and_generated_ones_pass_strict_ones() {
        assert!(policy(serde_json::json!({"MinimumLength": 6})).check("aaaaaa").is_ok());
        let strict = policy(serde_json::json!({"MinimumLength": 20, "RequireUppercase": true,
            "RequireLowercase": true, "RequireNumbers": true, "RequireSymbols": true}));
        for _ in 0..50 {
            let pw = strict.generate_temporary();
            assert!(strict.check(&pw).is_ok(), "{pw}");
        }
    }

    const ALICE: PasswordOf<'static> =
        PasswordOf { pool_short: "AbCdEfGhI", user_id_for_srp: "alice", password: "Correct-Horse-9!" };

    fn sealed_alice(cipher: &DataCipher) -> (SrpVerifier, SealedVerifier) {
        let verifier = SrpVerifier::generate(ALICE.pool_short, ALICE.user_id_for_srp, ALICE.password).unwrap();
        let sealed = cipher.seal("pool\0sub-1", &verifier, ALICE).unwrap();
        (verifier, sealed)
    }

    #[test]
    fn sealed_verifiers_open_only_in_their_context() {
        let cipher = DataCipher::new(&DataCipher::generate_data_key().unwrap(), true).unwrap();
        let (verifier, sealed) = sealed_alice(&cipher);
        let bytes = sealed.to_bytes().unwrap();
        assert!(!bytes.windows(verifier.verifier.len()).any(|w| w == verifier.verifier.as_slice()));
        let opened = cipher.open("pool\0sub-1", &sealed).unwrap();
        assert_eq!(opened.verifier, verifier);
        assert!(opened.check_tag.is_some());
        assert!(cipher.open("pool\0sub-2", &sealed).is_err());
        let mut tampered = bytes.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(cipher.open("pool\0sub-1", &SealedVerifier::from_bytes(&tampered)).is_err());
    }

    #[test]
    fn a_tag_check_accepts_the_password_and_nothing_else() {
        let cipher = DataCipher::new(&DataCipher::generate_data_key().unwrap(), true).unwrap();
        let (_, sealed) = sealed_alice(&cipher);
        let check = cipher.check_of(cipher.open("pool\0sub-1", &sealed).unwrap());
        assert!(matches!(check, PasswordCheck::Tag { .. }));
        assert!(check.matches(ALICE));
        assert!(!check.matches(PasswordOf { password: "Correct-Horse-9?", ..ALICE }));
        assert!(!check.matches(PasswordOf { user_id_for_srp: "bob", ..ALICE }));
        assert!(!check.matches(PasswordOf { pool_short: "XyZ", ..ALICE }));
        // Another directory's data key derives another check key.
        let other = DataCipher::new(&DataCipher::generate_data_key().unwrap(), true).unwrap();
        let foreign = PasswordCheck::Tag {
            key: other.check_key.clone(),
            salt: cipher.open("pool\0sub-1", &sealed).unwrap().verifier.salt,
            tag: cipher.open("pool\0sub-1", &sealed).unwrap().check_tag.unwrap(),
        };
        assert!(!foreign.matches(ALICE));
    }

    #[test]
    fn verifiers_sealed_before_tags_and_directories_that_have_them_check_by_g_to_the_x() {
        let key = DataCipher::generate_data_key().unwrap();
        let cipher = DataCipher::new(&key, true).unwrap();
        let verifier = SrpVerifier::generate(ALICE.pool_short, ALICE.user_id_for_srp, ALICE.password).unwrap();
        let mut plain = vec![u8::try_from(verifier.salt.len()).unwrap()];
        plain.extend_from_slice(&verifier.salt);
        plain.extend_from_slice(&verifier.verifier);
        let untagged = SealedVerifier::from_bytes(&cipher.seal_bytes("ctx", &plain).unwrap());
        let check = cipher.check_of(cipher.open("ctx", &untagged).unwrap());
        assert!(matches!(check, PasswordCheck::Verifier(_)));
        assert!(check.matches(ALICE));
        assert!(!check.matches(PasswordOf { password: "wrong", ..ALICE }));

        let mixed = DataCipher::new(&key, false).unwrap();
        let (_, tagged) = sealed_alice(&mixed);
        let check = mixed.check_of(mixed.open("pool\0sub-1", &tagged).unwrap());
        assert!(matches!(check, PasswordCheck::Verifier(_)));
        assert!(check.matches(ALICE));
        assert!(matches!(mixed.phantom_check(verifier.clone(), [0; 32]), PasswordCheck::Verifier(_)));
    }

    #[test]
    fn the_phantom_check_does_the_same_work_and_never_matches() {
        let cipher = DataCipher::new(&DataCipher::generate_data_key().unwrap(), true).unwrap();
        let (verifier, _) = sealed_alice(&cipher);
        let check = cipher.phantom_check(verifier, [9; 32]);
        assert!(matches!(check, PasswordCheck::Tag { .. }));
        assert!(!check.matches(ALICE));
    }
}
