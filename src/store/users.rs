//! The directory's users and sign-ins: user records with their `sub` index, and the sign-in
//! records behind refresh tokens (revoking a sign-in revokes every token minted from it).

use super::directory::{decode, encode, pool_missing, Directory, Listing, Versioned};
use super::messages::{enqueue, QueuedMessage};
use super::records::{SignIn, User};
use super::{pool_prefix, scoped_key, Durability, Precondition, Table, WriteSet};
use crate::ids::PoolId;
use crate::protocol::error::{Error, ErrorKind, Result};

/// Where a sign-in lives: its pool, its user's key and its `origin_jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInKey {
    pub pool_id: PoolId,
    pub user_key: String,
    pub origin_jti: String,
}

impl SignInKey {
    fn encode(&self) -> Vec<u8> {
        let mut k = scoped_key(self.pool_id.as_str(), &self.user_key);
        k.push(0);
        k.extend_from_slice(self.origin_jti.as_bytes());
        k
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut parts = text.splitn(3, '\0');
        let (pool, user, jti) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Self { pool_id: PoolId::from(pool.to_owned()), user_key: user.to_owned(), origin_jti: jti.to_owned() })
    }
}

/// What a presented refresh token refers to.
pub enum RefreshLookup {
    /// Never issued here (or its user or pool was deleted).
    Unknown,
    /// Issued, then revoked by sign-out or RevokeToken.
    Revoked,
    Active(SignInKey, SignIn),
}

/// New users encoded for [`Directory::bulk_write_users`] (built on any thread).
#[derive(Default)]
pub struct UserBatch {
    puts: Vec<(Table, Vec<u8>, Vec<u8>)>,
    users: usize,
}

impl UserBatch {
    pub fn with_capacity(users: usize) -> Self {
        Self { puts: Vec::with_capacity(users * 2), users: 0 }
    }

    /// Adds a user record and its `users_by_sub` entry, as [`Directory::create_user`] writes them.
    pub fn add(&mut self, user_key: &str, user: &User) -> Result<()> {
        let pool_id = &user.pool_id;
        self.puts.push((Table::Users, user_table_key(pool_id, user_key), encode(user)?));
        self.puts.push((Table::UsersBySub, scoped_key(pool_id.as_str(), &user.sub), user_key.as_bytes().to_vec()));
        self.users += 1;
        Ok(())
    }

    /// How many users the batch holds.
    pub fn len(&self) -> usize {
        self.users
    }

    pub fn is_empty(&self) -> bool {
        self.users == 0
    }
}

/// Adds a new user's record and index entries to `w`, with the preconditions that make the
/// creation fail when the username is taken.
fn stage_user_creation(w: &mut WriteSet, user_key: &str, user: &User) -> Result<()> {
    let pool_id = &user.pool_id;
    w.require(Precondition::Absent(Table::Users, user_table_key(pool_id, user_key)));
    w.put(Table::Users, user_table_key(pool_id, user_key), encode(user)?);
    w.put(Table::UsersBySub, scoped_key(pool_id.as_str(), &user.sub), user_key.as_bytes().to_vec());
    Ok(())
}

fn user_table_key(pool_id: &PoolId, user_key: &str) -> Vec<u8> {
    scoped_key(pool_id.as_str(), user_key)
}

/// Every sign-in of one user: `{pool_id}\0{user_key}\0`.
fn user_sign_ins_prefix(pool_id: &PoolId, user_key: &str) -> Vec<u8> {
    let mut k = scoped_key(pool_id.as_str(), user_key);
    k.push(0);
    k
}

fn concurrent_user_change() -> Error {
    Error::new(ErrorKind::ConcurrentModification, "The user was modified concurrently; retry.")
}

impl Directory {
    /// Creates a user; of two concurrent creates of one user key exactly one succeeds.
    pub fn create_user(&self, user_key: &str, user: &User) -> Result<()> {
        self.create_user_and_send(user_key, user, &[])
    }

    /// Creates a user and queues `messages` (an invitation, a confirmation code) in the same commit.
    pub fn create_user_and_send(&self, user_key: &str, user: &User, messages: &[QueuedMessage]) -> Result<()> {
        let pool_id = &user.pool_id;
        let mut w = WriteSet::new();
        for m in messages {
            enqueue(&mut w, m)?;
        }
        w.require(Precondition::Present(Table::Pools, pool_id.as_str().as_bytes().to_vec()));
        stage_user_creation(&mut w, user_key, user)?;
        let pool_id = pool_id.clone();
        self.commit(w, |i| match i {
            0 => pool_missing(&pool_id),
            _ => Error::new(ErrorKind::UsernameExists, "User account already exists"),
        })
    }

    /// Creates many users of one pool (an import), each atomically: all of them in one commit
    /// when none conflicts, otherwise one commit each, so one taken username fails only its own
    /// entry. The result has one outcome per user, in order. Synced like every user creation.
    pub fn create_users(&self, users: &[(String, User)]) -> Result<Vec<Result<()>>> {
        let mut w = WriteSet::new();
        if let Some((_, first)) = users.first() {
            w.require(Precondition::Present(Table::Pools, first.pool_id.as_str().as_bytes().to_vec()));
        }
        for (user_key, user) in users {
            stage_user_creation(&mut w, user_key, user)?;
        }
        match self.commit(w, |i| Error::new(ErrorKind::UsernameExists, format!("conflict {i}"))) {
            Ok(()) => Ok(users.iter().map(|_| Ok(())).collect()),
            Err(e) if e.kind == ErrorKind::UsernameExists => {
                Ok(users.iter().map(|(user_key, user)| self.create_user(user_key, user)).collect())
            }
            Err(e) => Err(e),
        }
    }

    /// The first user key of a pool that starts with `key_prefix` and satisfies `matches`, in
    /// key order (a bulk loader's absence check over a whole range of usernames in one scan).
    pub fn find_user_key(
        &self,
        pool_id: &PoolId,
        key_prefix: &str,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<Option<String>> {
        let prefix = scoped_key(pool_id.as_str(), key_prefix);
        let pool_len = pool_prefix(pool_id.as_str()).len();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .kv()
                .scan(Table::Users, &prefix, after.as_deref(), 1000)
                .map_err(|e| Error::internal("scanning", e))?;
            for (key, _) in &page.items {
                let user_key = key.get(pool_len..).and_then(|k| std::str::from_utf8(k).ok()).unwrap_or_default();
                if matches(user_key) {
                    return Ok(Some(user_key.to_owned()));
                }
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => return Ok(None),
            }
        }
    }

    /// Writes a batch of new users (records and `sub` index entries) through the store's bulk
    /// path: no preconditions, so the caller has checked that the keys are free and the pool
    /// exists, and nothing else writes meanwhile (offline seeding). `sync` makes this batch and
    /// every earlier one durable.
    pub fn bulk_write_users(&self, batch: UserBatch, sync: bool) -> Result<()> {
        self.kv().bulk_put(batch.puts, sync).map_err(|e| Error::internal("bulk write", e))
    }

    /// A user by key, or `None` (callers choose between `UserNotFoundException` and hiding it).
    pub fn user(&self, pool_id: &PoolId, user_key: &str) -> Result<Option<Versioned<User>>> {
        self.read(Table::Users, &user_table_key(pool_id, user_key))
    }

    /// Replaces a user as read; a concurrent change in between is `ConcurrentModificationException`.
    pub fn replace_user(&self, user_key: &str, old: &Versioned<User>, new: &User) -> Result<()> {
        self.replace_user_and_send(user_key, old, new, &[])
    }

    /// Replaces a user as read and queues `messages` in the same commit.
    pub fn replace_user_and_send(
        &self,
        user_key: &str,
        old: &Versioned<User>,
        new: &User,
        messages: &[QueuedMessage],
    ) -> Result<()> {
        let key = user_table_key(&new.pool_id, user_key);
        let mut w = WriteSet::new();
        for m in messages {
            enqueue(&mut w, m)?;
        }
        w.require(Precondition::Unchanged(Table::Users, key.clone(), old.raw.clone()));
        w.put(Table::Users, key, encode(new)?);
        self.commit(w, |_| concurrent_user_change())
    }

    /// Deletes a user with their index entries and sign-ins.
    pub fn delete_user(&self, user_key: &str, old: &Versioned<User>) -> Result<()> {
        let user = &old.record;
        let key = user_table_key(&user.pool_id, user_key);
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Users, key.clone(), old.raw.clone()));
        w.delete(Table::Users, key);
        w.delete(Table::UsersBySub, scoped_key(user.pool_id.as_str(), &user.sub));
        self.delete_sign_ins_with_prefix(&mut w, &user_sign_ins_prefix(&user.pool_id, user_key))?;
        super::groups::delete_memberships_of(self, &mut w, &user.pool_id, user_key)?;
        self.commit(w, |_| concurrent_user_change())
    }

    /// One page of a pool's users, in user-key order.
    pub fn list_users(&self, pool_id: &PoolId, token: Option<&str>, limit: usize) -> Result<Listing<User>> {
        let page = self.page(Table::Users, &pool_prefix(pool_id.as_str()), token, limit)?;
        let items = page.items.iter().map(|(_, v)| decode(v)).collect::<Result<_>>()?;
        Ok(Listing { items, next_token: page.next_token })
    }

    /// The user key of the user with this `sub`.
    pub fn user_key_by_sub(&self, pool_id: &PoolId, sub: &str) -> Result<Option<String>> {
        let raw = self
            .kv()
            .get(Table::UsersBySub, &scoped_key(pool_id.as_str(), sub))
            .map_err(|e| Error::internal("reading store", e))?;
        Ok(raw.and_then(|r| String::from_utf8(r).ok()))
    }

    // ----- sign-ins -----

    /// Records a completed authentication and its refresh token's hash; the user must still
    /// exist (a sign-in racing a delete loses). Not fsynced ([`Durability::ProcessCrashSafe`]):
    /// a sign-in lost to a power failure only means its tokens stop working.
    pub fn record_sign_in(&self, key: &SignInKey, sign_in: &SignIn) -> Result<()> {
        let mut w = WriteSet::new();
        w.durability(Durability::ProcessCrashSafe);
        w.require(Precondition::Present(Table::Users, user_table_key(&key.pool_id, &key.user_key)));
        w.put(Table::SignIns, key.encode(), encode(sign_in)?);
        w.put(Table::RefreshTokens, sign_in.refresh_hash.clone(), key.encode());
        self.commit(w, |_| Error::new(ErrorKind::UserNotFound, "User does not exist."))
    }

    /// A sign-in, if it has not been revoked.
    pub fn sign_in(&self, key: &SignInKey) -> Result<Option<SignIn>> {
        Ok(self.read::<SignIn>(Table::SignIns, &key.encode())?.map(|v| v.record))
    }

    /// The sign-in a refresh token belongs to, by the token's SHA-256.
    pub fn sign_in_by_refresh_hash(&self, hash: &[u8]) -> Result<RefreshLookup> {
        let Some(raw_key) =
            self.kv().get(Table::RefreshTokens, hash).map_err(|e| Error::internal("reading store", e))?
        else {
            return Ok(RefreshLookup::Unknown);
        };
        let Some(key) = SignInKey::decode(&raw_key) else { return Ok(RefreshLookup::Unknown) };
        Ok(match self.sign_in(&key)? {
            Some(sign_in) => RefreshLookup::Active(key, sign_in),
            None => RefreshLookup::Revoked,
        })
    }

    /// Revokes one sign-in: its refresh token and every token minted from it. The refresh
    /// token's entry stays (pointing at nothing) so that its later use reads as revoked.
    pub fn revoke_sign_in(&self, key: &SignInKey) -> Result<()> {
        let mut w = WriteSet::new();
        w.delete(Table::SignIns, key.encode());
        self.commit(w, |_| concurrent_user_change())
    }

    /// Revokes every sign-in of a user (GlobalSignOut); their refresh tokens then read as revoked.
    pub fn revoke_all_sign_ins(&self, pool_id: &PoolId, user_key: &str) -> Result<()> {
        let mut w = WriteSet::new();
        for (key, _) in self.scan_all(Table::SignIns, &user_sign_ins_prefix(pool_id, user_key))? {
            w.delete(Table::SignIns, key);
        }
        self.commit(w, |_| concurrent_user_change())
    }

    fn delete_sign_ins_with_prefix(&self, w: &mut WriteSet, prefix: &[u8]) -> Result<()> {
        for (key, value) in self.scan_all(Table::SignIns, prefix)? {
            delete_sign_in_for_good(w, &key, &value)?;
        }
        Ok(())
    }

    // ----- meta -----

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.kv().get(Table::Meta, key.as_bytes()).map_err(|e| Error::internal("reading store", e))
    }

    /// Stores a `meta` value unless one exists; returns the value that is stored afterwards.
    pub fn meta_put_if_absent(&self, key: &str, value: Vec<u8>) -> Result<Vec<u8>> {
        let mut w = WriteSet::new();
        w.require(Precondition::Absent(Table::Meta, key.as_bytes().to_vec()));
        w.put(Table::Meta, key.as_bytes().to_vec(), value.clone());
        match self.commit(w, |_| Error::new(ErrorKind::ConcurrentModification, "exists")) {
            Ok(()) => Ok(value),
            Err(e) if e.kind == ErrorKind::ConcurrentModification => {
                self.meta(key)?.ok_or_else(|| Error::internal("meta", "vanished"))
            }
            Err(e) => Err(e),
        }
    }
}

/// Adds to `w` the removal of a stored sign-in (`key`, `value` as in the `sign_ins` table) with
/// its refresh-token entry: its user is gone, so nothing is left to say "revoked" about. (A
/// sign-out keeps the refresh entry; see [`RefreshLookup::Revoked`].)
pub(super) fn delete_sign_in_for_good(w: &mut WriteSet, key: &[u8], value: &[u8]) -> Result<()> {
    let sign_in: SignIn = decode(value)?;
    w.delete(Table::RefreshTokens, sign_in.refresh_hash);
    w.delete(Table::SignIns, key.to_vec());
    Ok(())
}
