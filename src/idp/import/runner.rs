//! Runs one import job on a blocking tokio task: reads its CSV from the saved position, creates
//! each batch's users with `Directory::create_users` (the only user writer), and saves the counts
//! and the position after every committed batch.
//!
//! Exactness across a crash: the users of a batch and the job's progress are two commits. If the
//! daemon dies between them, the resumed runner reads that batch again; a row whose user already
//! exists is then counted as imported when the user is this job's own work (RESET_REQUIRED,
//! created since the last saved position, same attributes), and as failed otherwise.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::files::csv_path;
use super::rows::{self, Header, ImportedUser};
use super::{STOPPED_MESSAGE, SUCCEEDED_MESSAGE, TOO_MANY_FAILED_MESSAGE};
use crate::idp::names::name_new_user;
use crate::idp::users::named_user;
use crate::ids::ImportJobId;
use crate::protocol::error::{ErrorKind, Result};
use crate::store::import_jobs::{CsvPosition, ImportJob, ImportJobStatus};
use crate::store::records::{now_epoch, EpochSeconds, User, UserPool, UserStatus};
use crate::store::Directory;

/// Rows per `create_users` call (one synced commit when none conflicts).
pub const BATCH_ROWS: usize = 500;

/// Set at graceful shutdown: runners stop between batches and are resumed at the next start.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

pub fn stop_all() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
}

/// Starts (or resumes) the job on the runtime's blocking pool. Must be called inside the runtime.
pub fn spawn(directory: Directory, imports: PathBuf, job_id: ImportJobId) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::error!(job = %job_id, "no runtime to run the user import on");
        return;
    };
    runtime.spawn_blocking(move || {
        let runner = Runner { directory, imports, job_id };
        if let Err(e) = runner.run() {
            tracing::error!(job = %runner.job_id, error = %e, "user import stopped by an internal fault");
            runner.conclude(ImportJobStatus::Failed, "The import stopped on an internal error.", None);
        }
    });
}

struct Runner {
    directory: Directory,
    imports: PathBuf,
    job_id: ImportJobId,
}

/// The job's counts as the runner advances them.
#[derive(Debug, Clone, Copy)]
struct Counts {
    imported: u64,
    skipped: u64,
    failed: u64,
}

impl Counts {
    fn of(job: &ImportJob) -> Self {
        Self { imported: job.imported, skipped: job.skipped, failed: job.failed }
    }

    fn apply(self, job: &mut ImportJob) {
        job.imported = self.imported;
        job.skipped = self.skipped;
        job.failed = self.failed;
    }
}

/// What saving progress found the job to be.
enum Next {
    Continue,
    /// Stopped by StopUserImportJob, or gone with its pool.
    Done,
}

impl Runner {
    fn run(&self) -> Result<()> {
        let Some(job) = self.directory.import_job(&self.job_id)?.map(|v| v.record) else { return Ok(()) };
        if !job.status.is_running() {
            return Ok(());
        }
        let mut counts = Counts::of(&job);
        if job.status == ImportJobStatus::Stopping {
            self.conclude(ImportJobStatus::Stopped, STOPPED_MESSAGE, Some(counts));
            return Ok(());
        }
        let pool = match self.directory.pool(&job.pool_id) {
            Ok(p) => p.record,
            Err(e) if e.kind == ErrorKind::ResourceNotFound => return Ok(()), // purged with its pool
            Err(e) => return Err(e),
        };
        let Some(upload) = &job.upload else {
            self.conclude(ImportJobStatus::Failed, "No CSV file was uploaded.", Some(counts));
            return Ok(());
        };
        let path = csv_path(&self.imports, upload);
        let mut csv = match open_csv(&path) {
            Ok(reader) => reader,
            Err(e) => {
                tracing::error!(job = %job.id, path = %path.display(), error = %e, "cannot open the import CSV");
                self.conclude(ImportJobStatus::Failed, "The uploaded CSV file could not be read.", Some(counts));
                return Ok(());
            }
        };
        let header = match read_header(&mut csv, &pool) {
            Ok(h) => h,
            Err(message) => {
                tracing::warn!(job = %job.id, reason = %message, "user import refused its CSV header");
                self.conclude(ImportJobStatus::Failed, &message, Some(counts));
                return Ok(());
            }
        };
        // Resuming a job that was importing: the batch after the saved position may be ours already.
        let mut replay_since = (job.status == ImportJobStatus::InProgress)
            .then(|| job.position_saved.or(job.started).unwrap_or(job.created));
        if let Some(at) = job.position {
            let mut position = csv::Position::new();
            position.set_byte(at.byte).set_line(at.line).set_record(at.record);
            if let Err(e) = csv.seek(position) {
                tracing::error!(job = %job.id, error = %e, "cannot seek the import CSV");
                self.conclude(ImportJobStatus::Failed, "The uploaded CSV file could not be read.", Some(counts));
                return Ok(());
            }
        }
        tracing::info!(job = %job.id, pool = %pool.id, resumed = job.position.is_some(), "user import running");
        loop {
            if SHUTTING_DOWN.load(Ordering::SeqCst) {
                return Ok(());
            }
            let (rows, at_end) = match read_batch(&mut csv, &header) {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "the import CSV could not be parsed");
                    let message = "The CSV file could not be parsed.";
                    self.conclude(ImportJobStatus::Failed, message, Some(counts));
                    return Ok(());
                }
            };
            self.import_batch(&pool, rows, replay_since.take(), &mut counts)?;
            let position = csv.position();
            let saved = CsvPosition { byte: position.byte(), line: position.line(), record: position.record() };
            if let Next::Done = self.save_progress(counts, saved)? {
                return Ok(());
            }
            if at_end {
                let (status, message) = if counts.imported == 0 && counts.failed + counts.skipped > 0 {
                    (ImportJobStatus::Failed, TOO_MANY_FAILED_MESSAGE)
                } else {
                    (ImportJobStatus::Succeeded, SUCCEEDED_MESSAGE)
                };
                tracing::info!(
                    job = %job.id, imported = counts.imported, failed = counts.failed, status = status.wire_name(),
                    "user import finished"
                );
                self.conclude(status, message, Some(counts));
                return Ok(());
            }
        }
    }

    /// Creates the users of one batch of rows and counts every row.
    fn import_batch(
        &self,
        pool: &UserPool,
        rows: Vec<(u64, Result<ImportedUser, rows::RowFailure>)>,
        replay_since: Option<EpochSeconds>,
        counts: &mut Counts,
    ) -> Result<()> {
        let mut keys = HashSet::with_capacity(rows.len());
        let mut lines = Vec::with_capacity(rows.len());
        let mut users: Vec<(String, User)> = Vec::with_capacity(rows.len());
        for (line, row) in rows {
            let row = row.and_then(|r| {
                if keys.insert(pool.user_key(&r.username)) {
                    Ok(r)
                } else {
                    Err("the username appears twice in the file".to_owned())
                }
            });
            let row = match row {
                Ok(ok) => ok,
                Err(reason) => {
                    self.row_failed(counts, line, &reason);
                    continue;
                }
            };
            if let Some((_, existing)) = self.directory.find_user(pool, &row.username)? {
                if replay_since.is_some_and(|since| is_own_work(&existing.record, &row, since)) {
                    counts.imported += 1;
                } else {
                    self.row_failed(counts, line, "a user with this username already exists");
                }
                continue;
            }
            // Email or phone usernames become attributes and a generated username, as at sign-up.
            let mut attributes = row.attributes;
            let name = match name_new_user(pool, &row.username, &mut attributes) {
                Ok(name) => name,
                Err(e) => {
                    self.row_failed(counts, line, &e.message);
                    continue;
                }
            };
            lines.push(line);
            users.push((name.user_key.clone(), named_user(pool, &name, attributes, UserStatus::ResetRequired)));
        }
        if users.is_empty() {
            return Ok(());
        }
        let outcomes = self.directory.create_users(&users)?;
        for (line, outcome) in lines.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => counts.imported += 1,
                Err(e) if e.kind == ErrorKind::InternalError => return Err(e),
                Err(e) => self.row_failed(counts, line, &e.message),
            }
        }
        Ok(())
    }

    fn row_failed(&self, counts: &mut Counts, line: u64, reason: &str) {
        counts.failed += 1;
        tracing::warn!(job = %self.job_id, line, reason, "import row failed");
    }

    /// Saves counts and position; a job found `Stopping` becomes `Stopped` in the same update.
    fn save_progress(&self, counts: Counts, position: CsvPosition) -> Result<Next> {
        let now = now_epoch();
        let saved = self.directory.modify_import_job(&self.job_id, |job| {
            counts.apply(job);
            job.position = Some(position);
            job.position_saved = Some(now);
            match job.status {
                ImportJobStatus::Stopping => {
                    job.status = ImportJobStatus::Stopped;
                    job.completed = Some(now);
                    job.completion_message = Some(STOPPED_MESSAGE.to_owned());
                }
                _ => job.status = ImportJobStatus::InProgress,
            }
            Ok(())
        })?;
        Ok(match saved {
            Some(job) if job.status == ImportJobStatus::InProgress => Next::Continue,
            Some(job) => {
                tracing::info!(job = %job.id, imported = job.imported, failed = job.failed, "user import stopped");
                self.remove_csv(&job);
                Next::Done
            }
            None => Next::Done,
        })
    }

    /// Ends the job with `status` and `message` (and the counts, when given) and removes its CSV.
    fn conclude(&self, status: ImportJobStatus, message: &str, counts: Option<Counts>) {
        let now = now_epoch();
        let concluded = self.directory.modify_import_job(&self.job_id, |job| {
            if let Some(counts) = counts {
                counts.apply(job);
            }
            job.status = status;
            job.completed = Some(now);
            job.completion_message = Some(message.to_owned());
            Ok(())
        });
        match concluded {
            Ok(Some(job)) => self.remove_csv(&job),
            Ok(None) => {}
            Err(e) => tracing::error!(job = %self.job_id, error = %e, "recording the end of a user import"),
        }
    }

    fn remove_csv(&self, job: &ImportJob) {
        if let Some(upload) = &job.upload {
            let _ = std::fs::remove_file(csv_path(&self.imports, upload));
        }
    }
}

/// A user the interrupted batch of this job created: the status an import gives, created since
/// the job's last saved position, with exactly the row's attributes.
fn is_own_work(existing: &User, row: &ImportedUser, since: EpochSeconds) -> bool {
    existing.status == UserStatus::ResetRequired && existing.created >= since && existing.attributes == row.attributes
}

fn open_csv(path: &Path) -> std::io::Result<csv::Reader<File>> {
    let file = File::open(path)?;
    Ok(csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(file))
}

/// The first record, checked against the pool (`Err`: why the job cannot run).
fn read_header(csv: &mut csv::Reader<File>, pool: &UserPool) -> Result<Header, String> {
    let mut record = csv::ByteRecord::new();
    match csv.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Err("The CSV file is empty.".to_owned()),
        Err(_) => return Err("The CSV file could not be parsed.".to_owned()),
    }
    let mut fields = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let text = std::str::from_utf8(field).map_err(|_| "The CSV header is not valid UTF-8.".to_owned())?;
        fields.push(if i == 0 { text.trim_start_matches('\u{feff}') } else { text });
    }
    rows::parse_header(pool, &fields)
}

/// Up to [`BATCH_ROWS`] rows, each with its line number and its user or the reason it fails,
/// and whether the file ended.
type Batch = Vec<(u64, Result<ImportedUser, rows::RowFailure>)>;

fn read_batch(csv: &mut csv::Reader<File>, header: &Header) -> std::result::Result<(Batch, bool), csv::Error> {
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut record = csv::ByteRecord::new();
    while batch.len() < BATCH_ROWS {
        if !csv.read_byte_record(&mut record)? {
            return Ok((batch, true));
        }
        let line = record.position().map_or(0, |p| p.line());
        let fields: std::result::Result<Vec<&str>, _> = record.iter().map(std::str::from_utf8).collect();
        let row = match fields {
            Ok(fields) => rows::parse_row(header, &fields),
            Err(_) => Err("the row is not valid UTF-8".to_owned()),
        };
        batch.push((line, row));
    }
    Ok((batch, false))
}
