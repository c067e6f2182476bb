//! The typed directory over [`KvStore`]: pools, app clients and groups, with the Cognito errors
//! that their existence and uniqueness rules produce. Handlers use this, never raw keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::decoded::DecodedCache;
use super::purge::purge_marker;
use super::records::{unix_now, AppClient, UserPool};
use super::{pool_prefix, scoped_key, CommitError, KvStore, Precondition, Table, WriteSet};
use crate::ids::{ClientId, PoolId};
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::scheduling;

/// A record as read, with the bytes it was read as, so that a later write can require it
/// unchanged (a concurrent writer then gets `ConcurrentModificationException`).
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub record: T,
    pub(super) raw: Vec<u8>,
}

/// One page of a listing and the opaque token for the next, if any.
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

#[derive(Clone)]
pub struct Directory {
    kv: Arc<dyn KvStore>,
    pools: Arc<DecodedCache<UserPool>>,
    clients: Arc<DecodedCache<AppClient>>,
    /// Users per pool for `EstimatedNumberOfUsers`, counted on first use (see `users.rs`).
    pub(super) user_counts: Arc<Mutex<HashMap<PoolId, i64>>>,
}

/// Most pools, and most app clients, kept decoded (see [`Directory::pool_shared`]).
const DECODED_CACHE_ENTRIES: usize = 1024;

pub(super) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| Error::internal("encoding record", e))
}

pub(super) fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T> {
    serde_json::from_slice(raw).map_err(|e| Error::internal("decoding record", e))
}

pub(super) fn pool_missing(id: &PoolId) -> Error {
    Error::not_found(format!("User pool {id} does not exist."))
}

fn client_missing(id: &str) -> Error {
    Error::not_found(format!("User pool client {id} does not exist."))
}

/// A client named with a pool must belong to it; another pool's client does not exist there.
fn of_pool(client: &AppClient, pool_id: &PoolId) -> Result<()> {
    if &client.pool_id == pool_id {
        Ok(())
    } else {
        Err(client_missing(client.id.as_str()))
    }
}

pub(super) fn group_missing() -> Error {
    Error::not_found("Group not found.")
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The key a pagination token resumes after; it must lie under `prefix` (a token of another
/// listing is `InvalidParameterException`).
pub(super) fn token_key(token: &str, prefix: &[u8]) -> Result<Vec<u8>> {
    let key = B64.decode(token).map_err(|_| Error::invalid_parameter("Invalid pagination token."))?;
    if !key.starts_with(prefix) {
        return Err(Error::invalid_parameter("Invalid pagination token."));
    }
    Ok(key)
}

impl Directory {
    pub fn new(kv: Arc<dyn KvStore>) -> Self {
        Self {
            kv,
            pools: Arc::new(DecodedCache::new(DECODED_CACHE_ENTRIES)),
            clients: Arc::new(DecodedCache::new(DECODED_CACHE_ENTRIES)),
            user_counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A directory on a RocksDB in `dir` with small memory budgets (unit tests).
    #[cfg(test)]
    pub fn in_dir(dir: &std::path::Path) -> Self {
        Self::new(Arc::new(super::RocksStore::open(dir, true, super::StoreMemory::SMALL).unwrap()))
    }

    pub(super) fn kv(&self) -> &dyn KvStore {
        self.kv.as_ref()
    }

    /// Flushes the store (graceful shutdown).
    pub fn flush(&self) -> Result<()> {
        self.kv.flush().map_err(|e| Error::internal("flushing store", e))
    }

    pub(super) fn read<T: DeserializeOwned>(&self, table: Table, key: &[u8]) -> Result<Option<Versioned<T>>> {
        match self.kv.get(table, key).map_err(|e| Error::internal("reading store", e))? {
            Some(raw) => Ok(Some(Versioned { record: decode(&raw)?, raw })),
            None => Ok(None),
        }
    }

    /// Applies `writes`; a failed precondition `i` becomes `on_conflict(i)`. A commit may wait
    /// for an fsync of the WAL: inside the multi-threaded runtime it runs in `block_in_place`,
    /// so the reactor hands this worker's other tasks to another thread meanwhile, and under the
    /// normal scheduling policy ([`scheduling::interactive`]) so it resumes as soon as the fsync ends.
    pub(super) fn commit(&self, writes: WriteSet, on_conflict: impl FnOnce(usize) -> Error) -> Result<()> {
        let in_multi_thread_runtime = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let outcome = if in_multi_thread_runtime {
            tokio::task::block_in_place(|| scheduling::interactive(|| self.kv.commit(writes)))
        } else {
            self.kv.commit(writes)
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(CommitError::Conflict(i)) => Err(on_conflict(i)),
            Err(CommitError::Store(e)) => Err(Error::internal("writing store", e)),
        }
    }

    /// Keys (and values) of one page under `prefix`, resuming after an opaque token.
    pub(super) fn page(
        &self,
        table: Table,
        prefix: &[u8],
        token: Option<&str>,
        limit: usize,
    ) -> Result<Listing<(Vec<u8>, Vec<u8>)>> {
        let after = token.map(|t| token_key(t, prefix)).transpose()?;
        let page = self.kv.scan(table, prefix, after.as_deref(), limit).map_err(|e| Error::internal("scanning", e))?;
        Ok(Listing { items: page.items, next_token: page.next_after.map(|k| B64.encode(k)) })
    }

    // ----- pools -----

    pub fn create_pool(&self, pool: &UserPool) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(Precondition::Absent(Table::Pools, pool.id.as_str().as_bytes().to_vec()));
        // Not the id of a deleted pool whose records are still being purged.
        w.require(Precondition::Absent(Table::Meta, purge_marker(&pool.id)));
        w.put(Table::Pools, pool.id.as_str().as_bytes().to_vec(), encode(pool)?);
        self.commit(w, |_| Error::internal("creating pool", "generated pool id collided"))
    }

    pub fn pool(&self, id: &PoolId) -> Result<Versioned<UserPool>> {
        self.read(Table::Pools, id.as_str().as_bytes())?.ok_or_else(|| pool_missing(id))
    }

    /// The pool for reading only (the sign-in and access-token paths), decoded once per version:
    /// the stored bytes are read every time and compared with those the cached copy came from,
    /// so an update or a deletion is seen at once.
    pub fn pool_shared(&self, id: &PoolId) -> Result<Arc<UserPool>> {
        let key = id.as_str().as_bytes();
        let raw = self.kv.get(Table::Pools, key).map_err(|e| Error::internal("reading store", e))?;
        self.pools.decoded(key, raw.ok_or_else(|| pool_missing(id))?)
    }

    pub fn list_pools(&self, token: Option<&str>, limit: usize) -> Result<Listing<UserPool>> {
        let page = self.page(Table::Pools, b"", token, limit)?;
        let items = page.items.iter().map(|(_, v)| decode(v)).collect::<Result<_>>()?;
        Ok(Listing { items, next_token: page.next_token })
    }

    pub fn replace_pool(&self, old: &Versioned<UserPool>, new: &UserPool) -> Result<()> {
        let key = new.id.as_str().as_bytes().to_vec();
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Pools, key.clone(), old.raw.clone()));
        w.put(Table::Pools, key, encode(new)?);
        let id = new.id.clone();
        self.commit(w, |_| concurrent_change(&id))
    }

    /// Deletes a pool with its clients and groups atomically, and marks its users, index entries
    /// and sign-ins for [`Directory::purge_deleted_pool`] (in `purge`): unreachable from now on,
    /// removed in batches afterwards.
    pub fn delete_pool(&self, old: &Versioned<UserPool>) -> Result<()> {
        let id = &old.record.id;
        let prefix = pool_prefix(id.as_str());
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Pools, id.as_str().as_bytes().to_vec(), old.raw.clone()));
        w.delete(Table::Pools, id.as_str().as_bytes().to_vec());
        for (index_key, _) in self.scan_all(Table::PoolClients, &prefix)? {
            if let Some(client_id) = index_key.get(prefix.len()..) {
                w.delete(Table::Clients, client_id.to_vec());
            }
            w.delete(Table::PoolClients, index_key);
        }
        for (key, _) in self.scan_all(Table::Groups, &prefix)? {
            w.delete(Table::Groups, key);
        }
        w.put(Table::Meta, purge_marker(id), unix_now().to_string().into_bytes());
        let id = id.clone();
        self.commit(w, |_| concurrent_change(&id))?;
        if let Ok(mut counts) = self.user_counts.lock() {
            counts.remove(&id);
        }
        Ok(())
    }

    pub(super) fn scan_all(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut all = Vec::new();
        self.for_each_page(table, prefix, 1000, |items| {
            all.extend_from_slice(items);
            Ok(true)
        })?;
        Ok(all)
    }

    /// Walks every entry of `table` under `prefix`, `page_size` at a time, in key order, while
    /// `visit` returns `true`.
    pub(super) fn for_each_page(
        &self,
        table: Table,
        prefix: &[u8],
        page_size: usize,
        mut visit: impl FnMut(&[(Vec<u8>, Vec<u8>)]) -> Result<bool>,
    ) -> Result<()> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page =
                self.kv.scan(table, prefix, after.as_deref(), page_size).map_err(|e| Error::internal("scanning", e))?;
            if !visit(&page.items)? {
                return Ok(());
            }
            match page.next_after {
                Some(k) => after = Some(k),
                None => return Ok(()),
            }
        }
    }

    // ----- app clients -----

    pub fn create_client(&self, client: &AppClient) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(Precondition::Present(Table::Pools, client.pool_id.as_str().as_bytes().to_vec()));
        w.require(Precondition::Absent(Table::Clients, client.id.as_str().as_bytes().to_vec()));
        w.put(Table::Clients, client.id.as_str().as_bytes().to_vec(), encode(client)?);
        w.put(Table::PoolClients, scoped_key(client.pool_id.as_str(), client.id.as_str()), Vec::new());
        let pool_id = client.pool_id.clone();
        self.commit(w, |i| match i {
            0 => pool_missing(&pool_id),
            _ => Error::internal("creating client", "generated client id collided"),
        })
    }

    /// An app client by id alone (public operations name only the client).
    pub fn client_by_id(&self, client_id: &str) -> Result<Versioned<AppClient>> {
        self.read(Table::Clients, client_id.as_bytes())?.ok_or_else(|| client_missing(client_id))
    }

    /// An app client by id alone, for reading only (sign-in, tokens, GetUser), decoded once per
    /// version like [`Directory::pool_shared`].
    pub fn client_shared(&self, client_id: &str) -> Result<Arc<AppClient>> {
        let key = client_id.as_bytes();
        let raw = self.kv.get(Table::Clients, key).map_err(|e| Error::internal("reading store", e))?;
        self.clients.decoded(key, raw.ok_or_else(|| client_missing(client_id))?)
    }

    /// [`Directory::client_shared`] for a client that must belong to `pool_id`.
    pub fn client_shared_in(&self, pool_id: &PoolId, client_id: &str) -> Result<Arc<AppClient>> {
        let client = self.client_shared(client_id)?;
        of_pool(&client, pool_id)?;
        Ok(client)
    }

    /// An app client that must belong to `pool_id`.
    pub fn client(&self, pool_id: &PoolId, client_id: &str) -> Result<Versioned<AppClient>> {
        let client = self.client_by_id(client_id)?;
        of_pool(&client.record, pool_id)?;
        Ok(client)
    }

    pub fn list_clients(&self, pool_id: &PoolId, token: Option<&str>, limit: usize) -> Result<Listing<AppClient>> {
        let prefix = pool_prefix(pool_id.as_str());
        let page = self.page(Table::PoolClients, &prefix, token, limit)?;
        let mut items = Vec::with_capacity(page.items.len());
        for (key, _) in page.items {
            let id = key.get(prefix.len()..).unwrap_or_default();
            if let Some(c) = self.read::<AppClient>(Table::Clients, id)? {
                items.push(c.record);
            }
        }
        Ok(Listing { items, next_token: page.next_token })
    }

    pub fn replace_client(&self, old: &Versioned<AppClient>, new: &AppClient) -> Result<()> {
        let key = new.id.as_str().as_bytes().to_vec();
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Clients, key.clone(), old.raw.clone()));
        w.put(Table::Clients, key, encode(new)?);
        let id = new.id.clone();
        self.commit(w, |_| concurrent_client_change(&id))
    }

    pub fn delete_client(&self, old: &Versioned<AppClient>) -> Result<()> {
        let c = &old.record;
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Clients, c.id.as_str().as_bytes().to_vec(), old.raw.clone()));
        w.delete(Table::Clients, c.id.as_str().as_bytes().to_vec());
        w.delete(Table::PoolClients, scoped_key(c.pool_id.as_str(), c.id.as_str()));
        let id = c.id.clone();
        self.commit(w, |_| concurrent_client_change(&id))
    }
}

fn concurrent_change(id: &PoolId) -> Error {
    Error::new(ErrorKind::ConcurrentModification, format!("User pool {id} was modified concurrently; retry."))
}

fn concurrent_client_change(id: &ClientId) -> Error {
    Error::new(ErrorKind::ConcurrentModification, format!("User pool client {id} was modified concurrently; retry."))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory in a temporary folder (kept alive by the returned guard) holding one sample pool.
    fn directory_with_pool(id: &str) -> (tempfile::TempDir, Directory, UserPool) {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::in_dir(dir.path());
        let pool = UserPool::sample(id, serde_json::Map::new());
        directory.create_pool(&pool).unwrap();
        (dir, directory, pool)
    }

    #[test]
    fn a_shared_pool_is_decoded_once_per_version_and_never_stale() {
        let (_dir, directory, pool) = directory_with_pool("us-east-1_cache");
        let first = directory.pool_shared(&pool.id).unwrap();
        let again = directory.pool_shared(&pool.id).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the same version is served from the cache");

        let current = directory.pool(&pool.id).unwrap();
        directory.replace_pool(&current, &UserPool { name: "after".into(), ..pool.clone() }).unwrap();
        assert_eq!(directory.pool_shared(&pool.id).unwrap().name, "after");

        directory.delete_pool(&directory.pool(&pool.id).unwrap()).unwrap();
        assert_eq!(directory.pool_shared(&pool.id).unwrap_err().kind, ErrorKind::ResourceNotFound);
    }

    #[test]
    fn a_shared_client_follows_updates_and_its_pool() {
        let (_dir, directory, pool) = directory_with_pool("us-east-1_clients");
        let client = AppClient {
            id: ClientId::from("3n4b5urk1ft4fl3mg5e62d9ado".to_owned()),
            pool_id: pool.id.clone(),
            name: "before".into(),
            created: 0.0,
            modified: 0.0,
            sealed_secret: None,
            settings: serde_json::Map::new(),
        };
        directory.create_client(&client).unwrap();
        let first = directory.client_shared(client.id.as_str()).unwrap();
        assert!(Arc::ptr_eq(&first, &directory.client_shared(client.id.as_str()).unwrap()));
        assert_eq!(directory.client_shared_in(&pool.id, client.id.as_str()).unwrap().name, "before");
        let other_pool = PoolId::from("us-east-1_other".to_owned());
        let refused = directory.client_shared_in(&other_pool, client.id.as_str()).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::ResourceNotFound);

        let current = directory.client(&pool.id, client.id.as_str()).unwrap();
        directory.replace_client(&current, &AppClient { name: "after".into(), ..client.clone() }).unwrap();
        assert_eq!(directory.client_shared(client.id.as_str()).unwrap().name, "after");
    }
}
