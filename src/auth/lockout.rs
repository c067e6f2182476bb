//! Brute-force protection as Cognito does it: after five failed sign-ins a user is locked out
//! for 1 s, doubling with each further failure up to 15 minutes; 15 quiet minutes forget them.
//!
//! Attempts while locked out are refused with NotAuthorizedException "Password attempts
//! exceeded" and do not count. Failures of existing users are kept in the `sign_in_failures`
//! table (a lockout survives a daemon restart); failures for names that do not exist are kept in
//! memory, and only when the app client hides user existence, so that such names lock out the
//! same way and a lockout tells nothing. The lockout is capped so an attacker can keep a user
//! out for at most 15 minutes after their last failed attempt.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::app::App;
use crate::ids::PoolId;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::records::SignInFailures;

/// Failed attempts allowed before the first lockout.
pub const FREE_FAILURES: u32 = 5;
/// The longest lockout, and the quiet time after which failures are forgotten.
pub const MAX_LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Names that do not exist whose failures are remembered; past it the oldest half is forgotten.
const PHANTOM_CAPACITY: usize = 100_000;

pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The failures still counting at `now` (none after 15 quiet minutes).
pub fn current(failures: SignInFailures, now: i64) -> SignInFailures {
    if now.saturating_sub(failures.last_ms) >= MAX_LOCKOUT_MS {
        SignInFailures::default()
    } else {
        failures
    }
}

pub fn is_locked(failures: SignInFailures, now: i64) -> bool {
    current(failures, now).locked_until_ms > now
}

/// The failures after one more at `now`: from the fifth on, a lockout of 2^(n-5) s, at most 15 min.
pub fn after_failure(failures: SignInFailures, now: i64) -> SignInFailures {
    let mut next = current(failures, now);
    next.count = next.count.saturating_add(1);
    next.last_ms = now;
    if next.count >= FREE_FAILURES {
        let doublings = (next.count - FREE_FAILURES).min(20);
        next.locked_until_ms = now + (1000i64 << doublings).min(MAX_LOCKOUT_MS);
    }
    next
}

fn locked_out() -> Error {
    Error::new(ErrorKind::NotAuthorized, "Password attempts exceeded")
}

/// Failures of names that do not exist, by (pool, user key), in memory.
#[derive(Default)]
pub struct PhantomFailures(Mutex<HashMap<(PoolId, String), SignInFailures>>);

impl PhantomFailures {
    fn get(&self, key: &(PoolId, String)) -> SignInFailures {
        self.0.lock().ok().and_then(|m| m.get(key).copied()).unwrap_or_default()
    }

    fn fail(&self, key: (PoolId, String), now: i64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= PHANTOM_CAPACITY {
            map.retain(|_, f| current(*f, now).count > 0);
            if map.len() >= PHANTOM_CAPACITY {
                let mut ages: Vec<i64> = map.values().map(|f| f.last_ms).collect();
                let (_, median, _) = ages.select_nth_unstable(PHANTOM_CAPACITY / 2);
                let median = *median;
                map.retain(|_, f| f.last_ms > median);
            }
        }
        let failures = after_failure(map.get(&key).copied().unwrap_or_default(), now);
        map.insert(key, failures);
    }
}

/// Who a sign-in attempt is for: an existing user, or a name that does not exist (tracked
/// only when the client hides user existence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User,
    Phantom,
    Untracked,
}

/// One password attempt under the lockout rules: [`Attempt::begin`] refuses it while locked
/// out; then exactly one of [`Attempt::failed`] and [`Attempt::succeeded`].
pub struct Attempt {
    pool_id: PoolId,
    user_key: String,
    subject: Subject,
    seen: Option<Versioned<SignInFailures>>,
}

impl Attempt {
    pub fn begin(app: &App, pool_id: &PoolId, user_key: &str, subject: Subject) -> Result<Self> {
        let now = now_ms();
        let (seen, failures) = match subject {
            Subject::User => {
                let seen = app.directory.sign_in_failures(pool_id, user_key)?;
                let failures = seen.as_ref().map(|v| v.record).unwrap_or_default();
                (seen, failures)
            }
            Subject::Phantom => (None, app.auth.phantom_failures.get(&(pool_id.clone(), user_key.to_owned()))),
            Subject::Untracked => (None, SignInFailures::default()),
        };
        if is_locked(failures, now) {
            return Err(locked_out());
        }
        Ok(Self { pool_id: pool_id.clone(), user_key: user_key.to_owned(), subject, seen })
    }

    /// Counts a wrong password (retried when a parallel attempt wrote meanwhile, so each counts).
    pub fn failed(self, app: &App) -> Result<()> {
        let now = now_ms();
        match self.subject {
            Subject::User => {
                let mut seen = self.seen;
                for _ in 0..4 {
                    let next = after_failure(seen.as_ref().map(|v| v.record).unwrap_or_default(), now);
                    if app.directory.replace_sign_in_failures(
                        &self.pool_id,
                        &self.user_key,
                        seen.as_ref(),
                        Some(&next),
                    )? {
                        return Ok(());
                    }
                    seen = app.directory.sign_in_failures(&self.pool_id, &self.user_key)?;
                }
                Ok(())
            }
            Subject::Phantom => {
                app.auth.phantom_failures.fail((self.pool_id, self.user_key), now);
                Ok(())
            }
            Subject::Untracked => Ok(()),
        }
    }

    /// A correct password forgets the user's failures.
    pub fn succeeded(self, app: &App) -> Result<()> {
        if let Some(seen) = &self.seen {
            app.directory.replace_sign_in_failures(&self.pool_id, &self.user_key, Some(seen), None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_then_doubling_lockouts_capped_at_fifteen_minutes() {
        let mut f = SignInFailures::default();
        let t0 = 1_000_000_000;
        for i in 0..4 {
            f = after_failure(f, t0 + i);
            assert!(!is_locked(f, t0 + i), "failure {}", i + 1);
        }
        f = after_failure(f, t0 + 10);
        assert_eq!(f.locked_until_ms, t0 + 10 + 1000);
        assert!(is_locked(f, t0 + 500) && !is_locked(f, t0 + 1010));
        f = after_failure(f, t0 + 2000);
        assert_eq!(f.locked_until_ms, t0 + 2000 + 2000);
        f = after_failure(f, t0 + 5000);
        assert_eq!(f.locked_until_ms, t0 + 5000 + 4000);
        // Failing as each lockout ends: 8 s, 16 s, ... 512 s, then capped at 15 minutes.
        for _ in 0..7 {
            f = after_failure(f, f.locked_until_ms);
        }
        assert_eq!(f.locked_until_ms - f.last_ms, 512_000);
        f = after_failure(f, f.locked_until_ms);
        assert_eq!(f.locked_until_ms - f.last_ms, MAX_LOCKOUT_MS);
        // Fifteen quiet minutes after the last failure (so, waiting out the longest lockout)
        // forget everything.
        let later = f.last_ms + MAX_LOCKOUT_MS;
        assert_eq!(current(f, later), SignInFailures::default());
        assert_eq!(after_failure(f, later).count, 1);
    }

    #[test]
    fn phantom_failures_stay_bounded() {
        let phantoms = PhantomFailures::default();
        let pool = PoolId::from("us-east-1_x".to_owned());
        for i in 0..(PHANTOM_CAPACITY + 10) {
            phantoms.fail((pool.clone(), format!("n{i}")), 1_000 + i as i64);
        }
        let len = phantoms.0.lock().unwrap().len();
        assert!(len <= PHANTOM_CAPACITY, "{len}");
        assert_eq!(phantoms.get(&(pool, format!("n{}", PHANTOM_CAPACITY + 9))).count, 1);
    }
}
