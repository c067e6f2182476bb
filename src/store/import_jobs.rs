//! User import job records (CreateUserImportJob and the rest): the job with its status, counts and
//! resume position, and its pool's index. The CSV itself and the running of jobs are `idp::import`'s.

use serde::{Deserialize, Serialize};

use super::directory::{decode, encode, pool_missing, Directory, Versioned};
use super::records::{now_epoch, EpochSeconds};
use super::{pool_prefix, scoped_key, Precondition, Table, WriteSet};
use crate::ids::{ImportJobId, PoolId};
use crate::protocol::error::{Error, ErrorKind, Result};

/// Cognito's `UserImportJobStatusType`; the variant names are the wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportJobStatus {
    /// Created, waiting for its CSV and StartUserImportJob.
    Created,
    /// Started; the runner has not begun importing.
    Pending,
    InProgress,
    /// StopUserImportJob was called; the runner stops after its current batch.
    Stopping,
    /// Never started within a day of its creation; its CSV is gone.
    Expired,
    Stopped,
    Failed,
    Succeeded,
}

impl ImportJobStatus {
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Expired => "Expired",
            Self::Stopped => "Stopped",
            Self::Failed => "Failed",
            Self::Succeeded => "Succeeded",
        }
    }

    /// A runner owns the job (or must pick it up again after a restart).
    pub fn is_running(self) -> bool {
        matches!(self, Self::Pending | Self::InProgress | Self::Stopping)
    }
}

/// The uploaded CSV: its file's name under the imports directory (the files are
/// `idp::import`'s), its size and when it arrived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadedCsv {
    pub file: String,
    pub bytes: u64,
    pub at: EpochSeconds,
}

/// Where the next unprocessed row of the CSV starts, as the `csv` crate positions it; saved in
/// the same record update as the counts of every row before it, after each committed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvPosition {
    pub byte: u64,
    pub line: u64,
    pub record: u64,
}

/// One user import job (`UserImportJobType` plus what the runner needs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: ImportJobId,
    pub pool_id: PoolId,
    pub name: String,
    pub cloud_watch_logs_role_arn: String,
    pub status: ImportJobStatus,
    pub created: EpochSeconds,
    pub started: Option<EpochSeconds>,
    pub completed: Option<EpochSeconds>,
    pub completion_message: Option<String>,
    pub imported: u64,
    pub skipped: u64,
    pub failed: u64,
    /// SHA-256 of the upload token in the pre-signed URL (hex); the token itself is never stored.
    pub upload_token_sha256: String,
    pub upload: Option<UploadedCsv>,
    /// Resume point: `None` until the first batch is committed.
    pub position: Option<CsvPosition>,
    /// When `position` was last saved (users created after it may belong to an unsaved batch).
    pub position_saved: Option<EpochSeconds>,
}

impl ImportJob {
    /// A new job (`Created`) with a fresh id, waiting for the upload whose token hashes to
    /// `upload_token_sha256`.
    pub fn created(pool_id: &PoolId, name: &str, cloud_watch_logs_role_arn: &str, upload_token_sha256: String) -> Self {
        Self {
            id: ImportJobId::generate(),
            pool_id: pool_id.clone(),
            name: name.to_owned(),
            cloud_watch_logs_role_arn: cloud_watch_logs_role_arn.to_owned(),
            status: ImportJobStatus::Created,
            created: now_epoch(),
            started: None,
            completed: None,
            completion_message: None,
            imported: 0,
            skipped: 0,
            failed: 0,
            upload_token_sha256,
            upload: None,
            position: None,
            position_saved: None,
        }
    }

    /// Rows dealt with so far.
    pub fn processed(&self) -> u64 {
        self.imported + self.skipped + self.failed
    }
}

fn job_key(id: &ImportJobId) -> Vec<u8> {
    id.as_str().as_bytes().to_vec()
}

fn concurrent_job_change(id: &ImportJobId) -> Error {
    Error::new(ErrorKind::ConcurrentModification, format!("Import job {id} was modified concurrently; retry."))
}

/// How often [`Directory::modify_import_job`] re-reads and retries after losing a race.
const MODIFY_ATTEMPTS: usize = 16;

impl Directory {
    /// Stores a new job; the pool must exist.
    pub fn create_import_job(&self, job: &ImportJob) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(Precondition::Present(Table::Pools, job.pool_id.as_str().as_bytes().to_vec()));
        w.require(Precondition::Absent(Table::ImportJobs, job_key(&job.id)));
        w.put(Table::ImportJobs, job_key(&job.id), encode(job)?);
        w.put(Table::PoolImportJobs, scoped_key(job.pool_id.as_str(), job.id.as_str()), Vec::new());
        let pool_id = job.pool_id.clone();
        self.commit(w, |i| match i {
            0 => pool_missing(&pool_id),
            _ => Error::internal("creating import job", "generated job id collided"),
        })
    }

    /// A job by id, whatever its pool.
    pub fn import_job(&self, id: &ImportJobId) -> Result<Option<Versioned<ImportJob>>> {
        self.read(Table::ImportJobs, &job_key(id))
    }

    /// Replaces a job as read; a concurrent change in between is `ConcurrentModificationException`.
    pub fn replace_import_job(&self, old: &Versioned<ImportJob>, new: &ImportJob) -> Result<()> {
        let key = job_key(&new.id);
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::ImportJobs, key.clone(), old.raw.clone()));
        w.put(Table::ImportJobs, key, encode(new)?);
        let id = new.id.clone();
        self.commit(w, |_| concurrent_job_change(&id))
    }

    /// Reads the job, applies `change` and stores the result, again from a fresh read whenever
    /// another writer got in between (the runner's progress against StopUserImportJob). `change`
    /// may refuse with an error, which is returned as is. `None` when the job does not exist.
    pub fn modify_import_job(
        &self,
        id: &ImportJobId,
        mut change: impl FnMut(&mut ImportJob) -> Result<()>,
    ) -> Result<Option<ImportJob>> {
        for _ in 0..MODIFY_ATTEMPTS {
            let Some(current) = self.import_job(id)? else { return Ok(None) };
            let mut job = current.record.clone();
            change(&mut job)?;
            match self.replace_import_job(&current, &job) {
                Ok(()) => return Ok(Some(job)),
                Err(e) if e.kind == ErrorKind::ConcurrentModification => continue,
                Err(e) => return Err(e),
            }
        }
        Err(concurrent_job_change(id))
    }

    /// Every job of a pool, in no particular order (a pool has few).
    pub fn pool_import_jobs(&self, pool_id: &PoolId) -> Result<Vec<ImportJob>> {
        let prefix = pool_prefix(pool_id.as_str());
        let mut jobs = Vec::new();
        for (key, _) in self.scan_all(Table::PoolImportJobs, &prefix)? {
            let Some(id) = key.get(prefix.len()..) else { continue };
            if let Some(job) = self.read::<ImportJob>(Table::ImportJobs, id)? {
                jobs.push(job.record);
            }
        }
        Ok(jobs)
    }

    /// Every job of every pool (start-up: resuming runners, sweeping CSV files).
    pub fn all_import_jobs(&self) -> Result<Vec<ImportJob>> {
        self.scan_all(Table::ImportJobs, b"")?.iter().map(|(_, v)| decode(v)).collect()
    }
}

/// The purge step of a deleted pool's `pool_import_jobs` entry (`{pool_id}\0{job_id}`): the
/// job record goes with it.
pub(super) fn delete_import_job_entry(w: &mut WriteSet, key: &[u8], _value: &[u8]) -> Result<()> {
    if let Some(separator) = key.iter().position(|b| *b == 0) {
        if let Some(job_id) = key.get(separator + 1..) {
            w.delete(Table::ImportJobs, job_id.to_vec());
        }
    }
    w.delete(Table::PoolImportJobs, key.to_vec());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::UserPool;

    fn job(pool_id: &PoolId) -> ImportJob {
        ImportJob::created(pool_id, "j", "arn:aws:iam::123456789012:role/r", String::new())
    }

    #[test]
    fn jobs_are_listed_by_pool_modified_under_races_and_purged_with_their_pool() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::in_dir(dir.path());
        let pool = UserPool::sample("us-east-1_jobs", serde_json::Map::new());
        let missing = job(&PoolId::from("us-east-1_none".to_owned()));
        assert_eq!(directory.create_import_job(&missing).unwrap_err().kind, ErrorKind::ResourceNotFound);
        directory.create_pool(&pool).unwrap();
        let (a, b) = (job(&pool.id), job(&pool.id));
        directory.create_import_job(&a).unwrap();
        directory.create_import_job(&b).unwrap();
        assert_eq!(directory.pool_import_jobs(&pool.id).unwrap().len(), 2);

        // A stale read loses; modify_import_job re-reads and applies its change on top.
        let stale = directory.import_job(&a.id).unwrap().unwrap();
        directory
            .modify_import_job(&a.id, |j| {
                j.imported = 7;
                Ok(())
            })
            .unwrap();
        let lost = directory.replace_import_job(&stale, &stale.record).unwrap_err();
        assert_eq!(lost.kind, ErrorKind::ConcurrentModification);
        let after = directory
            .modify_import_job(&a.id, |j| {
                j.failed = 1;
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!((after.imported, after.failed), (7, 1));
        assert!(directory.modify_import_job(&ImportJobId::generate(), |_| Ok(())).unwrap().is_none());

        directory.delete_pool(&directory.pool(&pool.id).unwrap()).unwrap();
        directory.purge_deleted_pool(&pool.id, 1).unwrap();
        assert!(directory.import_job(&a.id).unwrap().is_none());
        assert!(directory.all_import_jobs().unwrap().is_empty());
    }
}
