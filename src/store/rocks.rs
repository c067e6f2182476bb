//! The RocksDB backend of [`KvStore`]: a `TransactionDB` with one column family per [`Table`].
//! Preconditions take exclusive row locks (`get_for_update`), so concurrent writers serialise.

use std::path::Path;

use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, MultiThreaded,
    Options, ReadOptions, TransactionDB, TransactionDBOptions, TransactionOptions, WriteBatchWithTransaction,
    WriteOptions,
};

use super::{CommitError, Durability, KvStore, Mutation, Page, Precondition, StoreError, Table, WriteSet};

type Db = TransactionDB<MultiThreaded>;

pub struct RocksStore {
    db: Db,
    /// fsync the WAL before acknowledging each commit.
    sync_writes: bool,
}

/// Bloom filter bits per key: ~1% false positives, so a lookup of a key that is not there
/// (a wrong username, an unknown refresh token) rarely reads a data block.
const BLOOM_BITS_PER_KEY: f64 = 10.0;

/// How much memory RocksDB may hold, so the daemon's footprint stays flat as the directory grows.
#[derive(Debug, Clone, Copy)]
pub struct StoreMemory {
    /// One LRU block cache shared by every column family; index and filter blocks live in it
    /// too, so it bounds what reads keep in memory however large the directory is.
    pub block_cache_bytes: usize,
    /// All memtables together (RocksDB's write buffer manager flushes the largest past this).
    pub write_buffer_bytes: usize,
}

impl StoreMemory {
    /// Small enough for tests and tools.
    pub const SMALL: StoreMemory = StoreMemory { block_cache_bytes: 8 << 20, write_buffer_bytes: 8 << 20 };

    fn column_family_options(&self, cache: &Cache) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(cache);
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        // Index and filter blocks live in the cache, cut into 4 KiB partitions under a small
        // pinned top level: a monolithic index block of a large SST file (hundreds of KiB) is
        // evicted by data blocks in its cache shard and then re-read and decompressed on every
        // lookup (seen as ~8% of a sign-in's CPU once the directory had grown to 200 MB).
        table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
        table.set_partition_filters(true);
        table.set_metadata_block_size(4096);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_top_level_index_and_filter(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        let mut cf = Options::default();
        cf.set_compression_type(rocksdb::DBCompressionType::Lz4);
        cf.set_block_based_table_factory(&table);
        // Each memtable is at most half the shared budget (and RocksDB's 64 MiB default).
        cf.set_write_buffer_size((self.write_buffer_bytes / 2).clamp(1 << 20, 64 << 20));
        cf
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn err(e: rocksdb::Error) -> StoreError {
    StoreError(e.into_string())
}

impl RocksStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, sync_writes: bool, memory: StoreMemory) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.set_keep_log_file_num(5);
        opts.set_db_write_buffer_size(memory.write_buffer_bytes);
        let cache = Cache::new_lru_cache(memory.block_cache_bytes);
        let mut txn_opts = TransactionDBOptions::default();
        // A writer waits at most this long for another's row lock before failing.
        txn_opts.set_txn_lock_timeout(2_000);
        let cfs =
            Table::ALL.iter().map(|t| ColumnFamilyDescriptor::new(t.name(), memory.column_family_options(&cache)));
        let db = Db::open_cf_descriptors(&opts, &txn_opts, path, cfs).map_err(err)?;
        Ok(Self { db, sync_writes })
    }

    fn cf(&self, table: Table) -> Result<std::sync::Arc<rocksdb::BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(table.name()).ok_or_else(|| StoreError(format!("missing column family {}", table.name())))
    }
}

impl KvStore for RocksStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get_cf(&self.cf(table)?, key).map_err(err)
    }

    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Page, StoreError> {
        let cf = self.cf(table)?;
        let start = after.unwrap_or(prefix);
        let mut items = Vec::new();
        let mut more = false;
        // The upper bound stops the iterator at the end of the prefix, so it never walks the
        // tombstones of deleted records that sort after it (a deleted pool's users, say).
        let mut read = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            read.set_iterate_upper_bound(end);
        }
        for entry in self.db.iterator_cf_opt(&cf, read, IteratorMode::From(start, Direction::Forward)) {
            let (k, v) = entry.map_err(err)?;
            if !k.starts_with(prefix) {
                break;
            }
            if after.is_some_and(|a| *k == *a) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push((k.to_vec(), v.to_vec()));
        }
        let next_after = if more { items.last().map(|(k, _)| k.clone()) } else { None };
        Ok(Page { items, next_after })
    }

    fn commit(&self, writes: WriteSet) -> Result<(), CommitError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync_writes && writes.durability == Durability::Synced);
        let txn = self.db.transaction_opt(&wo, &TransactionOptions::default());
        for (i, p) in writes.preconditions.iter().enumerate() {
            let holds = match p {
                Precondition::Absent(t, k) => txn.get_for_update_cf(&self.cf(*t)?, k, true).map_err(err)?.is_none(),
                Precondition::Present(t, k) => txn.get_for_update_cf(&self.cf(*t)?, k, true).map_err(err)?.is_some(),
                Precondition::Unchanged(t, k, expected) => {
                    txn.get_for_update_cf(&self.cf(*t)?, k, true).map_err(err)?.as_deref() == Some(expected.as_slice())
                }
            };
            if !holds {
                txn.rollback().map_err(err)?;
                return Err(CommitError::Conflict(i));
            }
        }
        for m in &writes.mutations {
            match m {
                Mutation::Put(t, k, v) => txn.put_cf(&self.cf(*t)?, k, v).map_err(err)?,
                Mutation::Delete(t, k) => txn.delete_cf(&self.cf(*t)?, k).map_err(err)?,
            }
        }
        txn.commit().map_err(err)?;
        Ok(())
    }

    fn bulk_put(&self, puts: Vec<(Table, Vec<u8>, Vec<u8>)>, sync: bool) -> Result<(), StoreError> {
        let mut batch = WriteBatchWithTransaction::<true>::default();
        for (t, k, v) in &puts {
            batch.put_cf(&self.cf(*t)?, k, v);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo).map_err(err)
    }

    /// A synced write persists the whole WAL up to it, including unsynced earlier commits
    /// (`sync_writes = false`); `TransactionDB` has no separate WAL flush.
    fn flush(&self) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        let txn = self.db.transaction_opt(&wo, &TransactionOptions::default());
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        txn.put_cf(&self.cf(Table::Meta)?, b"last_clean_shutdown", stamp).map_err(err)?;
        txn.commit().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn store() -> (tempfile::TempDir, RocksStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = RocksStore::open(&dir.path().join("db"), true, StoreMemory::SMALL).unwrap();
        (dir, s)
    }

    #[test]
    fn absent_precondition_lets_exactly_one_concurrent_create_win() {
        let (_dir, s) = store();
        let s = Arc::new(s);
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (s, barrier) = (s.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut ws = WriteSet::new();
                    ws.require(Precondition::Absent(Table::Groups, b"p\0admins".to_vec()));
                    ws.put(Table::Groups, b"p\0admins".to_vec(), format!("{i}").into_bytes());
                    barrier.wait();
                    s.commit(ws)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(CommitError::Conflict(0)))));
    }

    #[test]
    fn a_failed_precondition_writes_nothing() {
        let (_dir, s) = store();
        let mut ws = WriteSet::new();
        ws.put(Table::Pools, b"a".to_vec(), b"1".to_vec());
        s.commit(ws).unwrap();
        let mut ws = WriteSet::new();
        ws.require(Precondition::Unchanged(Table::Pools, b"a".to_vec(), b"stale".to_vec()));
        ws.put(Table::Pools, b"a".to_vec(), b"2".to_vec());
        ws.put(Table::Clients, b"c".to_vec(), b"x".to_vec());
        assert!(matches!(s.commit(ws), Err(CommitError::Conflict(0))));
        assert_eq!(s.get(Table::Pools, b"a").unwrap().unwrap(), b"1");
        assert!(s.get(Table::Clients, b"c").unwrap().is_none());
    }

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        assert_eq!(prefix_end(b"p\0"), Some(b"p\x01".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn scan_pages_through_a_prefix_only() {
        let (_dir, s) = store();
        let mut ws = WriteSet::new();
        for k in ["p\0a", "p\0b", "p\0c", "q\0a"] {
            ws.put(Table::Groups, k.as_bytes().to_vec(), b"v".to_vec());
        }
        s.commit(ws).unwrap();
        let first = s.scan(Table::Groups, b"p\0", None, 2).unwrap();
        assert_eq!(first.items.len(), 2);
        let after = first.next_after.unwrap();
        let second = s.scan(Table::Groups, b"p\0", Some(&after), 2).unwrap();
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.items[0].0, b"p\0c");
        assert!(second.next_after.is_none());
    }

    #[test]
    fn bulk_put_writes_every_table_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RocksStore::open(&dir.path().join("db"), true, StoreMemory::SMALL).unwrap();
            let mut ws = WriteSet::new();
            ws.put(Table::Users, b"p\0old".to_vec(), b"before".to_vec());
            s.commit(ws).unwrap();
            for batch in 0..3u32 {
                let puts = (0..1000u32)
                    .flat_map(|i| {
                        let n = batch * 1000 + i;
                        [
                            (Table::Users, format!("p\0u{n:07}").into_bytes(), format!("user {n}").into_bytes()),
                            (Table::UsersBySub, format!("p\0sub-{n}").into_bytes(), format!("u{n:07}").into_bytes()),
                        ]
                    })
                    .collect();
                s.bulk_put(puts, batch == 2).unwrap();
            }
            // Unconditional: an existing key is replaced.
            s.bulk_put(vec![(Table::Users, b"p\0old".to_vec(), b"after".to_vec())], true).unwrap();
        }
        let s = RocksStore::open(&dir.path().join("db"), true, StoreMemory::SMALL).unwrap();
        let mut count = 0;
        let mut after = None;
        loop {
            let page = s.scan(Table::Users, b"p\0u", after.as_deref(), 700).unwrap();
            count += page.items.len();
            match page.next_after {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        assert_eq!(count, 3000);
        assert_eq!(s.get(Table::Users, b"p\0u0002999").unwrap().unwrap(), b"user 2999");
        assert_eq!(s.get(Table::UsersBySub, b"p\0sub-1234").unwrap().unwrap(), b"u0001234");
        assert_eq!(s.get(Table::Users, b"p\0old").unwrap().unwrap(), b"after");
    }

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = RocksStore::open(&dir.path().join("db"), true, StoreMemory::SMALL).unwrap();
            let mut ws = WriteSet::new();
            ws.put(Table::Meta, b"k".to_vec(), b"v".to_vec());
            s.commit(ws).unwrap();
        }
        let s = RocksStore::open(&dir.path().join("db"), true, StoreMemory::SMALL).unwrap();
        assert_eq!(s.get(Table::Meta, b"k").unwrap().unwrap(), b"v");
    }
}
