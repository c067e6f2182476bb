//! Where import CSVs live (`{data_dir}/imports/`) and the sweep that removes those no job needs
//! any more, marking jobs never started within a day `Expired`. Only this module deletes CSVs
//! on its own; the runner removes the CSV of the job it finishes.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{expired, EXPIRED_MESSAGE, EXPIRY_SECS};
use crate::config::Config;
use crate::protocol::error::Result;
use crate::store::import_jobs::{ImportJobStatus, UploadedCsv};
use crate::store::records::now_epoch;
use crate::store::Directory;

/// A file no job refers to is removed once it is this old (a partial upload is abandoned by then).
const ABANDONED_UPLOAD: Duration = Duration::from_secs(3600);

pub fn imports_dir(config: &Config) -> PathBuf {
    config.storage.data_dir.join("imports")
}

/// The file of an uploaded CSV. Its name was chosen by `upload` (`{job_id}.{uuid}.csv`); only
/// the last path component is used, whatever the record says.
pub fn csv_path(imports: &Path, upload: &UploadedCsv) -> PathBuf {
    let name = Path::new(&upload.file).file_name().map(PathBuf::from).unwrap_or_default();
    imports.join(name)
}

/// Marks due `Created` jobs `Expired` and deletes every CSV that no waiting or running job
/// refers to (finished, expired and purged jobs', abandoned partial uploads). Returns how many
/// files were removed.
pub fn sweep(directory: &Directory, config: &Config) -> Result<usize> {
    let now = now_epoch();
    let mut keep = Vec::new();
    for job in directory.all_import_jobs()? {
        if expired(&job, now) {
            directory.modify_import_job(&job.id, |j| {
                if expired(j, now) {
                    j.status = ImportJobStatus::Expired;
                    j.completed = Some(j.created + EXPIRY_SECS);
                    j.completion_message = Some(EXPIRED_MESSAGE.to_owned());
                }
                Ok(())
            })?;
        } else if job.status == ImportJobStatus::Created || job.status.is_running() {
            keep.extend(job.upload.map(|u| u.file));
        }
    }
    let Ok(entries) = std::fs::read_dir(imports_dir(config)) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let abandoned = || {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > ABANDONED_UPLOAD)
        };
        // Recent files are left alone: an upload may have been adopted after the jobs were read.
        if !keep.contains(&name) && abandoned() && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}
