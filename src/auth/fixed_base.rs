//! g^e for the SRP generator g = 2 and 256-bit secret exponents, from a precomputed table:
//! constant time (every table entry is touched, the same 64 multiplications for every e).
//!
//! Row i holds g^(j·16^i) for j in 0..16, in Montgomery form, so g^e is the product over the
//! 64 four-bit windows e_i of row i's entry e_i: 64 multiplications instead of ~320 for a
//! square-and-multiply exponentiation. The table costs 1024 elements (384 KiB), built once.

use crypto_bigint::modular::BoxedMontyForm;
use crypto_bigint::{BoxedUint, Choice, CtAssign, U256};
use once_cell::sync::Lazy;

use super::srp::{Element, G, GROUP};

const WINDOW_BITS: usize = 4;
const ENTRIES: usize = 1 << WINDOW_BITS;
const ROWS: usize = 256 / WINDOW_BITS;

/// `TABLE[i][j]` = Montgomery form of g^(j·16^i).
static TABLE: Lazy<Vec<Vec<BoxedUint>>> = Lazy::new(|| {
    let one = BoxedMontyForm::one(&GROUP);
    let mut base = Element::new(&G).into_monty(); // g^(16^i) for the current row
    let mut rows = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let mut row = Vec::with_capacity(ENTRIES);
        let mut power = one.clone();
        for _ in 0..ENTRIES {
            row.push(power.as_montgomery().clone());
            power = power.mul(&base);
        }
        // `power` is now base^16 = g^(16^(i+1)).
        base = power;
        rows.push(row);
    }
    rows
});

/// g^exponent mod N, constant time in the exponent's value.
pub(super) fn pow_g(exponent: &U256) -> Element {
    let bytes = exponent.to_le_bytes();
    let mut acc = BoxedMontyForm::one(&GROUP);
    let mut selected = BoxedUint::zero_with_precision(GROUP.bits_precision());
    for (i, row) in TABLE.iter().enumerate() {
        let byte = bytes.as_ref().get(i / 2).copied().unwrap_or(0);
        let window = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        for (j, entry) in row.iter().enumerate() {
            selected.ct_assign(entry, Choice::from_u8_eq(window, j as u8));
        }
        acc = acc.mul(&BoxedMontyForm::from_montgomery(selected.clone(), &GROUP));
    }
    Element::from_monty(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn plain(e: &U256) -> crypto_bigint::U3072 {
        Element::new(&G).pow(e).retrieve()
    }

    #[test]
    fn matches_square_and_multiply_for_edge_and_random_exponents() {
        let mut cases = vec![U256::ZERO, U256::ONE, U256::from_u8(16), U256::MAX];
        for _ in 0..8 {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            cases.push(U256::from_be_slice(&bytes));
        }
        for e in &cases {
            assert_eq!(pow_g(e).retrieve(), plain(e), "exponent {e}");
        }
    }
}
