//! The directory's storage seam: a small transactional key-value trait ([`KvStore`]) and the one
//! documented key layout ([`Table`]). RocksDB sits behind it in `rocks`; nothing else opens it.
//!
//! Every change is a [`WriteSet`]: puts and deletes applied atomically, guarded by preconditions
//! (a key is absent, or still holds the bytes the caller read). Uniqueness ("exactly one of two
//! concurrent creates wins") and lost-update protection both come from those preconditions.
//!
//! **Bulk path** (`portcullis seed`, issue 5): [`KvStore::bulk_put`] writes a batch of
//! unconditional puts (one RocksDB `WriteBatch`, atomic per batch) without preconditions, and
//! syncs the WAL only when asked. A loader checks absence itself beforehand, writes batches of
//! ~10k users unsynced, then makes them all durable with one synced write ([`KvStore::flush`]:
//! a synced write persists every earlier one in the WAL). `TransactionDB` still locks a batch's
//! keys internally; measured, that costs ~10% over a plain `DB`. It is meant for offline use, with the daemon stopped: RocksDB lets
//! one process open the database, so the loader cannot race the daemon's writers. SST ingestion
//! was not used: the `TransactionDB` binding has no `ingest_external_file`, and write batches
//! already load a million users in 1-1.5 minutes on 2 cores, mostly CPU (see `src/seed.rs`).

mod decoded;
pub mod directory;
pub mod groups;
pub mod import_jobs;
pub mod lockouts;
pub mod messages;
pub mod purge;
pub mod records;
mod reindex;
mod rocks;
pub mod user_index;
pub mod users;

pub use directory::Directory;
pub use rocks::{RocksStore, StoreMemory};

/// The record kinds, one RocksDB column family each. **The key layout, in one place:**
///
/// | table          | key                                  | value                                  |
/// |----------------|--------------------------------------|----------------------------------------|
/// | `pools`        | `{pool_id}`                          | [`records::UserPool`] (JSON)           |
/// | `clients`      | `{client_id}`                        | [`records::AppClient`] (JSON)          |
/// | `pool_clients` | `{pool_id}\0{client_id}`             | empty (index for listing a pool's clients) |
/// | `groups`       | `{pool_id}\0{group_name}`            | [`records::Group`] (JSON)              |
/// | `group_members` | `{pool_id}\0{group}\0{user_key}`    | empty (a group's members)              |
/// | `user_groups`  | `{pool_id}\0{user_key}\0{group}`     | empty (a user's groups; written with `group_members`) |
/// | `users`        | `{pool_id}\0{user_key}`              | [`records::User`] (JSON)               |
/// | `users_by_sub` | `{pool_id}\0{sub}`                   | `{user_key}` (index)                   |
/// | `user_index`   | `{pool_id}\0{attribute}\0{value}\0{user_key}` | empty (ListUsers filters: [`user_index::SEARCHABLE`]) |
/// | `sign_in_names` | `{pool_id}\0{attribute}\0{normalized value}` | `{user_key}` (aliases and username attributes: [`user_index::SignInNames`]) |
/// | `sign_in_failures` | `{pool_id}\0{user_key}`           | [`records::SignInFailures`] (JSON; brute-force lockout) |
/// | `sign_ins`     | `{pool_id}\0{user_key}\0{origin_jti}` | [`records::SignIn`] (JSON)             |
/// | `refresh_tokens` | SHA-256 of the refresh token (32 bytes) | the `sign_ins` key it belongs to   |
/// | `message_queue` | `{next_attempt: u64 BE}{uuid_v7}` (due order) | [`messages::QueuedMessage`] (JSON; content sealed) |
/// | `dev_outbox`   | `{pool_id}\0{uuid_v7}`               | [`messages::DeliveredMessage`] (JSON; content sealed) |
/// | `import_jobs`  | `{job_id}`                           | [`import_jobs::ImportJob`] (JSON; the CSV is a file, see `idp::import`) |
/// | `pool_import_jobs` | `{pool_id}\0{job_id}`           | empty (index for listing a pool's import jobs) |
/// | `meta`         | `last_clean_shutdown`                | epoch seconds of the last graceful stop |
/// | `meta`         | `verifier_data_key`                  | the data key sealing password verifiers, sealed by the HSM |
/// | `meta`         | `password_check_tags`                | `1`: every sealed verifier has a password check tag (`auth::password`) |
/// | `meta`         | `user_index_version`                 | `1`: `user_index` and `sign_in_names` cover every user (`reindex`) |
/// | `meta`         | `timing_pad`                         | never stored: deleted, synced, in answers about unknown users (`Directory::timing_pad`) |
/// | `meta`         | `purge/{pool_id}`                    | epoch seconds: the pool was deleted, its users are being purged (`purge`) |
///
/// Pool ids never contain `\0`, so `{pool_id}\0` is an exact prefix for a pool's records.
/// `user_key` is the username as the pool compares it: lower-cased unless the pool's
/// `UsernameConfiguration.CaseSensitive` is true; usernames never contain `\0`.
/// Keys sort bytewise; listing walks a prefix in key order and pages by the last key seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Pools,
    Clients,
    PoolClients,
    Groups,
    GroupMembers,
    UserGroups,
    Users,
    UsersBySub,
    UserIndex,
    SignInNames,
    SignInFailures,
    SignIns,
    RefreshTokens,
    MessageQueue,
    DevOutbox,
    ImportJobs,
    PoolImportJobs,
    Meta,
}

impl Table {
    pub const ALL: [Table; 18] = [
        Table::Pools,
        Table::Clients,
        Table::PoolClients,
        Table::Groups,
        Table::GroupMembers,
        Table::UserGroups,
        Table::Users,
        Table::UsersBySub,
        Table::UserIndex,
        Table::SignInNames,
        Table::SignInFailures,
        Table::SignIns,
        Table::RefreshTokens,
        Table::MessageQueue,
        Table::DevOutbox,
        Table::ImportJobs,
        Table::PoolImportJobs,
        Table::Meta,
    ];

    /// The column family name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Pools => "pools",
            Table::Clients => "clients",
            Table::PoolClients => "pool_clients",
            Table::Groups => "groups",
            Table::GroupMembers => "group_members",
            Table::UserGroups => "user_groups",
            Table::Users => "users",
            Table::UsersBySub => "users_by_sub",
            Table::UserIndex => "user_index",
            Table::SignInNames => "sign_in_names",
            Table::SignInFailures => "sign_in_failures",
            Table::SignIns => "sign_ins",
            Table::RefreshTokens => "refresh_tokens",
            Table::MessageQueue => "message_queue",
            Table::DevOutbox => "dev_outbox",
            Table::ImportJobs => "import_jobs",
            Table::PoolImportJobs => "pool_import_jobs",
            Table::Meta => "meta",
        }
    }
}

/// A key scoped to a pool: `{pool_id}\0{rest}`.
pub fn scoped_key(pool_id: &str, rest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(pool_id.len() + 1 + rest.len());
    k.extend_from_slice(pool_id.as_bytes());
    k.push(0);
    k.extend_from_slice(rest.as_bytes());
    k
}

/// The prefix of every key scoped to a pool: `{pool_id}\0`.
pub fn pool_prefix(pool_id: &str) -> Vec<u8> {
    scoped_key(pool_id, "")
}

/// A condition checked, under lock, before a write set is applied.
#[derive(Debug, Clone)]
pub enum Precondition {
    /// The key must not exist (create).
    Absent(Table, Vec<u8>),
    /// The key must exist (a parent record that must not vanish meanwhile).
    Present(Table, Vec<u8>),
    /// The key must hold exactly these bytes (update of what was read; delete of what exists).
    Unchanged(Table, Vec<u8>, Vec<u8>),
}

#[derive(Debug, Clone)]
enum Mutation {
    Put(Table, Vec<u8>, Vec<u8>),
    Delete(Table, Vec<u8>),
}

/// How durable a commit is when it is acknowledged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The WAL is fsynced first (unless `store.sync_writes` is off): survives power loss.
    #[default]
    Synced,
    /// Written to the WAL through the OS but not fsynced: survives `kill -9` of the daemon, not
    /// a power loss (until the next synced commit or flush, which persists it too). Only for
    /// records whose loss fails safe: a sign-in that vanishes makes its tokens stop working.
    /// Revocations are never written this way.
    ProcessCrashSafe,
}

/// Puts and deletes applied atomically, all or nothing, after every precondition holds.
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    preconditions: Vec<Precondition>,
    mutations: Vec<Mutation>,
    durability: Durability,
}

impl WriteSet {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn require(&mut self, p: Precondition) -> &mut Self {
        self.preconditions.push(p);
        self
    }
    pub fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) -> &mut Self {
        self.mutations.push(Mutation::Put(table, key, value));
        self
    }
    pub fn delete(&mut self, table: Table, key: Vec<u8>) -> &mut Self {
        self.mutations.push(Mutation::Delete(table, key));
        self
    }
    /// The puts alone, for the bulk path (preconditions and deletes are dropped).
    pub fn into_puts(self) -> impl Iterator<Item = (Table, Vec<u8>, Vec<u8>)> {
        self.mutations.into_iter().filter_map(|m| match m {
            Mutation::Put(t, k, v) => Some((t, k, v)),
            Mutation::Delete(..) => None,
        })
    }
    pub fn durability(&mut self, durability: Durability) -> &mut Self {
        self.durability = durability;
        self
    }
}

/// A storage failure (I/O, corruption, lock timeout): always an internal fault.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// Why a write set was not applied.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Precondition number `.0` (in the order added) did not hold; nothing was written.
    #[error("precondition {0} failed")]
    Conflict(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of a prefix scan.
pub struct Page {
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
    /// The last key returned when more may follow.
    pub next_after: Option<Vec<u8>>,
}

/// The storage backend. Implementations must make `commit` atomic and, when configured,
/// durable before it returns (an acknowledged write survives `kill -9`).
pub trait KvStore: Send + Sync + 'static {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` entries whose key starts with `prefix`, strictly after `after` if given.
    fn scan(&self, table: Table, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Page, StoreError>;
    fn commit(&self, writes: WriteSet) -> Result<(), CommitError>;
    /// Bulk loading: applies `puts` atomically as one batch, with no preconditions (existing keys
    /// are replaced: the caller checks absence first). With `sync = false` the batch is in the
    /// WAL but not fsynced; a later `sync = true` batch (or [`KvStore::flush`]) makes it durable.
    /// Offline use only (see the module documentation).
    fn bulk_put(&self, puts: Vec<(Table, Vec<u8>, Vec<u8>)>, sync: bool) -> Result<(), StoreError>;
    /// Flushes memtables and the WAL (graceful shutdown).
    fn flush(&self) -> Result<(), StoreError>;
}
