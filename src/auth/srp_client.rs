//! The client side of Cognito SRP (what amazon-cognito-identity-js and pycognito compute): SRP_A and
//! PASSWORD_CLAIM_SIGNATURE, for the load generator and tests.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use crypto_bigint::zeroize::Zeroize;
use crypto_bigint::{U256, U3072};
use rand::rngs::OsRng;
use rand::RngCore;

use super::fixed_base::pow_g;
use super::modexp::pow_public;
use super::srp::{
    decode_hex, derive_session_key, minimal_hex, pad_hex_bytes, parse_group_hex, password_claim_signature,
    password_exponent, scrambler, strip_leading_zeros, uint_from_be, Element, SessionKey, SrpError, G, K_MULTIPLIER,
};

/// Random bytes in a client secret a (what JS v5 and Amplify v6 use).
const CLIENT_SECRET_BYTES: usize = 128;

/// Largest client secret accepted by [`SrpClient::with_a`], so that a + u·x cannot overflow 3072 bits.
const MAX_CLIENT_SECRET_BYTES: usize = 256;

/// The server-sent parameters of a PASSWORD_VERIFIER (or DEVICE_PASSWORD_VERIFIER) challenge.
#[derive(Debug, Clone, Copy)]
pub struct VerifierChallenge<'a> {
    /// `SALT`, hex.
    pub salt_hex: &'a str,
    /// `SRP_B`, hex.
    pub srp_b_hex: &'a str,
    /// `SECRET_BLOCK`, standard base64, as received.
    pub secret_block_b64: &'a str,
}

/// The client side of Cognito SRP (load generator, tests): holds the ephemeral secret a and A = g^a.
/// Not hardened against timing attacks.
#[derive(Clone)]
pub struct SrpClient {
    secret: U3072,
    public: U3072,
}

impl SrpClient {
    /// A client with 128 fresh random bytes as a, like amazon-cognito-identity-js and Amplify v6.
    ///
    /// # Errors
    /// [`SrpError::Random`] if the system RNG fails.
    pub fn new() -> Result<Self, SrpError> {
        let mut a = [0u8; CLIENT_SECRET_BYTES];
        OsRng.try_fill_bytes(&mut a).map_err(|_| SrpError::Random)?;
        let client = Self::with_a(&a);
        a.zeroize();
        client
    }

    /// A client with a chosen secret a (big-endian, at most 256 bytes, non-zero).
    ///
    /// # Errors
    /// [`SrpError::InvalidSecret`] if a is zero or too long.
    pub fn with_a(a_big_endian: &[u8]) -> Result<Self, SrpError> {
        let minimal = strip_leading_zeros(a_big_endian);
        if minimal.is_empty() || minimal.len() > MAX_CLIENT_SECRET_BYTES {
            return Err(SrpError::InvalidSecret);
        }
        let secret: U3072 = uint_from_be(minimal).ok_or(SrpError::InvalidSecret)?;
        // A 256-bit a (as the load generator uses) takes the fixed-base table.
        let public = match uint_from_be::<{ U256::LIMBS }>(minimal) {
            Some(short) => pow_g(&short).retrieve(),
            None => pow_public(&G, &secret)?,
        };
        Ok(Self { secret, public })
    }

    /// `SRP_A`: hex(A), minimal lowercase hex.
    pub fn srp_a_hex(&self) -> String {
        minimal_hex(&self.public.to_be_bytes())
    }

    /// The session key K: x from the password, then S = (B − k·g^x)^(a + u·x) mod N.
    ///
    /// # Errors
    /// [`SrpError::InvalidHex`] for malformed SALT/SRP_B, [`SrpError::IllegalB`] for B mod N == 0 or B ≥ N,
    /// [`SrpError::ZeroU`].
    pub fn session_key(
        &self,
        pool_name_short: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
    ) -> Result<SessionKey, SrpError> {
        let key = PasswordKey::derive(pool_name_short, user_id_for_srp, password, salt_hex)?;
        self.session_key_with(&key, srp_b_hex)
    }

    /// The session key K from a [`PasswordKey`] derived earlier: S = (B − k·g^x)^(a + u·x) mod N.
    ///
    /// # Errors
    /// [`SrpError::InvalidHex`] for a malformed SRP_B, [`SrpError::IllegalB`], [`SrpError::ZeroU`].
    pub fn session_key_with(&self, key: &PasswordKey, srp_b_hex: &str) -> Result<SessionKey, SrpError> {
        let big_b = parse_group_hex(srp_b_hex, SrpError::IllegalB)?;
        let u = scrambler(&self.public, &big_b)?;
        let base = Element::new(&big_b).sub(&key.k_times_gx);
        let u_times_x: U3072 = u.concatenating_mul::<{ U256::LIMBS }, { U256::LIMBS * 2 }>(&key.x).resize();
        let exponent = self.secret.wrapping_add(&u_times_x);
        let premaster = pow_public(&base.retrieve(), &exponent)?;
        Ok(derive_session_key(&u, &premaster))
    }

    /// PASSWORD_CLAIM_SIGNATURE for a PASSWORD_VERIFIER challenge; `timestamp` is sent alongside it verbatim.
    /// For devices pass `DeviceGroupKey`, `DeviceKey` and the device's random password.
    ///
    /// # Errors
    /// As [`SrpClient::session_key`], plus [`SrpError::InvalidSecretBlock`].
    pub fn password_claim(
        &self,
        pool_name_short: &str,
        user_id_for_srp: &str,
        password: &str,
        challenge: &VerifierChallenge<'_>,
        timestamp: &str,
    ) -> Result<String, SrpError> {
        let key = PasswordKey::derive(pool_name_short, user_id_for_srp, password, challenge.salt_hex)?;
        self.password_claim_with(&key, pool_name_short, user_id_for_srp, challenge, timestamp)
    }

    /// [`SrpClient::password_claim`] with a [`PasswordKey`] derived earlier for this user and salt.
    ///
    /// # Errors
    /// As [`SrpClient::session_key_with`], plus [`SrpError::InvalidSecretBlock`].
    pub fn password_claim_with(
        &self,
        key: &PasswordKey,
        pool_name_short: &str,
        user_id_for_srp: &str,
        challenge: &VerifierChallenge<'_>,
        timestamp: &str,
    ) -> Result<String, SrpError> {
        let secret_block = BASE64.decode(challenge.secret_block_b64).map_err(|_| SrpError::InvalidSecretBlock)?;
        let key = self.session_key_with(key, challenge.srp_b_hex)?;
        Ok(password_claim_signature(&key, pool_name_short, user_id_for_srp, &secret_block, timestamp))
    }
}

/// What a client derives from a password for one user and salt, x = H(salt || H(poolNameShort ||
/// userIdForSrp || ":" || password)) and k·g^x: the same for every sign-in of that user, so a load
/// generator derives it once (a real client, with one password to type, need not).
#[derive(Clone)]
pub struct PasswordKey {
    x: U256,
    k_times_gx: Element,
}

impl PasswordKey {
    /// # Errors
    /// [`SrpError::InvalidHex`] for a malformed SALT.
    pub fn derive(
        pool_name_short: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
    ) -> Result<Self, SrpError> {
        let salt = pad_hex_bytes(&decode_hex(salt_hex)?);
        let x = password_exponent(pool_name_short, user_id_for_srp, password, &salt);
        let k_times_gx = Element::new(&K_MULTIPLIER.resize()).mul(&pow_g(&x));
        Ok(Self { x, k_times_gx })
    }
}

impl Drop for PasswordKey {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl fmt::Debug for SrpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrpClient").field("srp_a", &self.srp_a_hex()).finish_non_exhaustive()
    }
}

impl Drop for SrpClient {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

#[cfg(test)]
pub(super) mod vectors {
    //! Reference vectors (section 7 of the Cognito SRP reference, cognito-srp-and-tokens.md): pycognito 2024.5.1's
    //! client code, cross-checked with amazon-cognito-identity-js. The server tests use them too.

    pub(in crate::auth) const POOL_SHORT: &str = "AbCdEfGhI";
    pub(in crate::auth) const USER: &str = "alice";
    pub(in crate::auth) const PASSWORD: &str = "Correct-Horse-9!";
    pub(in crate::auth) const USER_SALT_HEX: &str = "9f3b6a2c4d5e6f708192a3b4c5d6e7f8";
    pub(in crate::auth) const A_SECRET_HEX: &str = "6a09e667f3bcc908b2fae94f3c6ef372fe94f82ba54ff53a5f1d36f1510e527f";
    pub(in crate::auth) const B_SECRET_HEX: &str = "9b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179cb4a5f1b3c2d1e0f";
    pub(in crate::auth) const SECRET_BLOCK_B64: &str = "cG9ydGN1bGxpcy10ZXN0LXNlY3JldC1ibG9jay12MQ==";
    pub(in crate::auth) const TIMESTAMP: &str = "Wed Nov 4 09:05:01 UTC 2026";
    pub(in crate::auth) const USER_X: &str = "5017542655ac7a3b3a6e401543bef9353d138e36865acbd79198b463a3e4fa4b";
    pub(in crate::auth) const USER_V: &str = concat!(
        "3f0c8865a6e1e311903e7c68a7522bdd4c172d59c811705e9a2789489948ccf5d81692d069f40bfa29250f58e3bceb25",
        "716372183d6e816a0431a09d7c50f0a65c3345a0e22c32198a48b67cd8c22e4c81b1516f66366980f1a3e1047af69da2",
        "a791b58e11826897172b499b1fc053cc1aa31cf328e9e3092d5c961d6670e11f9f4f6cbce90c1c369abac9489916b632",
        "0dbb4dba9282b9af6c901b02d873b4b3fa0bab4e3a241d97e03d19e3ac63e79d234e82cb8db4bdf564a41b7e9854ec50",
        "c57d0fa13371932fb06a1c8c7ceadd5ed99dc74f4aa812383c071cf7a2b837fc2e8b6ecac94ab8a060da28cb3e94f57a",
        "ca91e8a5ea3eb5894f9effa854a0ca7a8ff384c015fd361b32d02791e07bb0543d230f4c0d60ac496b634abd45a7de3d",
        "0788af34be0bf275771ef94a9235af65ea2ce23b8479a763013a932a2df092e1491d85befb2a90fbb111c28ebe3059f6",
        "b76f873e493c5fbba5c4db995ece0c66728921aac15a4de11fa58087707c9076a5f97ae0b6c3e80986339f407575250",
    );
    pub(in crate::auth) const USER_A: &str = concat!(
        "5ded2bdb88d7750a2099072632a1fff026ee8e9896c640205273c62146838d5235bfb5d6582945c74b30de0f11383bbd",
        "6b3db189affcafda7ec2f1025ba100f4b1347498f7ce1445def8c873659a19591e3ca3117d9d0d3fc70293690499fa8d",
        "6650cb9c00943d4d296027150a80ca3c39d59b0b83b5dca07c801538e49bdd756bed1ac7b228a72738816d13def6599f",
        "9562dfc94ced40440ec841e37c6b8f2b49f1ff243ee348fe6bc059784d590a3aa5ab6da74d4e7934098c0452993263b9",
        "142278c344fd24ee56de8d9f204fffffce8e345b0afe61145ccd48f678e71db9d3d5676086d150c8a0526786adae8098",
        "fa29a5c9e0d1fdc716d8eb8aac1c5bd234e2c1e9de40763a79be308b1383427bfd68748b14a2917fdeedb05175c79d39",
        "77c40db743a14ebc23c33adce54d2b5cf6f94052ac3704dfa7ddcc822bbd87bdff8d6564547242e8d49f686b3f5b2048",
        "5b8c18ffaf073edbd8d4c53bf08d69ff078eec5653b5b07d75c76da832eac6efc1d7579eed0f2e458a0260a42a04a25a",
    );
    pub(in crate::auth) const USER_B: &str = concat!(
        "43f04388d82829651ac2bd43a75bdfda376e64811e1289e1940bb75ed1445e83d4c99d4da8de31978a7a378c82b44bb4",
        "c51ec7e051eb7b0f5f621e89a2c4e5c780daa99e4c6117b48a7fb51726fcefc96a72ebdc83e793a464edd4d37d4ffd17",
        "f2763c134993e9903a0f288a0fb0cb416c7365a3c9a9bfbf5839063b18876f96b4b51889d9e7d1176e6078136548e909",
        "43edd9aac3c0ae5c17500e2dc7c48bdef9021c74b8fb58a8579b85af523bc43497ba3b5031adf707b720742c753341c6",
        "f2ebc585aa0a8037b3e1a43a692e8fc247ee9d5a0af2c7f1a14501c6648ff186f591d45a4285d2405fb0137c0bf83189",
        "d83d669cafe67ce6f6fee3f8ed49707c0d3a0ecb2fa97872c2b3be543cfe3e7af5281eab8cf4f3bc7d1be77d1d3c8d91",
        "bdd19e2199cecfe240d22e47b50b7f6b46e0bb865a3be08a9a54b22be0abf299a16f3c049312283c7d355c895553d857",
        "6fe3e03a602f618837d666f0a7f301e0ee81e6ffd9bd6ab76904b708264436798aab472c4b632c8e80b877f3a2432e9f",
    );
    pub(in crate::auth) const USER_U: &str = "6ed90e84b4ade7ff2c5cf89e263727803d8f5b919989ae2db2cfdd9a954d5429";
    pub(in crate::auth) const USER_S: &str = concat!(
        "383ce1d5b762f6d89f6176772ae1d8ca62cd9f4fda363e62d28488e00b4a87fdf00e911fa9f6178869619468331f5295",
        "d4c6f8ec284caf6818d0bedfa46fc62c91e2b09225397b78ab68666eca71537b46836cb5139e083e6ca6b09a17ca0789",
        "d34446829d219a27e7a8a016cdadf5202c75b1232aaeabbd106a7406d8318595934dcd6bee5b5909bac0a4c2fa1f6eb4",
        "6119d7a8eb8a31850c7e008f0695742554e31021f0ee1f30bc7bbca4ed06d0a3897414397162dd5e141f69a59f754818",
        "0da99d4050713dc2d33c084e216db806911b564bf0bd6b0098a8f7866c19091546bb5447b89ec0e05c29bcffe11c8fa2",
        "a74c40c3b2f281b8f76dca5199eff793a612b6302bcd6a56f768c63f8f92502bbebc4e2b6c6ed9c13a259aecc9d43520",
        "e31bb2466112ded35f141797672a70e7d5f1fc26adc614f97b993d0d000213ab98f4725738c1af0a144f0e978e9ab531",
        "7a02f08e8e1349cb5b7533a72e4963e4c244df9e67a8526cba60300d13b0c37029f32a8ec69a57d808422e76a97f0dd7",
    );
    pub(in crate::auth) const USER_K: &str = "dfe2c1e6cfbf30d947b7459b044545fb";
    pub(in crate::auth) const USER_SIGNATURE: &str = "FtghlYPmfq2gm/3i49esia96eU6ciuBZHkFNzEBfbZA=";

    pub(in crate::auth) const DEVICE_GROUP_KEY: &str = "-dGrpKey01";
    pub(in crate::auth) const DEVICE_KEY: &str = "us-east-1_0f8fad5b-d9cb-469f-a165-70867728950e";
    pub(in crate::auth) const DEVICE_PASSWORD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==";
    pub(in crate::auth) const DEVICE_SALT_HEX: &str = "1c2d3e4f5061728394a5b6c7d8e9fa0b";
    pub(in crate::auth) const DEVICE_SALT_B64: &str = "HC0+T1BhcoOUpbbH2On6Cw==";
    pub(in crate::auth) const DEVICE_VERIFIER_B64: &str = concat!(
        "ALKZxu1yyJj60HZfYO4OhRYZLwBt44e255Xj943PpUEaCuxjhKrQlxxLOoGd63joDFujyG0bgTBRXK0PYQwVy/2W1Wlk4rhf",
        "y2FKjiZWdbTNgBA/eLrmhB0NSp4n27MaPQL95XfL9JKFb3EO7XkJSJUtRB6e8zi37LiY8AvtDBVY53g87/CdWDccH9Ld/Bcx",
        "TYSIILqaJeSMY+d8a+bpuw3PMwIB9BhYgfpiPKlgb9OLPuUSheQc4hsdjASGYbaQAEoUEhLSlUyD8/P+iWv16bN6jesTEvNw",
        "9oDmLh5GXpTnxHltulSwNXJZyIV+sYSnfO/8XjpVPNK7PbeBXDAXpwKBgVsjQUo0QaWQNGx1RFl5kMReIv6sTF7IOLl6HCCl",
        "Ok0977OCEdEnaVgm1PYYgAP9IEfZ6Ug8zjXC3tE2ez4T/eLoGr6VhlZEGhWWNv7MeJYC7rzKnKrZ9ziXzVNTi9GEDX3CHSmM",
        "FexEHk3B4nEfoS4MylZhj9Gn8Kd5cPgb2Q==",
    );
    pub(in crate::auth) const DEVICE_B: &str = concat!(
        "96ce55a37bc79f233b28f4ee126f8f192bd4d6200154c42cfc07522f4a712c031ba7589934c6d03a89970e9f1f7745e8",
        "6c3acc5089a93483df69a73c91371a73d4a24ad29227fbe53d79aa8a3899ca4450f9186e6ae2a6d06d1e01ee26076eab",
        "44b405c931e5024e76bc28f904d182d1217912e48693f0b10a56f207a693bb10c14684b207a6d669c4bfe2f3f841f76c",
        "9e9eda21ae50ae85f55158e7bde6552e64b7c458a588f26f750bd93fa15a33c27d75dee20a7e4564cd3197fd38704d0e",
        "819db6ec96911abc23d8bc420f5e0ca3b1e7cf3800ccf144c3493e2dca17c50a84a98039a039c75f3833ec4fc545a92b",
        "85da23ce96f9513e00dfaa7a0acd58b9e536dae6e43727ddd8daef36f20886912189ca50402fd9b23cd1502466f27cf0",
        "b23ad9cd28af436500e45a57e018d068f568dae3f2180ac37eaf4dd7b3fda8bb3a8525979e464e4a4fba1939f6209237",
        "63ab47e532be6fe5f01cef4cb963483b24ab8d97ee06fcd410422bfddafdebc9e0aa4205a5c253b2134f05788d002689",
    );
    pub(in crate::auth) const DEVICE_U: &str = "114ec5bfa674413873245cda40339e33063bd34004676c84cc026cb641cf10ed";
    pub(in crate::auth) const DEVICE_K: &str = "ac05e69cc39c9b6b091fd2a3e4a69801";
    pub(in crate::auth) const DEVICE_SIGNATURE: &str = "bwvmOzdAY9kCon3dNwKdhKZCaQHe5jQHR6KY9X7t+Is=";
}

#[cfg(test)]
mod tests {
    use super::vectors::*;
    use super::*;
    use crate::auth::srp::{server_challenge, verify_password_claim, SrpVerifier};

    fn vector_client() -> SrpClient {
        SrpClient::with_a(&hex::decode(A_SECRET_HEX).unwrap()).unwrap()
    }

    #[test]
    fn user_vector_client_side() {
        let client = vector_client();
        assert_eq!(client.srp_a_hex(), USER_A);
        let key = client.session_key(POOL_SHORT, USER, PASSWORD, USER_SALT_HEX, USER_B).unwrap();
        assert_eq!(hex::encode(key.as_bytes()), USER_K);
        // pycognito sends the padded salt string back; JS the unpadded one. Both give the same x.
        let padded_salt = format!("00{USER_SALT_HEX}");
        let challenge =
            VerifierChallenge { salt_hex: &padded_salt, srp_b_hex: USER_B, secret_block_b64: SECRET_BLOCK_B64 };
        let signature = client.password_claim(POOL_SHORT, USER, PASSWORD, &challenge, TIMESTAMP).unwrap();
        assert_eq!(signature, USER_SIGNATURE);
    }

    #[test]
    fn device_vector_client_side() {
        let challenge =
            VerifierChallenge { salt_hex: DEVICE_SALT_HEX, srp_b_hex: DEVICE_B, secret_block_b64: SECRET_BLOCK_B64 };
        let client = vector_client();
        let key = client.session_key(DEVICE_GROUP_KEY, DEVICE_KEY, DEVICE_PASSWORD, DEVICE_SALT_HEX, DEVICE_B);
        assert_eq!(hex::encode(key.unwrap().as_bytes()), DEVICE_K);
        let signature =
            client.password_claim(DEVICE_GROUP_KEY, DEVICE_KEY, DEVICE_PASSWORD, &challenge, TIMESTAMP).unwrap();
        assert_eq!(signature, DEVICE_SIGNATURE);
    }

    #[test]
    fn client_rejects_bad_inputs() {
        let client = vector_client();
        let n_hex = crate::auth::srp::tests::n_hex();
        let claim = |b: &str, block: &str| {
            let challenge = VerifierChallenge { salt_hex: USER_SALT_HEX, srp_b_hex: b, secret_block_b64: block };
            client.password_claim(POOL_SHORT, USER, PASSWORD, &challenge, TIMESTAMP)
        };
        assert_eq!(claim("0", SECRET_BLOCK_B64), Err(SrpError::IllegalB));
        assert_eq!(claim(&n_hex, SECRET_BLOCK_B64), Err(SrpError::IllegalB));
        assert_eq!(claim("zz", SECRET_BLOCK_B64), Err(SrpError::InvalidHex));
        assert_eq!(claim(USER_B, "***"), Err(SrpError::InvalidSecretBlock));
        assert_eq!(SrpClient::with_a(&[0, 0]).unwrap_err(), SrpError::InvalidSecret);
        assert_eq!(SrpClient::with_a(&[1; 257]).unwrap_err(), SrpError::InvalidSecret);
    }

    #[test]
    fn random_client_and_server_agree() {
        for _ in 0..3 {
            let verifier = SrpVerifier::generate(POOL_SHORT, USER, PASSWORD).unwrap();
            let client = SrpClient::new().unwrap();
            let server = server_challenge(&verifier, &client.srp_a_hex()).unwrap();
            let salt_hex = verifier.salt_hex();
            let challenge = VerifierChallenge {
                salt_hex: &salt_hex,
                srp_b_hex: &server.srp_b_hex,
                secret_block_b64: SECRET_BLOCK_B64,
            };
            let timestamp = crate::auth::srp::format_timestamp(time::OffsetDateTime::now_utc());
            let signature = client.password_claim(POOL_SHORT, USER, PASSWORD, &challenge, &timestamp).unwrap();
            let block = BASE64.decode(SECRET_BLOCK_B64).unwrap();
            let key = &server.session_key;
            assert!(verify_password_claim(key, POOL_SHORT, USER, &block, &timestamp, &signature));
            let wrong = client.password_claim(POOL_SHORT, USER, "wrong", &challenge, &timestamp).unwrap();
            assert!(!verify_password_claim(key, POOL_SHORT, USER, &block, &timestamp, &wrong));
        }
    }

    #[test]
    fn one_password_key_serves_every_sign_in_of_its_user() {
        let verifier = SrpVerifier::generate(POOL_SHORT, USER, PASSWORD).unwrap();
        let salt_hex = verifier.salt_hex();
        let password_key = PasswordKey::derive(POOL_SHORT, USER, PASSWORD, &salt_hex).unwrap();
        let block = BASE64.decode(SECRET_BLOCK_B64).unwrap();
        let client = SrpClient::new().unwrap();
        // The same client secret and password key against two server challenges (two values of b).
        for _ in 0..2 {
            let server = server_challenge(&verifier, &client.srp_a_hex()).unwrap();
            let challenge = VerifierChallenge {
                salt_hex: &salt_hex,
                srp_b_hex: &server.srp_b_hex,
                secret_block_b64: SECRET_BLOCK_B64,
            };
            let signature = client.password_claim_with(&password_key, POOL_SHORT, USER, &challenge, TIMESTAMP).unwrap();
            assert!(verify_password_claim(&server.session_key, POOL_SHORT, USER, &block, TIMESTAMP, &signature));
        }
        let other_salt = PasswordKey::derive(POOL_SHORT, USER, PASSWORD, USER_SALT_HEX).unwrap();
        let server = server_challenge(&verifier, &client.srp_a_hex()).unwrap();
        let challenge =
            VerifierChallenge { salt_hex: &salt_hex, srp_b_hex: &server.srp_b_hex, secret_block_b64: SECRET_BLOCK_B64 };
        let signature = client.password_claim_with(&other_salt, POOL_SHORT, USER, &challenge, TIMESTAMP).unwrap();
        assert!(!verify_password_claim(&server.session_key, POOL_SHORT, USER, &block, TIMESTAMP, &signature));
    }

    /// Debug-profile timing of the two hot server steps (dependencies are built at opt-level 2):
    /// `cargo test --lib auth::srp_client::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints timings"]
    fn timing() {
        let verifier = SrpVerifier::generate(POOL_SHORT, USER, PASSWORD).unwrap();
        let srp_a = vector_client().srp_a_hex();
        let rounds = 20u32;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            server_challenge(&verifier, &srp_a).unwrap();
        }
        println!("server_challenge: {:?}", started.elapsed() / rounds);
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            assert!(verifier.matches_password(POOL_SHORT, USER, PASSWORD));
        }
        println!("matches_password: {:?}", started.elapsed() / rounds);
        let started = std::time::Instant::now();
        let challenge =
            VerifierChallenge { salt_hex: USER_SALT_HEX, srp_b_hex: USER_B, secret_block_b64: SECRET_BLOCK_B64 };
        for _ in 0..rounds {
            let client = SrpClient::new().unwrap();
            client.password_claim(POOL_SHORT, USER, PASSWORD, &challenge, TIMESTAMP).unwrap();
        }
        println!("client new + password_claim: {:?}", started.elapsed() / rounds);
    }
}
