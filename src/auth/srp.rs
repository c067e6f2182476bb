//! Cognito's SRP-6a variant (RFC 3526 3072-bit group, g = 2, SHA-256, padHex, "Caldera Derived Key" HKDF):
//! password verifiers, the server and client steps, PASSWORD_CLAIM_SIGNATURE, SECRET_HASH and TIMESTAMP.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::zeroize::Zeroize;
use crypto_bigint::{BoxedUint, Odd, Uint, U256, U3072};
use once_cell::sync::Lazy;
use rand::rngs::OsRng;
use rand::RngCore;
use ring::{digest, hmac};
use subtle::ConstantTimeEq;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset, Weekday};

use super::fixed_base::pow_g;
use super::modexp::pow_secret;

/// The RFC 3526 group-15 prime N, big-endian hex (384 bytes).
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// N as an integer; every group element is below it.
pub(super) const N: U3072 = U3072::from_be_hex(N_HEX);

/// N, checked odd at compile time.
const N_ODD: Odd<U3072> = Odd::<U3072>::from_be_hex(N_HEX);

/// The generator g = 2.
pub(super) const G: U3072 = U3072::from_u8(2);

/// k = H(padHex(N) || padHex(g)); a unit test recomputes it.
pub(super) const K_MULTIPLIER: U256 =
    U256::from_be_hex("538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6");

/// HKDF info string of Cognito's session key derivation.
const HKDF_INFO: &[u8] = b"Caldera Derived Key";

/// Longest SRP_A / SRP_B / SALT hex string accepted (N is 768 digits; leaves room for leading zeros).
const MAX_PUBLIC_HEX_LEN: usize = 1024;

/// Random bytes in the server secret b.
const SERVER_SECRET_BYTES: usize = 32;

/// Random bytes in a freshly generated salt.
const SALT_BYTES: usize = 16;

/// The group's parameters for Montgomery arithmetic, built once from N.
pub(super) static GROUP: Lazy<BoxedMontyParams> =
    Lazy::new(|| BoxedMontyParams::new_vartime(Odd::<BoxedUint>::from(&N_ODD)));

/// An element of Z/NZ in Montgomery form, for the products, sums and fixed-base powers of g (the exponentiations
/// with a variable base run on OpenSSL: `modexp`). crypto-bigint's heap-backed ("boxed") arithmetic is used because it is
/// compiled inside the dependency, so it runs optimised even in dev builds (about 4x faster there than the
/// const-generic types, which would be compiled at this crate's opt-level).
#[derive(Clone)]
pub(super) struct Element(BoxedMontyForm);

impl Element {
    pub(super) fn new(value: &U3072) -> Self {
        Self(BoxedMontyForm::new(BoxedUint::from(value), &GROUP))
    }

    pub(super) fn from_monty(form: BoxedMontyForm) -> Self {
        Self(form)
    }

    pub(super) fn into_monty(self) -> BoxedMontyForm {
        self.0
    }

    pub(super) fn mul(&self, rhs: &Self) -> Self {
        Self(self.0.mul(&rhs.0))
    }

    pub(super) fn add(&self, rhs: &Self) -> Self {
        Self(self.0.add(&rhs.0))
    }

    pub(super) fn sub(&self, rhs: &Self) -> Self {
        Self(self.0.sub(&rhs.0))
    }

    /// self^exponent, constant time in the exponent's value (its width, 256 bits, is public). The
    /// reference the OpenSSL exponentiation (`modexp`) and the fixed-base table are tested against.
    #[cfg(test)]
    pub(super) fn pow(&self, exponent: &U256) -> Self {
        let mut exponent = BoxedUint::from(exponent);
        let power = Self(self.0.pow(&exponent));
        exponent.zeroize();
        power
    }

    /// The element as an integer in 0..N.
    pub(super) fn retrieve(&self) -> U3072 {
        let mut boxed = self.0.retrieve();
        let mut value = U3072::ZERO;
        for (limb, boxed_limb) in value.as_mut_limbs().iter_mut().zip(boxed.as_limbs()) {
            *limb = *boxed_limb;
        }
        boxed.zeroize();
        value
    }
}

/// Why an SRP step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// A hex parameter (SRP_A, SRP_B, SALT) is empty, too long or not hexadecimal.
    #[error("SRP parameter is not valid hex")]
    InvalidHex,
    /// SRP_A is zero modulo N, or not below N.
    #[error("SRP_A is zero modulo N or not below N")]
    IllegalA,
    /// SRP_B is zero modulo N, or not below N.
    #[error("SRP_B is zero modulo N or not below N")]
    IllegalB,
    /// The scrambling parameter u = H(A || B) is zero.
    #[error("SRP scrambling parameter u is zero")]
    ZeroU,
    /// A stored or uploaded verifier is zero or not below N.
    #[error("SRP verifier is out of range")]
    InvalidVerifier,
    /// A client ephemeral secret is zero or longer than 256 bytes.
    #[error("SRP ephemeral secret is out of range")]
    InvalidSecret,
    /// SECRET_BLOCK is not standard base64.
    #[error("SECRET_BLOCK is not valid base64")]
    InvalidSecretBlock,
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Random,
    /// OpenSSL's big-number arithmetic failed (out of memory).
    #[error("big-number arithmetic failed")]
    Arithmetic,
}

/// A user's (or device's) password verifier: the salt and v = g^x mod N.
#[derive(Clone, PartialEq, Eq)]
pub struct SrpVerifier {
    /// `bytes(padHex(salt))`: minimal big-endian salt, plus a leading 0x00 when its top bit is set. The
    /// constructors store this form; the methods accept any big-endian encoding of the salt.
    pub salt: Vec<u8>,
    /// v = g^x mod N, big-endian, always 384 bytes.
    pub verifier: Vec<u8>,
}

impl SrpVerifier {
    /// Makes a verifier with 16 fresh random salt bytes (SignUp, AdminCreateUser, SetPassword, ChangePassword).
    ///
    /// # Errors
    /// [`SrpError::Random`] if the system RNG fails.
    pub fn generate(pool_name_short: &str, user_id_for_srp: &str, password: &str) -> Result<Self, SrpError> {
        let mut salt = [0u8; SALT_BYTES];
        OsRng.try_fill_bytes(&mut salt).map_err(|_| SrpError::Random)?;
        Ok(Self::compute(pool_name_short, user_id_for_srp, password, &salt))
    }

    /// Computes the verifier for a given salt. `salt` is any big-endian encoding of the salt integer; it is
    /// stored in padHex form. For devices pass `DeviceGroupKey`, `DeviceKey` and the device's random password.
    pub fn compute(pool_name_short: &str, user_id_for_srp: &str, password: &str, salt: &[u8]) -> Self {
        let salt = pad_hex_bytes(salt);
        let verifier = password_verifier(pool_name_short, user_id_for_srp, password, &salt);
        Self { salt, verifier: verifier.to_be_bytes().to_vec() }
    }

    /// Rebuilds a verifier from stored or uploaded bytes (e.g. ConfirmDevice's base64-decoded `Salt` and
    /// `PasswordVerifier`): the salt is normalised to padHex form, v to 384 bytes.
    ///
    /// # Errors
    /// [`SrpError::InvalidVerifier`] if v is zero or not below N.
    pub fn from_parts(salt: &[u8], verifier: &[u8]) -> Result<Self, SrpError> {
        let v = group_element(verifier).ok_or(SrpError::InvalidVerifier)?;
        Ok(Self { salt: pad_hex_bytes(salt), verifier: v.to_be_bytes().to_vec() })
    }

    /// The `SALT` challenge parameter: padHex of the salt, lowercase.
    pub fn salt_hex(&self) -> String {
        hex::encode(pad_hex_bytes(&self.salt))
    }

    /// ConfirmDevice's `DeviceSecretVerifierConfig.Salt`: base64 of padHex(salt).
    pub fn salt_b64(&self) -> String {
        BASE64.encode(pad_hex_bytes(&self.salt))
    }

    /// ConfirmDevice's `DeviceSecretVerifierConfig.PasswordVerifier`: base64 of padHex(v).
    pub fn password_verifier_b64(&self) -> String {
        BASE64.encode(pad_hex_bytes(&self.verifier))
    }

    /// Whether `password` produces this verifier (USER_PASSWORD_AUTH, ChangePassword): recomputes g^x and
    /// compares in constant time.
    pub fn matches_password(&self, pool_name_short: &str, user_id_for_srp: &str, password: &str) -> bool {
        let candidate = password_verifier(pool_name_short, user_id_for_srp, password, &pad_hex_bytes(&self.salt));
        candidate.to_be_bytes().as_slice().ct_eq(&self.verifier).into()
    }
}

impl fmt::Debug for SrpVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrpVerifier").field("salt", &self.salt_hex()).field("verifier", &"<redacted>").finish()
    }
}

/// The 16-byte session key K that signs PASSWORD_CLAIM_SIGNATURE. Wiped on drop, never printed.
#[derive(Clone)]
pub struct SessionKey([u8; 16]);

impl SessionKey {
    /// Wraps key bytes (e.g. after opening a sealed SECRET_BLOCK).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw key, for sealing into server-side state.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Drop for SessionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// The server's answer to SRP_A: the `SRP_B` challenge parameter and the key the client must prove.
#[derive(Debug)]
pub struct ServerChallenge {
    /// `hex(B)`: minimal lowercase hex, as Cognito sends it.
    pub srp_b_hex: String,
    /// K, to keep (sealed) until the PASSWORD_VERIFIER response arrives.
    pub session_key: SessionKey,
}

/// The server step of USER_SRP_AUTH / DEVICE_SRP_AUTH: parses SRP_A (any case), picks a random 256-bit b,
/// computes B = k·v + g^b, u = H(padHex(A) || padHex(B)), S = (A·v^u)^b and K.
///
/// # Errors
/// [`SrpError::InvalidHex`] / [`SrpError::IllegalA`] for a malformed A or A mod N == 0 or A ≥ N,
/// [`SrpError::InvalidVerifier`] for a corrupt verifier, [`SrpError::ZeroU`], [`SrpError::Random`].
pub fn server_challenge(verifier: &SrpVerifier, srp_a_hex: &str) -> Result<ServerChallenge, SrpError> {
    let a = parse_group_hex(srp_a_hex, SrpError::IllegalA)?;
    let v = group_element(&verifier.verifier).ok_or(SrpError::InvalidVerifier)?;
    // B = 0 has probability ~2^-3072; should it happen, draw another b rather than fail.
    for _ in 0..4 {
        let mut b_bytes = [0u8; SERVER_SECRET_BYTES];
        OsRng.try_fill_bytes(&mut b_bytes).map_err(|_| SrpError::Random)?;
        // The top bit set: every b is 256 bits long, so the exponentiation's length tells nothing.
        b_bytes[0] |= 0x80;
        let mut b = U256::from_be_slice(&b_bytes);
        b_bytes.zeroize();
        let outcome = challenge_with_secret(&a, &v, &b);
        b.zeroize();
        if !matches!(outcome, Err(SrpError::IllegalB)) {
            return outcome;
        }
    }
    Err(SrpError::IllegalB)
}

/// The server math for a parsed A, verifier v and secret b.
fn challenge_with_secret(a: &U3072, v: &U3072, b: &U256) -> Result<ServerChallenge, SrpError> {
    let k_times_v = Element::new(&K_MULTIPLIER.resize()).mul(&Element::new(v));
    let big_b = k_times_v.add(&pow_g(b)).retrieve();
    if big_b == U3072::ZERO {
        return Err(SrpError::IllegalB);
    }
    let u = scrambler(a, &big_b)?;
    let mut v_to_u = pow_secret(v, &u.to_be_bytes())?;
    let mut base = Element::new(a).mul(&Element::new(&v_to_u)).retrieve();
    let mut b_bytes = b.to_be_bytes();
    let premaster = pow_secret(&base, &b_bytes);
    v_to_u.zeroize();
    base.zeroize();
    b_bytes.zeroize();
    let mut premaster = premaster?;
    let session_key = derive_session_key(&u, &premaster);
    premaster.zeroize();
    Ok(ServerChallenge { srp_b_hex: minimal_hex(&big_b.to_be_bytes()), session_key })
}

/// PASSWORD_CLAIM_SIGNATURE = base64(HMAC-SHA256(K, poolNameShort || userIdForSrp || secretBlock || timestamp)).
/// For devices pass `DeviceGroupKey` as `pool_name_short` and `DeviceKey` as `user_id_for_srp`.
pub fn password_claim_signature(
    key: &SessionKey,
    pool_name_short: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        &claim_message(pool_name_short, user_id_for_srp, secret_block, timestamp),
    );
    BASE64.encode(tag.as_ref())
}

/// Checks a PASSWORD_CLAIM_SIGNATURE in constant time. `secret_block` is the base64-decoded SECRET_BLOCK and
/// `timestamp` the TIMESTAMP exactly as received. The signature must decode to exactly 32 bytes.
/// For DEVICE_PASSWORD_VERIFIER pass `DeviceGroupKey` as `pool_name_short` and `DeviceKey` as `user_id_for_srp`.
pub fn verify_password_claim(
    key: &SessionKey,
    pool_name_short: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
    claimed_signature_b64: &str,
) -> bool {
    let Some(claimed) = decode_sha256_b64(claimed_signature_b64) else {
        return false;
    };
    let message = claim_message(pool_name_short, user_id_for_srp, secret_block, timestamp);
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()), &message, &claimed).is_ok()
}

/// SECRET_HASH = base64(HMAC-SHA256(key = clientSecret, msg = username || clientId)).
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes());
    BASE64.encode(hmac::sign(&key, &[username.as_bytes(), client_id.as_bytes()].concat()).as_ref())
}

/// Whether a presented SECRET_HASH is right for `username` (the USERNAME of the same request); constant time.
pub fn secret_hash_matches(client_secret: &str, username: &str, client_id: &str, presented: &str) -> bool {
    let Some(presented) = decode_sha256_b64(presented) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes());
    hmac::verify(&key, &[username.as_bytes(), client_id.as_bytes()].concat(), &presented).is_ok()
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("Sun", Weekday::Sunday),
    ("Mon", Weekday::Monday),
    ("Tue", Weekday::Tuesday),
    ("Wed", Weekday::Wednesday),
    ("Thu", Weekday::Thursday),
    ("Fri", Weekday::Friday),
    ("Sat", Weekday::Saturday),
];

const MONTHS: [(&str, Month); 12] = [
    ("Jan", Month::January),
    ("Feb", Month::February),
    ("Mar", Month::March),
    ("Apr", Month::April),
    ("May", Month::May),
    ("Jun", Month::June),
    ("Jul", Month::July),
    ("Aug", Month::August),
    ("Sep", Month::September),
    ("Oct", Month::October),
    ("Nov", Month::November),
    ("Dec", Month::December),
];

/// Parses a TIMESTAMP such as `Wed Nov 4 09:05:01 UTC 2026`, only to check freshness (the HMAC uses the string
/// as received). Lenient: the day may be zero-padded and fields may be separated by several spaces; the weekday
/// must be a valid name but is not checked against the date.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let fields: Vec<&str> = s.split_ascii_whitespace().collect();
    let [weekday, month, day, clock, zone, year] = fields.as_slice() else {
        return None;
    };
    WEEKDAYS.iter().find(|(name, _)| name == weekday)?;
    let month = MONTHS.iter().find(|(name, _)| name == month)?.1;
    if *zone != "UTC" || day.len() > 2 || year.len() != 4 {
        return None;
    }
    let day: u8 = parse_digits(day)?;
    let year: i32 = parse_digits(year)?;
    let mut hms = clock.split(':');
    let (Some(hour), Some(minute), Some(second), None) = (hms.next(), hms.next(), hms.next(), hms.next()) else {
        return None;
    };
    if [hour, minute, second].iter().any(|part| part.len() != 2) {
        return None;
    }
    let time = Time::from_hms(parse_digits(hour)?, parse_digits(minute)?, parse_digits(second)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(date.with_time(time).assume_utc())
}

/// Formats a TIMESTAMP the way Cognito clients do: `Wed Nov 4 09:05:01 UTC 2026` (UTC, day not padded).
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let weekday = WEEKDAYS.iter().find(|(_, w)| *w == t.weekday()).map_or("", |(name, _)| name);
    let month = MONTHS.iter().find(|(_, m)| *m == t.month()).map_or("", |(name, _)| name);
    format!("{weekday} {month} {} {:02}:{:02}:{:02} UTC {:04}", t.day(), t.hour(), t.minute(), t.second(), t.year())
}

/// x = H(padHex(salt) || H(poolNameShort || userIdForSrp || ":" || password)), as a 256-bit integer.
pub(super) fn password_exponent(pool_name_short: &str, user_id_for_srp: &str, password: &str, salt_pad: &[u8]) -> U256 {
    let mut inner = digest::Context::new(&digest::SHA256);
    for part in [pool_name_short, user_id_for_srp, ":", password] {
        inner.update(part.as_bytes());
    }
    let inner = inner.finish();
    let mut outer = digest::Context::new(&digest::SHA256);
    outer.update(salt_pad);
    outer.update(inner.as_ref());
    U256::from_be_slice(outer.finish().as_ref())
}

/// v = g^x mod N, with constant-time exponentiation.
fn password_verifier(pool_name_short: &str, user_id_for_srp: &str, password: &str, salt_pad: &[u8]) -> U3072 {
    let mut x = password_exponent(pool_name_short, user_id_for_srp, password, salt_pad);
    let v = pow_g(&x).retrieve();
    x.zeroize();
    v
}

/// u = H(padHex(A) || padHex(B)); zero is refused.
pub(super) fn scrambler(a: &U3072, b: &U3072) -> Result<U256, SrpError> {
    let mut hash = digest::Context::new(&digest::SHA256);
    hash.update(&pad_hex_bytes(&a.to_be_bytes()));
    hash.update(&pad_hex_bytes(&b.to_be_bytes()));
    let u = U256::from_be_slice(hash.finish().as_ref());
    if u == U256::ZERO {
        return Err(SrpError::ZeroU);
    }
    Ok(u)
}

/// K = HKDF-SHA256(salt = padHex(u), ikm = padHex(S), info = "Caldera Derived Key", L = 16). L fits one block,
/// so Expand is a single HMAC over info || 0x01.
pub(super) fn derive_session_key(u: &U256, premaster: &U3072) -> SessionKey {
    let mut ikm = pad_hex_bytes(&premaster.to_be_bytes());
    let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &pad_hex_bytes(&u.to_be_bytes())), &ikm);
    ikm.zeroize();
    let okm = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()), &[HKDF_INFO, &[1u8]].concat());
    let mut key = [0u8; 16];
    key.copy_from_slice(&okm.as_ref()[..16]);
    SessionKey(key)
}

fn claim_message(pool_name_short: &str, user_id_for_srp: &str, secret_block: &[u8], timestamp: &str) -> Vec<u8> {
    [pool_name_short.as_bytes(), user_id_for_srp.as_bytes(), secret_block, timestamp.as_bytes()].concat()
}

/// Decodes standard base64 that must hold exactly one SHA-256 output.
fn decode_sha256_b64(s: &str) -> Option<Vec<u8>> {
    if s.len() != 44 {
        return None;
    }
    BASE64.decode(s).ok().filter(|bytes| bytes.len() == digest::SHA256_OUTPUT_LEN)
}

/// `bytes(padHex(n))` for big-endian n: minimal bytes, plus 0x00 when the top bit is set; zero is `[0x00]`.
pub(super) fn pad_hex_bytes(big_endian: &[u8]) -> Vec<u8> {
    let minimal = strip_leading_zeros(big_endian);
    let mut padded = Vec::with_capacity(minimal.len() + 1);
    if minimal.first().is_none_or(|byte| byte & 0x80 != 0) {
        padded.push(0);
    }
    padded.extend_from_slice(minimal);
    padded
}

/// `hex(n)`: lowercase, no leading zeros; zero is "0".
pub(super) fn minimal_hex(big_endian: &[u8]) -> String {
    let encoded = hex::encode(strip_leading_zeros(big_endian));
    match encoded.strip_prefix('0') {
        Some(rest) => rest.to_owned(),
        None if encoded.is_empty() => "0".to_owned(),
        None => encoded,
    }
}

pub(super) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&byte| byte != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Hex of any case and parity (odd lengths get a leading zero), bounded in length.
pub(super) fn decode_hex(s: &str) -> Result<Vec<u8>, SrpError> {
    if s.is_empty() || s.len() > MAX_PUBLIC_HEX_LEN {
        return Err(SrpError::InvalidHex);
    }
    let even = if s.len() % 2 == 1 { format!("0{s}") } else { s.to_owned() };
    hex::decode(even).map_err(|_| SrpError::InvalidHex)
}

/// Parses a public group element (SRP_A, SRP_B) and refuses 0 and anything ≥ N with `out_of_range`.
pub(super) fn parse_group_hex(s: &str, out_of_range: SrpError) -> Result<U3072, SrpError> {
    group_element(&decode_hex(s)?).ok_or(out_of_range)
}

/// A big-endian integer in 1..N, or None.
fn group_element(big_endian: &[u8]) -> Option<U3072> {
    uint_from_be(big_endian).filter(|value| *value != U3072::ZERO && *value < N)
}

/// A big-endian integer of any length (leading zeros allowed) if it fits in `Uint<LIMBS>`.
pub(super) fn uint_from_be<const LIMBS: usize>(big_endian: &[u8]) -> Option<Uint<LIMBS>> {
    let minimal = strip_leading_zeros(big_endian);
    let width = Uint::<LIMBS>::BYTES;
    if minimal.len() > width {
        return None;
    }
    let mut buffer = vec![0u8; width];
    buffer[width - minimal.len()..].copy_from_slice(minimal);
    let value = Uint::from_be_slice(&buffer);
    buffer.zeroize();
    Some(value)
}

fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::auth::srp_client::vectors::*;

    pub(in crate::auth) fn n_hex() -> String {
        N_HEX.to_lowercase()
    }

    fn big(hex_digits: &str) -> U3072 {
        parse_group_hex(hex_digits, SrpError::IllegalA).unwrap()
    }

    fn secret_b() -> U256 {
        U256::from_be_hex(B_SECRET_HEX)
    }

    fn user_verifier() -> SrpVerifier {
        SrpVerifier::compute(POOL_SHORT, USER, PASSWORD, &hex::decode(USER_SALT_HEX).unwrap())
    }

    fn secret_block() -> Vec<u8> {
        BASE64.decode(SECRET_BLOCK_B64).unwrap()
    }

    #[test]
    fn k_is_hash_of_padded_n_and_g() {
        let n_pad = pad_hex_bytes(&N.to_be_bytes());
        assert_eq!(n_pad.len(), 385);
        let k = digest::digest(&digest::SHA256, &[n_pad, pad_hex_bytes(&G.to_be_bytes())].concat());
        assert_eq!(hex::encode(k), hex::encode(K_MULTIPLIER.to_be_bytes()));
    }

    #[test]
    fn pad_hex_follows_cognito() {
        assert_eq!(hex::encode(pad_hex_bytes(&[0x14])), "14");
        assert_eq!(hex::encode(pad_hex_bytes(&[0xEC])), "00ec");
        assert_eq!(hex::encode(pad_hex_bytes(&[0x0A, 0xBC])), "0abc");
        assert_eq!(hex::encode(pad_hex_bytes(&[0, 0, 0x0A, 0xBC])), "0abc");
        assert_eq!(hex::encode(pad_hex_bytes(&[0, 0])), "00");
        assert_eq!(minimal_hex(&[0x0A, 0xBC]), "abc");
        assert_eq!(minimal_hex(&[0, 0]), "0");
    }

    #[test]
    fn user_vector_x_and_verifier() {
        let verifier = user_verifier();
        assert_eq!(verifier.salt_hex(), "009f3b6a2c4d5e6f708192a3b4c5d6e7f8");
        let x = password_exponent(POOL_SHORT, USER, PASSWORD, &verifier.salt);
        assert_eq!(minimal_hex(&x.to_be_bytes()), USER_X);
        assert_eq!(minimal_hex(&verifier.verifier), USER_V);
        assert_eq!(verifier.verifier.len(), 384);
    }

    #[test]
    fn user_vector_server_side() {
        let verifier = user_verifier();
        let a = big(USER_A);
        let v = big(&hex::encode(&verifier.verifier));
        let challenge = challenge_with_secret(&a, &v, &secret_b()).unwrap();
        assert_eq!(challenge.srp_b_hex, USER_B);
        let u = scrambler(&a, &big(USER_B)).unwrap();
        assert_eq!(minimal_hex(&u.to_be_bytes()), USER_U);
        let s = Element::new(&a).mul(&Element::new(&v).pow(&u)).pow(&secret_b()).retrieve();
        assert_eq!(minimal_hex(&s.to_be_bytes()), USER_S);
        assert_eq!(hex::encode(challenge.session_key.as_bytes()), USER_K);

        let key = &challenge.session_key;
        let block = secret_block();
        assert_eq!(password_claim_signature(key, POOL_SHORT, USER, &block, TIMESTAMP), USER_SIGNATURE);
        assert!(verify_password_claim(key, POOL_SHORT, USER, &block, TIMESTAMP, USER_SIGNATURE));
    }

    #[test]
    fn device_vector_server_side() {
        let salt = hex::decode(DEVICE_SALT_HEX).unwrap();
        let verifier = SrpVerifier::compute(DEVICE_GROUP_KEY, DEVICE_KEY, DEVICE_PASSWORD, &salt);
        assert_eq!(verifier.password_verifier_b64(), DEVICE_VERIFIER_B64);
        assert_eq!(verifier.salt_b64(), DEVICE_SALT_B64);
        assert_eq!(verifier.salt_hex(), DEVICE_SALT_HEX);

        // The server stores what ConfirmDevice uploads.
        let uploaded = SrpVerifier::from_parts(
            &BASE64.decode(DEVICE_SALT_B64).unwrap(),
            &BASE64.decode(DEVICE_VERIFIER_B64).unwrap(),
        )
        .unwrap();
        assert_eq!(uploaded, verifier);
        assert!(uploaded.matches_password(DEVICE_GROUP_KEY, DEVICE_KEY, DEVICE_PASSWORD));

        let v = big(&hex::encode(&uploaded.verifier));
        let challenge = challenge_with_secret(&big(USER_A), &v, &secret_b()).unwrap();
        assert_eq!(challenge.srp_b_hex, DEVICE_B);
        let u = scrambler(&big(USER_A), &big(DEVICE_B)).unwrap();
        assert_eq!(minimal_hex(&u.to_be_bytes()), DEVICE_U);
        assert_eq!(hex::encode(challenge.session_key.as_bytes()), DEVICE_K);
        let (key, block) = (&challenge.session_key, secret_block());
        assert!(verify_password_claim(key, DEVICE_GROUP_KEY, DEVICE_KEY, &block, TIMESTAMP, DEVICE_SIGNATURE));
    }

    #[test]
    fn srp_a_is_parsed_case_insensitively() {
        assert_eq!(big(&USER_A.to_uppercase()), big(USER_A));
        assert_eq!(big(&format!("000{USER_A}")), big(USER_A));
        assert_eq!(big("abc"), U3072::from_u16(0xabc));
        assert!(server_challenge(&user_verifier(), &USER_A.to_uppercase()).is_ok());
    }

    #[test]
    fn illegal_a_is_rejected() {
        let verifier = user_verifier();
        let n_hex = N_HEX.to_lowercase();
        assert_eq!(server_challenge(&verifier, "0").unwrap_err(), SrpError::IllegalA);
        assert_eq!(server_challenge(&verifier, "0000").unwrap_err(), SrpError::IllegalA);
        assert_eq!(server_challenge(&verifier, &n_hex).unwrap_err(), SrpError::IllegalA);
        assert_eq!(server_challenge(&verifier, &format!("{n_hex}00")).unwrap_err(), SrpError::IllegalA);
        assert_eq!(server_challenge(&verifier, "").unwrap_err(), SrpError::InvalidHex);
        assert_eq!(server_challenge(&verifier, "12xz").unwrap_err(), SrpError::InvalidHex);
        assert_eq!(server_challenge(&verifier, &"1".repeat(2000)).unwrap_err(), SrpError::InvalidHex);
    }

    #[test]
    fn wrong_signatures_are_rejected() {
        let key = SessionKey::from_bytes(hex::decode(USER_K).unwrap().try_into().unwrap());
        let block = secret_block();
        let verify = |signature: &str| verify_password_claim(&key, POOL_SHORT, USER, &block, TIMESTAMP, signature);
        assert!(verify(USER_SIGNATURE));
        assert!(!verify("GtghlYPmfq2gm/3i49esia96eU6ciuBZHkFNzEBfbZA="));
        assert!(!verify(&BASE64.encode([0u8; 31])));
        assert!(!verify(&BASE64.encode([0u8; 33])));
        assert!(!verify(""));
        assert!(!verify("not base64 at all, not base64 at all, not ba"));
        assert!(!verify_password_claim(&key, POOL_SHORT, "bob", &block, TIMESTAMP, USER_SIGNATURE));
        assert!(!verify_password_claim(&key, POOL_SHORT, USER, &block, "Wed Nov 04 09:05:01 UTC 2026", USER_SIGNATURE));
        assert_eq!(format!("{key:?}"), "SessionKey(<redacted>)");
    }

    #[test]
    fn secret_hash_vectors() {
        let (client_id, secret) =
            ("1example23456789abcdefghij", "s3cr3t-example-client-secret-0123456789abcdefghijklmn");
        assert_eq!(secret_hash(secret, "alice", client_id), "dpaKZkHy2P1mbqAktJTL32u09D9WP9MIyuV7h9of37E=");
        let email_hash = "zmxgzS21AWGpWa6j7VbSV+aBRKGcTTYScQDaerc7sKA=";
        assert_eq!(secret_hash(secret, "alice@example.com", client_id), email_hash);
        assert!(secret_hash_matches(secret, "alice@example.com", client_id, email_hash));
        assert!(!secret_hash_matches(secret, "alice", client_id, email_hash));
        assert!(!secret_hash_matches(secret, "alice", client_id, ""));
        assert!(!secret_hash_matches(secret, "alice", client_id, "dpaKZkHy2P1mbqAktJTL32u09D9WP9MIyuV7h9of37E"));
    }

    #[test]
    fn timestamps_parse_and_format() {
        let expected = time::macros::datetime!(2026-11-04 09:05:01 UTC);
        assert_eq!(parse_timestamp(TIMESTAMP), Some(expected));
        assert_eq!(parse_timestamp("Wed Nov 04 09:05:01 UTC 2026"), Some(expected));
        assert_eq!(parse_timestamp("Wed Nov  4 09:05:01 UTC 2026"), Some(expected));
        assert_eq!(format_timestamp(expected), TIMESTAMP);
        let later = time::macros::datetime!(2027-01-31 23:59:59 +02:00);
        assert_eq!(format_timestamp(later), "Sun Jan 31 21:59:59 UTC 2027");
        for bad in [
            "",
            "Wed Nov 4 09:05:01 GMT 2026",
            "Wed Nov 4 9:05:01 UTC 2026",
            "Wed Nov 31 09:05:01 UTC 2026",
            "Wed Nov 4 24:05:01 UTC 2026",
            "Wed Nov 004 09:05:01 UTC 2026",
            "Wed November 4 09:05:01 UTC 2026",
            "Xyz Nov 4 09:05:01 UTC 2026",
            "Wed Nov 4 09:05:01 UTC 2026 extra",
            "Wed Nov +4 09:05:01 UTC 2026",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn matches_password_checks_the_password() {
        let verifier = SrpVerifier::generate(POOL_SHORT, USER, PASSWORD).unwrap();
        assert!(verifier.salt.len() == 16 || verifier.salt.len() == 17);
        assert!(verifier.matches_password(POOL_SHORT, USER, PASSWORD));
        assert!(!verifier.matches_password(POOL_SHORT, USER, "correct-Horse-9!"));
        assert!(!verifier.matches_password(POOL_SHORT, "bob", PASSWORD));
        assert!(!verifier.matches_password("OtherPool", USER, PASSWORD));
        assert!(user_verifier().matches_password(POOL_SHORT, USER, PASSWORD));
        assert!(!format!("{verifier:?}").contains(&hex::encode(&verifier.verifier)[..16]));
    }

    #[test]
    fn from_parts_rejects_out_of_range_verifiers() {
        assert_eq!(SrpVerifier::from_parts(&[1], &[0, 0]).unwrap_err(), SrpError::InvalidVerifier);
        assert_eq!(SrpVerifier::from_parts(&[1], &N.to_be_bytes()).unwrap_err(), SrpError::InvalidVerifier);
        assert_eq!(SrpVerifier::from_parts(&[1], &[1; 385]).unwrap_err(), SrpError::InvalidVerifier);
    }
}
