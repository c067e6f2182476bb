//! The directory's users and sign-ins: user records with their `sub` index, and the sign-in
//! records behind refresh tokens (revoking a sign-in revokes every token minted from it).

use std::collections::BTreeSet;

use super::directory::{decode, encode, pool_missing, token_key, Directory, Listing, Versioned};
use super::messages::{enqueue, QueuedMessage};
use super::records::{now_epoch, SignIn, User, UserPool};
use super::user_index::{claim_key, search_entries, search_prefix, user_key_of_entry, SignInNames};
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
        Self { puts: Vec::with_capacity(users * 12), users: 0 }
    }

    /// Adds a user record with its index entries and sign-in names, as [`Directory::create_user`]
    /// writes them.
    pub fn add(&mut self, names: &SignInNames, user_key: &str, user: &User) -> Result<()> {
        let mut writes = UserWrite::default();
        stage_new_entries(&mut writes, names, user_key, (None, user), &BTreeSet::new())?;
        let pool_id = user.pool_id.as_str();
        self.puts.push((Table::Users, user_table_key(&user.pool_id, user_key), encode(user)?));
        self.puts.push((Table::UsersBySub, scoped_key(pool_id, &user.sub), user_key.as_bytes().to_vec()));
        self.puts.extend(writes.w.into_puts());
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

/// What to do when a user newly claims a verified email or phone alias another user holds
/// (`ForceAliasCreation`): refuse, or move the alias, leaving the other user's attribute
/// unverified. Names that need no verification (username attributes, `preferred_username`)
/// are never moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasTakeover {
    Refuse,
    Move,
}

/// What a failed precondition of a user write means.
enum Conflict {
    PoolMissing,
    UsernameTaken,
    /// A sign-in name (attribute) already claimed by another user.
    NameTaken(String),
    Changed,
}

/// A user write being assembled: its write set and, in order, what each precondition means.
#[derive(Default)]
struct UserWrite {
    w: WriteSet,
    conflicts: Vec<Conflict>,
}

impl UserWrite {
    fn require(&mut self, precondition: Precondition, meaning: Conflict) {
        self.w.require(precondition);
        self.conflicts.push(meaning);
    }

    /// The pool of the users written must still exist.
    fn require_pool(&mut self, pool_id: &PoolId) {
        self.require(Precondition::Present(Table::Pools, pool_id.as_str().as_bytes().to_vec()), Conflict::PoolMissing);
    }
}

/// The error for failed precondition `i` of a user write: creations report taken names as
/// `UsernameExistsException`, changes as `AliasExistsException` (as Cognito does).
fn conflict_error(conflicts: &[Conflict], i: usize, pool_id: &PoolId, creating: bool) -> Error {
    match conflicts.get(i) {
        Some(Conflict::PoolMissing) => pool_missing(pool_id),
        Some(Conflict::UsernameTaken) => Error::new(ErrorKind::UsernameExists, "User account already exists"),
        Some(Conflict::NameTaken(attribute)) if creating => {
            Error::new(ErrorKind::UsernameExists, format!("An account with the given {attribute} already exists."))
        }
        Some(Conflict::NameTaken(attribute)) => {
            Error::new(ErrorKind::AliasExists, format!("An account with the {attribute} already exists."))
        }
        Some(Conflict::Changed) | None => concurrent_user_change(),
    }
}

/// Adds to `writes` what changes from `old` to `new` in a user's search entries and sign-in
/// names: new claims need their name free (an `Absent` precondition), except those in `moved`,
/// which [`Directory::stage_takeover`] already took over from their holder.
fn stage_new_entries(
    writes: &mut UserWrite,
    names: &SignInNames,
    user_key: &str,
    (old, new): (Option<&User>, &User),
    moved: &BTreeSet<Vec<u8>>,
) -> Result<()> {
    let pool_id = new.pool_id.as_str();
    let old_entries = old.map(|u| search_entries(user_key, u)).unwrap_or_default();
    let new_entries = search_entries(user_key, new);
    for gone in old_entries.difference(&new_entries) {
        writes.w.delete(Table::UserIndex, gone.clone());
    }
    for added in new_entries.difference(&old_entries) {
        writes.w.put(Table::UserIndex, added.clone(), Vec::new());
    }
    let old_claims = old.map(|u| names.claims(u)).unwrap_or_default();
    let new_claims = names.claims(new);
    for (attribute, value) in old_claims.difference(&new_claims) {
        writes.w.delete(Table::SignInNames, claim_key(pool_id, attribute, value));
    }
    for (attribute, value) in new_claims.difference(&old_claims) {
        let key = claim_key(pool_id, attribute, value);
        if !moved.contains(&key) {
            writes
                .require(Precondition::Absent(Table::SignInNames, key.clone()), Conflict::NameTaken(attribute.clone()));
        }
        writes.w.put(Table::SignInNames, key, user_key.as_bytes().to_vec());
    }
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
        self.create_user_and_send(user_key, user, &[], AliasTakeover::Refuse)
    }

    /// Creates a user and queues `messages` (an invitation, a confirmation code) in the same
    /// commit. A username or sign-in name already taken is `UsernameExistsException`.
    pub fn create_user_and_send(
        &self,
        user_key: &str,
        user: &User,
        messages: &[QueuedMessage],
        takeover: AliasTakeover,
    ) -> Result<()> {
        let names = SignInNames::of(&*self.pool_shared(&user.pool_id)?);
        let mut writes = UserWrite::default();
        writes.require_pool(&user.pool_id);
        self.stage_creation(&mut writes, &names, (user_key, user), takeover)?;
        let UserWrite { mut w, conflicts } = writes;
        for m in messages {
            enqueue(&mut w, m)?;
        }
        self.commit(w, |i| conflict_error(&conflicts, i, &user.pool_id, true))?;
        self.count_users(&user.pool_id, 1);
        Ok(())
    }

    /// Creates many users of one pool (an import), each atomically: all of them in one commit
    /// when none conflicts, otherwise one commit each, so one taken username fails only its own
    /// entry. The result has one outcome per user, in order. Synced like every user creation.
    pub fn create_users(&self, users: &[(String, User)]) -> Result<Vec<Result<()>>> {
        let Some((_, first)) = users.first() else { return Ok(Vec::new()) };
        let names = SignInNames::of(&*self.pool_shared(&first.pool_id)?);
        let mut all = UserWrite::default();
        all.require_pool(&first.pool_id);
        for (user_key, user) in users {
            self.stage_creation(&mut all, &names, (user_key, user), AliasTakeover::Refuse)?;
        }
        let conflict = |_| Error::new(ErrorKind::UsernameExists, "conflict");
        match self.commit(all.w, conflict) {
            Ok(()) => {
                self.count_users(&first.pool_id, users.len() as i64);
                Ok(users.iter().map(|_| Ok(())).collect())
            }
            Err(e) if e.kind == ErrorKind::UsernameExists => {
                Ok(users.iter().map(|(user_key, user)| self.create_user(user_key, user)).collect())
            }
            Err(e) => Err(e),
        }
    }

    /// Adds a user's creation to `writes` (whose pool precondition the caller adds once): the
    /// username and every sign-in name the user claims must be free (or moved, with
    /// [`AliasTakeover::Move`]).
    fn stage_creation(
        &self,
        writes: &mut UserWrite,
        names: &SignInNames,
        (user_key, user): (&str, &User),
        takeover: AliasTakeover,
    ) -> Result<()> {
        let key = user_table_key(&user.pool_id, user_key);
        writes.require(Precondition::Absent(Table::Users, key.clone()), Conflict::UsernameTaken);
        writes.w.put(Table::Users, key, encode(user)?);
        writes.w.put(Table::UsersBySub, scoped_key(user.pool_id.as_str(), &user.sub), user_key.as_bytes().to_vec());
        let moved = match takeover {
            AliasTakeover::Move => self.stage_takeover(writes, names, user_key, (None, user))?,
            AliasTakeover::Refuse => BTreeSet::new(),
        };
        stage_new_entries(writes, names, user_key, (None, user), &moved)
    }

    /// With [`AliasTakeover::Move`]: for each verified alias `new` claims that another user
    /// holds, un-verifies that user's attribute and takes the claim, in the same commit (both
    /// guarded by `Unchanged`). Returns the claim keys taken over, which `stage_new_entries`
    /// then writes without requiring them free.
    fn stage_takeover(
        &self,
        writes: &mut UserWrite,
        names: &SignInNames,
        user_key: &str,
        (old, new): (Option<&User>, &User),
    ) -> Result<BTreeSet<Vec<u8>>> {
        let mut moved = BTreeSet::new();
        let old_claims = old.map(|u| names.claims(u)).unwrap_or_default();
        for (attribute, value) in names.claims(new).difference(&old_claims) {
            if !names.needs_verification(attribute) {
                continue;
            }
            let key = claim_key(new.pool_id.as_str(), attribute, value);
            let Some(holder_key) =
                self.kv().get(Table::SignInNames, &key).map_err(|e| Error::internal("reading store", e))?
            else {
                continue;
            };
            let holder_name = String::from_utf8_lossy(&holder_key).into_owned();
            if holder_name == user_key {
                continue;
            }
            writes.require(Precondition::Unchanged(Table::SignInNames, key.clone(), holder_key), Conflict::Changed);
            moved.insert(key);
            if let Some(holder) = self.user(&new.pool_id, &holder_name)? {
                let mut released = holder.record.clone();
                released.attributes.insert(format!("{attribute}_verified"), "false".to_owned());
                released.modified = now_epoch();
                let holder_table_key = user_table_key(&new.pool_id, &holder_name);
                writes.require(
                    Precondition::Unchanged(Table::Users, holder_table_key.clone(), holder.raw),
                    Conflict::Changed,
                );
                writes.w.put(Table::Users, holder_table_key, encode(&released)?);
            }
        }
        Ok(moved)
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
        let mut found = None;
        self.for_each_page(Table::Users, &prefix, 1000, |items| {
            found = items
                .iter()
                .map(|(key, _)| key.get(pool_len..).and_then(|k| std::str::from_utf8(k).ok()).unwrap_or_default())
                .find(|user_key| matches(user_key))
                .map(str::to_owned);
            Ok(found.is_none())
        })?;
        Ok(found)
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

    /// Replaces a user as read; a concurrent change in between is `ConcurrentModificationException`,
    /// a sign-in name now claimed that another user holds is `AliasExistsException`.
    pub fn replace_user(&self, user_key: &str, old: &Versioned<User>, new: &User) -> Result<()> {
        self.replace_user_and_send(user_key, old, new, &[], AliasTakeover::Refuse)
    }

    /// Replaces a user as read and queues `messages` in the same commit.
    pub fn replace_user_and_send(
        &self,
        user_key: &str,
        old: &Versioned<User>,
        new: &User,
        messages: &[QueuedMessage],
        takeover: AliasTakeover,
    ) -> Result<()> {
        let pool = self.pool_shared(&new.pool_id)?;
        let names = SignInNames::of(&pool);
        let key = user_table_key(&new.pool_id, user_key);
        let mut writes = UserWrite::default();
        writes.require(Precondition::Unchanged(Table::Users, key.clone(), old.raw.clone()), Conflict::Changed);
        writes.w.put(Table::Users, key, encode(new)?);
        let moved = match takeover {
            AliasTakeover::Move => self.stage_takeover(&mut writes, &names, user_key, (Some(&old.record), new))?,
            AliasTakeover::Refuse => BTreeSet::new(),
        };
        stage_new_entries(&mut writes, &names, user_key, (Some(&old.record), new), &moved)?;
        let UserWrite { mut w, conflicts } = writes;
        for m in messages {
            enqueue(&mut w, m)?;
        }
        self.commit(w, |i| conflict_error(&conflicts, i, &new.pool_id, false))
    }

    /// Deletes a user with their index entries, sign-in names, group memberships and sign-ins.
    pub fn delete_user(&self, user_key: &str, old: &Versioned<User>) -> Result<()> {
        let user = &old.record;
        let pool = self.pool_shared(&user.pool_id)?;
        let key = user_table_key(&user.pool_id, user_key);
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Users, key.clone(), old.raw.clone()));
        w.delete(Table::Users, key);
        w.delete(Table::UsersBySub, scoped_key(user.pool_id.as_str(), &user.sub));
        for entry in search_entries(user_key, user) {
            w.delete(Table::UserIndex, entry);
        }
        for (attribute, value) in SignInNames::of(&pool).claims(user) {
            w.delete(Table::SignInNames, claim_key(user.pool_id.as_str(), &attribute, &value));
        }
        w.delete(Table::SignInFailures, scoped_key(user.pool_id.as_str(), user_key));
        self.delete_sign_ins_with_prefix(&mut w, &user_sign_ins_prefix(&user.pool_id, user_key))?;
        super::groups::delete_memberships_of(self, &mut w, &user.pool_id, user_key)?;
        self.commit(w, |_| concurrent_user_change())?;
        self.count_users(&user.pool_id, -1);
        Ok(())
    }

    /// A user by a name they sign in with: the username as the pool compares it, or a sign-in
    /// name the pool allows (an alias, an email or phone number used as username). Returns the
    /// user's key with the user.
    pub fn find_user(&self, pool: &UserPool, name: &str) -> Result<Option<(String, Versioned<User>)>> {
        let user_key = pool.user_key(name);
        if let Some(user) = self.user(&pool.id, &user_key)? {
            return Ok(Some((user_key, user)));
        }
        let names = SignInNames::of(pool);
        for attribute in &names.attributes {
            let key = claim_key(pool.id.as_str(), attribute, &names.normalize(attribute, name));
            let Some(raw) = self.kv().get(Table::SignInNames, &key).map_err(|e| Error::internal("reading store", e))?
            else {
                continue;
            };
            let holder = String::from_utf8_lossy(&raw).into_owned();
            if let Some(user) = self.user(&pool.id, &holder)? {
                return Ok(Some((holder, user)));
            }
        }
        Ok(None)
    }

    /// One page of the users whose searchable `attribute` equals `value` (`exact`) or starts
    /// with it, in (value, user key) order, through the `user_index` table.
    pub fn search_users(
        &self,
        pool_id: &PoolId,
        filter: (&str, &str, bool),
        token: Option<&str>,
        limit: usize,
    ) -> Result<Listing<User>> {
        let (attribute, value, exact) = filter;
        let page =
            self.page(Table::UserIndex, &search_prefix(pool_id.as_str(), attribute, value, exact), token, limit)?;
        let mut items = Vec::with_capacity(page.items.len());
        for (entry, _) in &page.items {
            // An entry is written with its user, so a miss is a user deleted since the scan.
            if let Some(user) = user_key_of_entry(entry).map(|k| self.user(pool_id, k)).transpose()?.flatten() {
                items.push(user.record);
            }
        }
        Ok(Listing { items, next_token: page.next_token })
    }

    /// One page of a pool's users, in user-key order.
    pub fn list_users(&self, pool_id: &PoolId, token: Option<&str>, limit: usize) -> Result<Listing<User>> {
        let prefix = pool_prefix(pool_id.as_str());
        // A user key holds no `\0`; a key that does comes from a filtered listing's token.
        if let Some(t) = token {
            if token_key(t, &prefix)?.get(prefix.len()..).is_some_and(|rest| rest.contains(&0)) {
                return Err(Error::invalid_parameter("Invalid pagination token."));
            }
        }
        let page = self.page(Table::Users, &prefix, token, limit)?;
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

    /// `EstimatedNumberOfUsers`: counted once from the `sub` index (keys only matter; ~0.2 s
    /// per million users), then kept current in memory by creations and deletions. Changes
    /// racing the first count may be missed, as the name allows.
    pub fn estimated_users(&self, pool_id: &PoolId) -> Result<u64> {
        if let Some(n) = self.user_counts.lock().ok().and_then(|c| c.get(pool_id).copied()) {
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let mut count = 0i64;
        self.for_each_page(Table::UsersBySub, &pool_prefix(pool_id.as_str()), 10_000, |items| {
            count += items.len() as i64;
            Ok(true)
        })?;
        if let Ok(mut counts) = self.user_counts.lock() {
            counts.insert(pool_id.clone(), count);
        }
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Adjusts a pool's user count, if it has been counted.
    fn count_users(&self, pool_id: &PoolId, delta: i64) {
        if let Some(n) = self.user_counts.lock().ok().as_mut().and_then(|c| c.get_mut(pool_id)) {
            *n += delta;
        }
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

    /// A synced write of nothing (a tombstone of an unused `meta` key): the durable work an
    /// answer about a user that does not exist does instead of storing a change, so that it
    /// takes as long as the real one (enumeration safety).
    pub fn timing_pad(&self) -> Result<()> {
        let mut w = WriteSet::new();
        w.delete(Table::Meta, b"timing_pad".to_vec());
        self.commit(w, |_| Error::internal("timing pad", "unexpected precondition"))
    }

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
