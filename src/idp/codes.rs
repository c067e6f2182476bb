//! One-time codes (sign-up confirmation, password reset, attribute verification): six random
//! digits, kept sealed in the user record with an expiry and a failed-attempt count, checked in
//! constant time with Cognito's errors.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::Rng;
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::auth::password::DataCipher;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::{unix_now, PendingCode, User, UserPool};

/// A sign-up or attribute-verification code is valid for 24 hours.
pub const VERIFICATION_CODE_SECS: i64 = 24 * 3600;
/// A password-reset code is valid for 1 hour.
pub const RESET_CODE_SECS: i64 = 3600;
/// Wrong codes accepted before every further try is refused until a new code is sent.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;

/// What a code is for (the key under which the user record keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    SignUp,
    PasswordReset,
    /// Verifying the named attribute (`email` or `phone_number`).
    Verify(&'static str),
}

impl CodePurpose {
    fn key(self) -> String {
        match self {
            CodePurpose::SignUp => "sign_up".into(),
            CodePurpose::PasswordReset => "password_reset".into(),
            CodePurpose::Verify(attribute) => format!("verify:{attribute}"),
        }
    }
}

fn context(user: &User, purpose: CodePurpose) -> String {
    format!("code/{}/{}/{}", user.pool_id, user.sub, purpose.key())
}

/// Six uniformly random digits.
pub fn six_digits() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// Issues a new code for `purpose` (replacing any earlier one, with a fresh attempt count) and
/// returns it in clear for the message; the record keeps it sealed. `attribute` is the one the
/// code was sent to (marked verified when the code is used).
pub fn issue(
    cipher: &DataCipher,
    user: &mut User,
    purpose: CodePurpose,
    attribute: Option<&str>,
    valid_secs: i64,
) -> Result<String> {
    let code = six_digits();
    let sealed = cipher.seal_bytes(&context(user, purpose), code.as_bytes())?;
    user.codes.insert(
        purpose.key(),
        PendingCode {
            sealed: B64.encode(sealed),
            attribute: attribute.map(str::to_owned),
            expires: unix_now() + valid_secs,
            failed_attempts: 0,
            held_value: None,
        },
    );
    Ok(code)
}

/// Makes the pending code for `purpose` carry `value`, applied when the code is used.
pub fn hold_value(user: &mut User, purpose: CodePurpose, value: &str) {
    if let Some(pending) = user.codes.get_mut(&purpose.key()) {
        pending.held_value = Some(value.to_owned());
    }
}

/// The value the pending code for `purpose` holds, if any.
pub fn held_value(user: &User, purpose: CodePurpose) -> Option<String> {
    user.codes.get(&purpose.key()).and_then(|p| p.held_value.clone())
}

/// The outcome of checking a presented code; on `Mismatch` the record's attempt count went up
/// and must be stored.
#[derive(Debug)]
pub enum Checked {
    /// Right code (now consumed), with what it was issued for.
    Accepted(PendingCode),
    Rejected(Error),
    /// Wrong code: store the user (its attempt count changed), then answer with the error.
    Mismatch(Error),
}

pub fn code_mismatch() -> Error {
    Error::new(ErrorKind::CodeMismatch, "Invalid verification code provided, please try again.")
}

pub fn code_expired() -> Error {
    Error::new(ErrorKind::ExpiredCode, "Invalid code provided, please request a code again.")
}

pub fn attempts_exceeded() -> Error {
    Error::new(ErrorKind::LimitExceeded, "Attempt limit exceeded, please try after some time.")
}

/// Checks `presented` against the user's pending code for `purpose`.
pub fn check(cipher: &DataCipher, user: &mut User, purpose: CodePurpose, presented: &str) -> Result<Checked> {
    let key = purpose.key();
    let Some(pending) = user.codes.get(&key) else { return Ok(Checked::Rejected(code_expired())) };
    if pending.failed_attempts >= MAX_FAILED_ATTEMPTS {
        return Ok(Checked::Rejected(attempts_exceeded()));
    }
    if pending.expires <= unix_now() {
        return Ok(Checked::Rejected(code_expired()));
    }
    let sealed = B64.decode(&pending.sealed).map_err(|e| Error::internal("stored code", e))?;
    let expected = cipher.open_bytes(&context(user, purpose), &sealed)?;
    if bool::from(expected.as_slice().ct_eq(presented.as_bytes())) {
        if let Some(used) = user.codes.remove(&key) {
            return Ok(Checked::Accepted(used));
        }
    }
    if let Some(p) = user.codes.get_mut(&key) {
        p.failed_attempts += 1;
    }
    Ok(Checked::Mismatch(code_mismatch()))
}

/// Uses the code a caller presents: on the right one, consumes it in `user` (the caller stores
/// `user` with its change) and returns it (the attribute it went to, a held value); a wrong one is counted on
/// the stored user and answered with `CodeMismatchException`; otherwise Cognito's error.
pub fn redeem(
    app: &App,
    pool: &UserPool,
    user_key: &str,
    user: &mut User,
    purpose: CodePurpose,
    presented: &str,
) -> Result<PendingCode> {
    match check(&app.auth.data, user, purpose, presented)? {
        Checked::Accepted(used) => Ok(used),
        Checked::Rejected(e) => Err(e),
        Checked::Mismatch(e) => {
            count_failed_attempt(app, pool, user_key, purpose, presented)?;
            Err(e)
        }
    }
}

/// Records one more wrong code on the stored user, retrying on concurrent changes so that
/// parallel guesses each count.
fn count_failed_attempt(app: &App, pool: &UserPool, user_key: &str, purpose: CodePurpose, guess: &str) -> Result<()> {
    for _ in 0..8 {
        let Some(current) = app.directory.user(&pool.id, user_key)? else { return Ok(()) };
        let mut user = current.record.clone();
        match check(&app.auth.data, &mut user, purpose, guess)? {
            Checked::Mismatch(_) => match app.directory.replace_user(user_key, &current, &user) {
                Err(e) if e.kind == ErrorKind::ConcurrentModification => continue,
                other => return other,
            },
            _ => return Ok(()),
        }
    }
    Err(Error::new(ErrorKind::ConcurrentModification, "the user changed meanwhile; try again"))
}

/// Drops codes that can no longer be used (expired), so records do not keep them forever.
pub fn forget_expired(codes: &mut BTreeMap<String, PendingCode>) {
    let now = unix_now();
    codes.retain(|_, p| p.expires > now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PoolId;
    use crate::store::records::UserStatus;

    fn user() -> User {
        User {
            pool_id: PoolId::from("us-east-1_abc".to_owned()),
            username: "ann".into(),
            sub: "5f1c".into(),
            attributes: BTreeMap::new(),
            status: UserStatus::Unconfirmed,
            enabled: true,
            created: 0.0,
            modified: 0.0,
            password: None,
            temporary_password_expires: None,
            codes: BTreeMap::new(),
        }
    }

    fn cipher() -> DataCipher {
        DataCipher::new(&[7u8; 32], true).unwrap()
    }

    #[test]
    fn a_code_is_accepted_once_and_only_for_its_purpose() {
        let (c, mut u) = (cipher(), user());
        let code = issue(&c, &mut u, CodePurpose::SignUp, Some("email"), 60).unwrap();
        assert_eq!(code.len(), 6);
        assert!(!u.codes["sign_up"].sealed.contains(&code), "stored sealed, not in clear");
        assert!(
            matches!(check(&c, &mut u, CodePurpose::PasswordReset, &code).unwrap(), Checked::Rejected(e) if e.kind == ErrorKind::ExpiredCode)
        );
        assert!(
            matches!(check(&c, &mut u, CodePurpose::SignUp, &code).unwrap(), Checked::Accepted(p) if p.attribute.as_deref() == Some("email"))
        );
        assert!(
            matches!(check(&c, &mut u, CodePurpose::SignUp, &code).unwrap(), Checked::Rejected(e) if e.kind == ErrorKind::ExpiredCode)
        );
    }

    #[test]
    fn wrong_codes_count_and_then_lock_until_a_new_code() {
        let (c, mut u) = (cipher(), user());
        let code = issue(&c, &mut u, CodePurpose::SignUp, None, 60).unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..MAX_FAILED_ATTEMPTS {
            assert!(
                matches!(check(&c, &mut u, CodePurpose::SignUp, wrong).unwrap(), Checked::Mismatch(e) if e.kind == ErrorKind::CodeMismatch)
            );
        }
        assert!(
            matches!(check(&c, &mut u, CodePurpose::SignUp, &code).unwrap(), Checked::Rejected(e) if e.kind == ErrorKind::LimitExceeded)
        );
        let fresh = issue(&c, &mut u, CodePurpose::SignUp, None, 60).unwrap();
        assert!(
            matches!(check(&c, &mut u, CodePurpose::SignUp, &fresh).unwrap(), Checked::Accepted(p) if p.attribute.is_none())
        );
    }

    #[test]
    fn an_expired_code_is_refused() {
        let (c, mut u) = (cipher(), user());
        let code = issue(&c, &mut u, CodePurpose::SignUp, None, -1).unwrap();
        assert!(
            matches!(check(&c, &mut u, CodePurpose::SignUp, &code).unwrap(), Checked::Rejected(e) if e.kind == ErrorKind::ExpiredCode)
        );
        forget_expired(&mut u.codes);
        assert!(u.codes.is_empty());
    }
}
