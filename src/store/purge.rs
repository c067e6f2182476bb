//! Removing a deleted pool's users, `sub` index entries and sign-ins in bounded batches, after
//! the pool itself is gone; a `meta` marker per pool makes an interrupted purge resume at start-up.
//!
//! `DeleteUserPool` removes the pool, its clients and groups in one transaction and writes the
//! marker `purge/{pool_id}` in the same one, so from then on nothing of the pool is reachable
//! (every operation looks the pool up first) and no new record can be scoped to its id
//! (`create_pool` requires the marker to be absent). A million users would make one transaction
//! of gigabytes, so they go afterwards, [`PURGE_BATCH`] keys per commit, on a background thread;
//! the marker goes last.

use super::directory::Directory;
use super::import_jobs::delete_import_job_entry;
use super::users::delete_sign_in_for_good;
use super::{pool_prefix, Durability, Table, WriteSet};
use crate::ids::PoolId;
use crate::protocol::error::{Error, Result};

/// Keys deleted per commit while purging.
pub const PURGE_BATCH: usize = 1000;
/// `meta` key prefix of the pools being purged; the value is the deletion time (epoch seconds).
pub const PURGE_MARKER_PREFIX: &str = "purge/";

/// The `meta` key marking `pool_id` as deleted but not yet purged.
pub fn purge_marker(pool_id: &PoolId) -> Vec<u8> {
    format!("{PURGE_MARKER_PREFIX}{}", pool_id.as_str()).into_bytes()
}

impl Directory {
    /// Pools deleted whose records are still being removed.
    pub fn pools_awaiting_purge(&self) -> Result<Vec<PoolId>> {
        let markers = self.scan_all(Table::Meta, PURGE_MARKER_PREFIX.as_bytes())?;
        Ok(markers
            .into_iter()
            .filter_map(|(key, _)| {
                let id = std::str::from_utf8(key.get(PURGE_MARKER_PREFIX.len()..)?).ok()?;
                Some(PoolId::from(id.to_owned()))
            })
            .collect())
    }

    /// Removes every user, `sub` index entry, group membership, sign-in, refresh-token entry,
    /// import job and dev-outbox message of a deleted pool, `batch` keys per commit, then its marker. Returns how many users were removed. Safe to run
    /// twice at once or again after an interruption: it only deletes what is still there.
    pub fn purge_deleted_pool(&self, pool_id: &PoolId, batch: usize) -> Result<u64> {
        let prefix = pool_prefix(pool_id.as_str());
        let batch = batch.max(1);
        // Sign-ins first: their refresh-token entries are found only through them.
        self.purge_table(Table::SignIns, &prefix, batch, delete_sign_in_for_good)?;
        // Import jobs: the index entry leads to the record.
        self.purge_table(Table::PoolImportJobs, &prefix, batch, delete_import_job_entry)?;
        for table in [
            Table::DevOutbox,
            Table::GroupMembers,
            Table::UserGroups,
            Table::UsersBySub,
            Table::UserIndex,
            Table::SignInNames,
            Table::SignInFailures,
        ] {
            self.purge_table(table, &prefix, batch, just_the_key(table))?;
        }
        let users = self.purge_table(Table::Users, &prefix, batch, just_the_key(Table::Users))?;
        // Synced: it also makes every unsynced batch before it durable, so a marker never
        // disappears ahead of the records it stands for.
        let mut w = WriteSet::new();
        w.delete(Table::Meta, purge_marker(pool_id));
        self.commit(w, |_| Error::internal("purging pool", "unexpected precondition"))?;
        Ok(users)
    }

    /// Deletes the entries of `table` under `prefix`, one page of `batch` per commit (not
    /// fsynced: the final marker delete is). Returns how many entries were deleted.
    fn purge_table(
        &self,
        table: Table,
        prefix: &[u8],
        batch: usize,
        delete: impl Fn(&mut WriteSet, &[u8], &[u8]) -> Result<()>,
    ) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            // Always the first page: the previous one is gone.
            let page = self.kv().scan(table, prefix, None, batch).map_err(|e| Error::internal("scanning", e))?;
            if page.items.is_empty() {
                return Ok(removed);
            }
            let mut w = WriteSet::new();
            w.durability(Durability::ProcessCrashSafe);
            for (key, value) in &page.items {
                delete(&mut w, key, value)?;
            }
            self.commit(w, |_| Error::internal("purging pool", "unexpected precondition"))?;
            removed += page.items.len() as u64;
            if page.next_after.is_none() {
                return Ok(removed);
            }
        }
    }

    /// Purges every deleted pool still marked, on a background thread (start-up, and after each
    /// DeleteUserPool). Failures are logged; the marker stays and the next start retries.
    pub fn purge_in_background(&self) {
        let directory = self.clone();
        let spawned = std::thread::Builder::new().name("portcullis-purge".into()).spawn(move || {
            let pools = match directory.pools_awaiting_purge() {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "listing deleted pools to purge");
                    return;
                }
            };
            for pool in pools {
                let started = std::time::Instant::now();
                match directory.purge_deleted_pool(&pool, PURGE_BATCH) {
                    Ok(users) => tracing::info!(
                        pool = %pool,
                        users,
                        secs = started.elapsed().as_secs_f64(),
                        "purged the records of a deleted user pool"
                    ),
                    Err(e) => tracing::error!(pool = %pool, error = %e, "purging a deleted user pool"),
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the purge thread");
        }
    }
}

/// The purge step of a table whose entries own nothing else: delete the entry.
fn just_the_key(table: Table) -> impl Fn(&mut WriteSet, &[u8], &[u8]) -> Result<()> {
    move |w, key, _| {
        w.delete(table, key.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::records::{SignIn, User, UserPool};
    use crate::store::user_index::SignInNames;
    use crate::store::users::{SignInKey, UserBatch};

    fn pool(id: &str) -> UserPool {
        UserPool::sample(id, serde_json::Map::new())
    }

    fn user(pool_id: &PoolId, i: usize) -> User {
        User::sample(pool_id, &format!("u{i}"), &format!("sub-{i}"), BTreeMap::new())
    }

    /// A pool with `n` users, each signed in once.
    fn filled(directory: &Directory, id: &str, n: usize) -> PoolId {
        let p = pool(id);
        directory.create_pool(&p).unwrap();
        let mut batch = UserBatch::with_capacity(n);
        let names = SignInNames::of(&p);
        for i in 0..n {
            batch.add(&names, &format!("u{i}"), &user(&p.id, i)).unwrap();
        }
        directory.bulk_write_users(batch, true).unwrap();
        for i in 0..n {
            let key = SignInKey { pool_id: p.id.clone(), user_key: format!("u{i}"), origin_jti: format!("j{i}") };
            let sign_in = SignIn {
                client_id: "c".to_owned().into(),
                sub: format!("sub-{i}"),
                auth_time: 0,
                refresh_hash: format!("{id}-refresh-{i}").into_bytes(),
                refresh_expires: i64::MAX,
            };
            directory.record_sign_in(&key, &sign_in).unwrap();
        }
        p.id
    }

    fn count(directory: &Directory, table: Table, prefix: &[u8]) -> usize {
        directory.scan_all(table, prefix).unwrap().len()
    }

    #[test]
    fn a_deleted_pool_is_purged_in_batches_and_its_neighbour_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::in_dir(dir.path());
        let doomed = filled(&directory, "us-east-1_doomed", 250);
        let kept = filled(&directory, "us-east-1_kept", 30);
        let doomed_prefix = pool_prefix(doomed.as_str());

        directory.delete_pool(&directory.pool(&doomed).unwrap()).unwrap();
        // The pool is gone at once, its users still wait for the purge, marked.
        assert!(directory.pool(&doomed).is_err());
        assert_eq!(count(&directory, Table::Users, &doomed_prefix), 250);
        assert_eq!(directory.pools_awaiting_purge().unwrap(), vec![doomed.clone()]);
        // No pool can be created under the id meanwhile.
        assert!(directory.create_pool(&pool(doomed.as_str())).is_err());

        assert_eq!(directory.purge_deleted_pool(&doomed, 64).unwrap(), 250);
        for table in [Table::Users, Table::UsersBySub, Table::UserIndex, Table::SignIns] {
            assert_eq!(count(&directory, table, &doomed_prefix), 0, "{table:?}");
        }
        let refresh_left = directory.scan_all(Table::RefreshTokens, b"").unwrap();
        assert_eq!(refresh_left.len(), 30);
        assert!(refresh_left.iter().all(|(k, _)| k.starts_with(b"us-east-1_kept-refresh-")));
        assert!(directory.pools_awaiting_purge().unwrap().is_empty());
        // A second run (say, after a crash right before the marker went) finds nothing to do.
        assert_eq!(directory.purge_deleted_pool(&doomed, 64).unwrap(), 0);

        let kept_prefix = pool_prefix(kept.as_str());
        assert_eq!(count(&directory, Table::Users, &kept_prefix), 30);
        assert_eq!(count(&directory, Table::UsersBySub, &kept_prefix), 30);
        // username, sub, cognito:user_status and status for each user.
        assert_eq!(count(&directory, Table::UserIndex, &kept_prefix), 30 * 4);
        assert_eq!(count(&directory, Table::SignIns, &kept_prefix), 30);
        assert!(directory.pool(&kept).is_ok());
    }

    #[test]
    fn an_interrupted_purge_is_found_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let directory = Directory::in_dir(dir.path());
            let id = filled(&directory, "us-east-1_crash", 40);
            directory.delete_pool(&directory.pool(&id).unwrap()).unwrap();
            id
        };
        let directory = Directory::in_dir(dir.path());
        assert_eq!(directory.pools_awaiting_purge().unwrap(), vec![id.clone()]);
        assert_eq!(directory.purge_deleted_pool(&id, 7).unwrap(), 40);
        assert!(directory.pools_awaiting_purge().unwrap().is_empty());
    }
}
