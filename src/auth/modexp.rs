//! Exponentiation modulo the SRP group's prime N on OpenSSL's BIGNUM: `BN_mod_exp_mont_consttime`
//! for the server's secrets, plain `BN_mod_exp` for a client's own.
//!
//! OpenSSL's constant-time path (the one its RSA and DH take) is 2.5x faster for this 3072-bit modulus
//! than crypto-bigint's (about 640 vs 1,600 µs per 256-bit exponent on the 2-core build machines), and
//! an SRP sign-in does two of them. Its loop runs once per bit of the exponent up to the highest set
//! one, so a secret exponent must have a fixed bit length: the server draws its b with the top bit set.

use crypto_bigint::U3072;
use once_cell::sync::Lazy;
use openssl::bn::{BigNum, BigNumContext};

use super::srp::{uint_from_be, SrpError, N};

/// Bytes of N and of every residue below it.
const N_BYTES: usize = 384;

/// N as an OpenSSL BIGNUM, shared read-only by every thread.
static MODULUS: Lazy<Option<BigNum>> = Lazy::new(|| BigNum::from_slice(&N.to_be_bytes()).ok());

/// A BIGNUM that is zeroed before it is freed (OpenSSL's `BN_free` leaves the digits in memory).
struct Cleared(BigNum);

impl Drop for Cleared {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// How an exponentiation may spend its time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timing {
    /// BN_FLG_CONSTTIME on base and exponent: `BN_mod_exp` takes `BN_mod_exp_mont_consttime`.
    Constant,
    /// Plain `BN_mod_exp`, about 10% faster, for a client whose secrets are its own.
    Variable,
}

/// base^exponent mod N (both big-endian), every BIGNUM cleared before it is freed.
fn pow_mod_n(base_be: &[u8], exponent_be: &[u8], timing: Timing) -> Result<U3072, SrpError> {
    let modulus = MODULUS.as_ref().ok_or(SrpError::Arithmetic)?;
    let fail = |_| SrpError::Arithmetic;
    let mut base = Cleared(BigNum::from_slice(base_be).map_err(fail)?);
    let mut exponent = Cleared(BigNum::from_slice(exponent_be).map_err(fail)?);
    if timing == Timing::Constant {
        base.0.set_const_time();
        exponent.0.set_const_time();
    }
    let mut power = Cleared(BigNum::new().map_err(fail)?);
    // BN_CTX_free clears the temporaries it hands out (BN_clear_free), so the context is per call.
    let mut context = BigNumContext::new_secure().map_err(fail)?;
    power.0.mod_exp(&base.0, &exponent.0, modulus, &mut context).map_err(fail)?;
    into_residue(&power.0)
}

/// base^exponent mod N in constant time: the window schedule and table accesses depend only on the
/// exponent's bit length, never on its bits or on the base (which must be below N).
pub(super) fn pow_secret(base: &U3072, exponent_be: &[u8]) -> Result<U3072, SrpError> {
    pow_mod_n(&base.to_be_bytes(), exponent_be, Timing::Constant)
}

/// base^exponent mod N with plain `BN_mod_exp`: variable time, so only for a client, whose secrets are
/// its own (the load generator and the tests).
pub(super) fn pow_public(base: &U3072, exponent: &U3072) -> Result<U3072, SrpError> {
    pow_mod_n(&base.to_be_bytes(), &exponent.to_be_bytes(), Timing::Variable)
}

fn into_residue(value: &BigNum) -> Result<U3072, SrpError> {
    let mut bytes = value.to_vec_padded(N_BYTES as i32).map_err(|_| SrpError::Arithmetic)?;
    let residue = uint_from_be(&bytes).ok_or(SrpError::Arithmetic);
    bytes.iter_mut().for_each(|b| *b = 0);
    residue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::srp::Element;
    use crypto_bigint::U256;
    use rand::RngCore;

    #[test]
    fn both_paths_match_crypto_bigint() {
        let mut rng = rand::rngs::OsRng;
        for _ in 0..4 {
            let mut base_bytes = [0u8; N_BYTES];
            rng.fill_bytes(&mut base_bytes);
            base_bytes[0] &= 0x7f; // below N, whose top bits are all ones
            let base = U3072::from_be_slice(&base_bytes);
            let mut exponent_bytes = [0u8; 32];
            rng.fill_bytes(&mut exponent_bytes);
            let exponent = U256::from_be_slice(&exponent_bytes);
            let expected = Element::new(&base).pow(&exponent).retrieve();
            assert_eq!(pow_secret(&base, &exponent_bytes).unwrap(), expected);
            assert_eq!(pow_public(&base, &exponent.resize()).unwrap(), expected);
        }
    }

    #[test]
    fn zero_exponent_and_zero_base() {
        assert_eq!(pow_secret(&U3072::from_u8(7), &[0u8; 32]).unwrap(), U3072::ONE);
        assert_eq!(pow_secret(&U3072::ZERO, &[1u8; 32]).unwrap(), U3072::ZERO);
    }
}
