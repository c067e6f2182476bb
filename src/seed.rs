//! `portcullis seed` (issue 5): fills an existing pool with many users for load tests, through
//! the store's bulk path instead of one API call per user. Runs offline, with the daemon
//! stopped: it opens the store and the HSM the way `serve` does (see `bootstrap`).
//!
//! Users are `{prefix}{i:07}` for `i` in `0..users`: CONFIRMED, enabled, with a fresh `sub`, the
//! `users_by_sub` index entry and an `email` attribute, so every record is one the daemon could
//! have written. A real SRP verifier costs one 3072-bit modexp (~1 ms), so only `real_passwords`
//! users, spread evenly over the range (every `users / real_passwords`-th, so sign-ins touch the
//! whole key space), get a verifier of `password` (computed on every core); every other user
//! gets one verifier of a random password nobody knows, computed once and sealed per user under
//! that user's own context. They are well-formed but cannot sign in (and, through SRP, all show
//! the same salt: test data only).
//!
//! Existing users are never replaced: if any username of the range exists, nothing is written.
//! An interrupted run leaves the batches written so far; seed another prefix or delete the pool.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::auth::flows::verifier_context;
use crate::auth::password::{DataCipher, PasswordOf, PasswordPolicy};
use crate::auth::srp::SrpVerifier;
use crate::auth::AuthKeys;
use crate::bootstrap;
use crate::config::Config;
use crate::ids::PoolId;
use crate::store::records::{now_epoch, User, UserPool, UserStatus};
use crate::store::user_index::SignInNames;
use crate::store::users::UserBatch;

/// Users per bulk write batch (each user is two puts: the record and its `sub` index entry).
const BATCH_USERS: u64 = 10_000;
/// Most real verifiers (~1 ms each) per work item: small enough that every core gets a share.
const REAL_CHUNK: u64 = 64;
/// Usernames are at most 128 characters.
const MAX_USERNAME: usize = 128;

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub pool_id: String,
    pub users: u64,
    pub prefix: String,
    pub password: String,
    /// K: this many users, every `users / K`-th from user 0 on, get a verifier of `password`
    /// (capped at `users`; see [`PasswordUsers`]).
    pub real_passwords: u64,
    /// Threads building users (0: one per core).
    pub threads: usize,
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub users: u64,
    pub real_passwords: PasswordUsers,
    pub elapsed: Duration,
}

/// The username of user `i`.
pub fn username(prefix: &str, i: u64) -> String {
    format!("{prefix}{i:07}")
}

/// Which users sign in with the seeded password: `K` of `N`, user `i` iff `i` is a multiple of
/// the stride `N / K` below `K · stride`. Load tests list them with [`PasswordUsers::indices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordUsers {
    pub count: u64,
    pub stride: u64,
}

impl PasswordUsers {
    pub fn new(users: u64, real_passwords: u64) -> Self {
        let count = real_passwords.min(users);
        Self { count, stride: users.checked_div(count).unwrap_or(1) }
    }

    pub fn contains(&self, i: u64) -> bool {
        i.is_multiple_of(self.stride) && i / self.stride < self.count
    }

    pub fn indices(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.count).map(|k| k * self.stride)
    }
}

fn check_options(opts: &SeedOptions) -> Result<(), String> {
    if opts.prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("--prefix: usernames cannot contain whitespace or control characters".into());
    }
    let longest = username(&opts.prefix, opts.users.saturating_sub(1));
    if longest.chars().count() > MAX_USERNAME {
        return Err(format!("--prefix: usernames would exceed {MAX_USERNAME} characters"));
    }
    Ok(())
}

/// The first existing user among the usernames to seed, if any (one scan of the key prefix).
fn first_existing(
    directory: &crate::store::Directory,
    pool: &UserPool,
    opts: &SeedOptions,
) -> Result<Option<String>, String> {
    let key_prefix = pool.user_key(&opts.prefix);
    let found = directory
        .find_user_key(&pool.id, &key_prefix, |key| {
            let Some(digits) = key.strip_prefix(key_prefix.as_str()) else { return false };
            match digits.parse::<u64>() {
                Ok(i) => i < opts.users && username("", i) == digits,
                Err(_) => false,
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(found)
}

/// The work items: at most [`REAL_CHUNK`] real verifiers each while they last, then full
/// batches.
fn work_items(users: u64, real: PasswordUsers) -> Vec<Range<u64>> {
    let mut items = Vec::new();
    let mut start = 0;
    let real_end = real.count.saturating_mul(real.stride);
    while start < users {
        let size = if start < real_end { BATCH_USERS.min(REAL_CHUNK.saturating_mul(real.stride)) } else { BATCH_USERS };
        let end = (start + size).min(users);
        items.push(start..end);
        start = end;
    }
    items
}

struct Builder<'a> {
    pool: &'a UserPool,
    names: SignInNames,
    opts: &'a SeedOptions,
    real: PasswordUsers,
    cipher: &'a DataCipher,
    /// The verifier (and what it is of) of users without a usable password.
    unknown: &'a (SrpVerifier, PasswordOf<'a>),
    created: f64,
}

impl Builder<'_> {
    fn batch(&self, range: Range<u64>) -> Result<UserBatch, String> {
        let mut batch = UserBatch::with_capacity(usize::try_from(range.end - range.start).unwrap_or(0));
        for i in range {
            let name = username(&self.opts.prefix, i);
            let user_key = self.pool.user_key(&name);
            let real;
            let (verifier, of) = if self.real.contains(i) {
                real = SrpVerifier::generate(self.pool.name_short(), &name, &self.opts.password)
                    .map_err(|e| format!("computing verifier: {e}"))?;
                (
                    &real,
                    PasswordOf {
                        pool_short: self.pool.name_short(),
                        user_id_for_srp: &name,
                        password: &self.opts.password,
                    },
                )
            } else {
                (&self.unknown.0, self.unknown.1)
            };
            let sealed =
                self.cipher.seal(&verifier_context(self.pool, &user_key), verifier, of).map_err(|e| e.to_string())?;
            let mut attributes = BTreeMap::new();
            attributes.insert("email".to_owned(), format!("{user_key}@example.com"));
            attributes.insert("email_verified".to_owned(), "true".to_owned());
            let user = User {
                pool_id: self.pool.id.clone(),
                username: name,
                sub: uuid::Uuid::new_v4().to_string(),
                attributes,
                status: UserStatus::Confirmed,
                enabled: true,
                created: self.created,
                modified: self.created,
                password: Some(sealed),
                temporary_password_expires: None,
                codes: Default::default(),
            };
            batch.add(&self.names, &user_key, &user).map_err(|e| e.to_string())?;
        }
        Ok(batch)
    }
}

fn progress_line(done: u64, total: u64, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let eta = if rate > 0.0 { format!("{:.0}s", (total - done) as f64 / rate) } else { "?".into() };
    let percent = if total > 0 { done as f64 * 100.0 / total as f64 } else { 100.0 };
    format!("seed: {done}/{total} users ({percent:.0}%), {rate:.0} users/s, ETA {eta}")
}

/// Seeds the pool. Progress goes to stderr once a second.
pub fn run(config: &Config, opts: &SeedOptions) -> Result<SeedReport, String> {
    let started = Instant::now();
    check_options(opts)?;
    // K beyond N (e.g. the default K with a small N) means every user.
    let real = PasswordUsers::new(opts.users, opts.real_passwords);
    // The store first: if the daemon holds the database, fail before touching anything else.
    let directory = bootstrap::open_directory(config)?;
    let pool = directory.pool(&PoolId::from(opts.pool_id.clone())).map_err(|e| e.to_string())?.record;
    if real.count > 0 {
        PasswordPolicy::of_pool(&pool.settings).check(&opts.password).map_err(|e| format!("--password: {e}"))?;
    }
    if let Some(existing) = first_existing(&directory, &pool, opts)? {
        return Err(format!(
            "pool {} already has user {existing:?} in the range to seed; nothing written \
             (seed another --prefix, or delete those users)",
            pool.id
        ));
    }
    let vault = bootstrap::open_vault(config)?;
    let auth = AuthKeys::load(&directory, vault.as_ref()).map_err(|e| format!("loading sign-in keys: {e}"))?;
    vault.close();

    let mut unknown_password = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut unknown_password);
    let unknown_password = hex::encode(unknown_password);
    let unknown = SrpVerifier::generate(pool.name_short(), "portcullis-seed", &unknown_password)
        .map_err(|e| format!("computing verifier: {e}"))?;
    let unknown_of =
        PasswordOf { pool_short: pool.name_short(), user_id_for_srp: "portcullis-seed", password: &unknown_password };
    let unknown = (unknown, unknown_of);
    let builder = Builder {
        pool: &pool,
        names: SignInNames::of(&pool),
        opts,
        real,
        cipher: &auth.data,
        unknown: &unknown,
        created: now_epoch(),
    };
    let items = work_items(opts.users, real);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };

    let (written, writing) = std::thread::scope(|scope| -> Result<(u64, Duration), String> {
        let (tx, rx) = mpsc::sync_channel::<Result<UserBatch, String>>(threads * 2);
        for _ in 0..threads {
            let (tx, builder, items, next, failed) = (tx.clone(), &builder, &items, &next, &failed);
            scope.spawn(move || {
                while !failed.load(Ordering::Relaxed) {
                    let Some(range) = items.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let built = builder.batch(range.clone());
                    let stop = built.is_err();
                    if tx.send(built).is_err() || stop {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut written = 0u64;
        let mut writing = Duration::ZERO;
        let mut last_report = Instant::now();
        let mut stderr = std::io::stderr();
        for built in rx {
            let batch = match built {
                Ok(b) => b,
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let n = batch.len() as u64;
            let write_started = Instant::now();
            let wrote = directory.bulk_write_users(batch, false);
            writing += write_started.elapsed();
            if let Err(e) = wrote {
                failed.store(true, Ordering::Relaxed);
                return Err(e.to_string());
            }
            written += n;
            if last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                let _ = writeln!(stderr, "{}", progress_line(written, opts.users, started));
            }
        }
        Ok((written, writing))
    })?;
    // A synced write persists every unsynced batch before it.
    directory.flush().map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "{}\nseed: done in {:.1}s, {:.1}s of it in store writes",
        progress_line(written, opts.users, started),
        elapsed.as_secs_f64(),
        writing.as_secs_f64()
    );
    Ok(SeedReport { users: written, real_passwords: real, elapsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_items_cover_the_range_once_with_small_chunks_for_real_verifiers() {
        let covers = |items: &[Range<u64>], users: u64| {
            let mut expected = 0;
            for r in items {
                assert_eq!(r.start, expected);
                expected = r.end;
            }
            assert_eq!(expected, users);
        };
        // Every user real: chunks of 64 users.
        let dense = work_items(130, PasswordUsers::new(130, 1000));
        assert_eq!(dense.first(), Some(&(0..64)));
        assert_eq!(dense.get(2), Some(&(128..130)));
        covers(&dense, 130);
        // One in 100 real (stride 100): 64 real verifiers per item.
        let some = work_items(25_000, PasswordUsers::new(25_000, 250));
        assert_eq!(some.first(), Some(&(0..6_400)));
        assert_eq!(some.get(3), Some(&(19_200..25_000)));
        covers(&some, 25_000);
        // One in 1000: full batches (10 real verifiers each).
        let sparse = work_items(1_000_000, PasswordUsers::new(1_000_000, 1_000));
        assert!(sparse.iter().all(|r| r.end - r.start == BATCH_USERS));
        covers(&sparse, 1_000_000);
        // None real: full batches.
        assert_eq!(work_items(25_000, PasswordUsers::new(25_000, 0)).get(2), Some(&(20_000..25_000)));
        assert!(work_items(0, PasswordUsers::new(0, 0)).is_empty());
    }

    #[test]
    fn password_users_are_spread_over_the_whole_range() {
        let real = PasswordUsers::new(1_000_000, 1_000);
        assert_eq!(real.stride, 1_000);
        let listed: Vec<u64> = real.indices().collect();
        assert_eq!(listed.len(), 1_000);
        assert_eq!((listed[0], listed[1], listed[999]), (0, 1_000, 999_000));
        assert!(listed.iter().all(|&i| real.contains(i)));
        assert_eq!((0..1_000_000).filter(|&i| real.contains(i)).count(), 1_000);
        // K not dividing N: the stride rounds down, the last users get none.
        let uneven = PasswordUsers::new(10, 3);
        assert_eq!(uneven.indices().collect::<Vec<_>>(), vec![0, 3, 6]);
        assert!(!uneven.contains(9));
        // K = 0: nobody; K > N: everybody.
        assert_eq!(PasswordUsers::new(10, 0).indices().count(), 0);
        assert!(!PasswordUsers::new(10, 0).contains(0));
        assert!((0..10).all(|i| PasswordUsers::new(10, 50).contains(i)));
    }

    #[test]
    fn usernames_are_zero_padded() {
        assert_eq!(username("user", 42), "user0000042");
        assert_eq!(username("u", 12_345_678), "u12345678");
    }
}
