//! Brings a directory written before the `user_index` and `sign_in_names` tables existed up to
//! date, once, when it is opened: every user's index entries and sign-in names are written.
//!
//! A `meta` key records that the tables are complete, so the scan runs once per database (a new
//! database is marked at once). The daemon is not serving yet, so nothing races the writes; a
//! crash midway leaves the key unset and the next open repeats the (idempotent) work. A name
//! two old users both claim stays with one of them.

use super::directory::{decode, Directory};
use super::records::{User, UserPool};
use super::user_index::{claim_key, search_entries, SignInNames};
use super::{pool_prefix, Durability, Table, WriteSet};
use crate::protocol::error::{Error, Result};

/// `meta` key: the user tables' derived entries are complete (value: their layout version).
const USER_INDEX_VERSION_KEY: &str = "user_index_version";
const USER_INDEX_VERSION: &[u8] = b"1";

impl Directory {
    /// Writes any missing index entries and sign-in names of existing users (see the module
    /// documentation); returns how many users were visited.
    pub fn ensure_user_index(&self) -> Result<u64> {
        if self.meta(USER_INDEX_VERSION_KEY)?.as_deref() == Some(USER_INDEX_VERSION) {
            return Ok(0);
        }
        let mut visited = 0u64;
        for (_, raw_pool) in self.scan_all(Table::Pools, b"")? {
            let pool: UserPool = decode(&raw_pool)?;
            let names = SignInNames::of(&pool);
            let prefix = pool_prefix(pool.id.as_str());
            self.for_each_page(Table::Users, &prefix, 1000, |items| {
                let mut w = WriteSet::new();
                w.durability(Durability::ProcessCrashSafe);
                for (key, value) in items {
                    let user_key = std::str::from_utf8(key.get(prefix.len()..).unwrap_or_default()).unwrap_or_default();
                    let user: User = decode(value)?;
                    for entry in search_entries(user_key, &user) {
                        w.put(Table::UserIndex, entry, Vec::new());
                    }
                    for (attribute, value) in names.claims(&user) {
                        let claim = claim_key(pool.id.as_str(), &attribute, &value);
                        if self
                            .kv()
                            .get(Table::SignInNames, &claim)
                            .map_err(|e| Error::internal("reading", e))?
                            .is_none()
                        {
                            w.put(Table::SignInNames, claim, user_key.as_bytes().to_vec());
                        }
                    }
                    visited += 1;
                }
                self.commit(w, |_| Error::internal("reindexing users", "unexpected precondition"))?;
                Ok(true)
            })?;
        }
        // Synced: also makes every batch above durable.
        let mut w = WriteSet::new();
        w.put(Table::Meta, USER_INDEX_VERSION_KEY.as_bytes().to_vec(), USER_INDEX_VERSION.to_vec());
        self.commit(w, |_| Error::internal("reindexing users", "unexpected precondition"))?;
        Ok(visited)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::scoped_key;

    #[test]
    fn users_written_before_the_index_get_their_entries_once() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::in_dir(dir.path());
        let mut settings = serde_json::Map::new();
        settings.insert("AliasAttributes".into(), serde_json::json!(["preferred_username"]));
        let pool = UserPool::sample("us-east-1_old", settings);
        directory.create_pool(&pool).unwrap();
        // A user as an older version stored it: the record alone.
        let mut attributes = BTreeMap::new();
        attributes.insert("email".to_owned(), "ann@example.com".to_owned());
        attributes.insert("preferred_username".to_owned(), "Annie".to_owned());
        let user = User::sample(&pool.id, "ann", "sub-ann", attributes);
        let raw = serde_json::to_vec(&user).unwrap();
        directory.kv().bulk_put(vec![(Table::Users, scoped_key(pool.id.as_str(), "ann"), raw)], true).unwrap();
        assert!(directory
            .search_users(&pool.id, ("email", "ann@example.com", true), None, 10)
            .unwrap()
            .items
            .is_empty());

        assert_eq!(directory.ensure_user_index().unwrap(), 1);
        let found = directory.search_users(&pool.id, ("email", "ann@example.com", true), None, 10).unwrap();
        assert_eq!(found.items.len(), 1);
        assert_eq!(directory.find_user(&pool, "annie").unwrap().unwrap().0, "ann");
        // Marked complete: the next open does nothing.
        assert_eq!(directory.ensure_user_index().unwrap(), 0);
    }
}
