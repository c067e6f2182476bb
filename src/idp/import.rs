//! User import from CSV (Cognito's "import users into a user pool"): GetCSVHeader and the
//! Create/Start/Describe/List/StopUserImportJob operations; rows, upload, runner and files below.
//!
//! A job's pre-signed URL points at Portcullis itself (`PUT {public_url}/import/{job_id}?token=…`,
//! served by `http::upload`). The token is 256 random bits; the job keeps only its SHA-256, and it
//! opens the upload while the job is `Created` (Cognito's URL expires in 15 minutes; this one when
//! the job starts or expires a day after its creation). So `PreSignedUrl` carries the token only
//! in the CreateUserImportJob answer; Describe/List show the URL without it.
//!
//! **Where the CSV is kept.** An upload is streamed to `{data_dir}/imports/{job_id}.{uuid}.part`,
//! fsynced, renamed to `….csv`, the directory fsynced, and only then adopted by the job record
//! (one store update) before the 200 reply. A file rather than RocksDB chunks: up to 100 MB goes
//! to disk once with bounded memory, instead of through the WAL, memtables and compactions of
//! the store that serves sign-ins; the runner reads it back as a stream whose byte offsets are
//! the resume positions; deleting it when the job ends is one unlink rather than 100 MB of
//! tombstones. The cost is a second place to clean up, which `files::sweep` does at start-up and
//! hourly (files of finished, expired or purged jobs).
//!
//! **Running.** StartUserImportJob moves the job to `Pending` and hands it to a blocking tokio
//! task (`runner`) that creates users in batches through `Directory::create_users`, saving counts
//! and the CSV position after each committed batch; a restarted daemon resumes running jobs from
//! there.

mod files;
mod rows;
mod runner;
pub mod upload;

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::{object, pool_id_of, str_member};
use crate::app::App;
use crate::ids::{ImportJobId, PoolId};
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::import_jobs::{ImportJob, ImportJobStatus};
use crate::store::records::now_epoch;

/// A job not started within this many seconds of its creation expires.
pub const EXPIRY_SECS: f64 = 86_400.0;
/// Cognito's completion messages.
pub const SUCCEEDED_MESSAGE: &str = "Import Job Completed Successfully.";
pub const TOO_MANY_FAILED_MESSAGE: &str = "Too many users have failed or been skipped during the import.";
pub const STOPPED_MESSAGE: &str = "The Import Job was stopped by the developer.";
pub const EXPIRED_MESSAGE: &str = "The user import job has expired.";
/// How often CSVs no job needs are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How long StopUserImportJob waits for the runner to reach `Stopped` before answering `Stopping`.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// A `Created` job past its expiry (reported `Expired` even before the sweep records it).
pub fn expired(job: &ImportJob, now: f64) -> bool {
    job.status == ImportJobStatus::Created && now > job.created + EXPIRY_SECS
}

fn job_missing(id: &str) -> Error {
    Error::not_found(format!("Import job {id} does not exist."))
}

/// The job `JobId` names, which must belong to the pool `UserPoolId` names (checked first).
fn target_job(app: &App, input: &serde_json::Map<String, Value>) -> Result<ImportJob> {
    let pool_id = pool_id_of(input);
    app.directory.pool(&pool_id)?;
    let id = str_member(input, "JobId");
    let job = app.directory.import_job(&ImportJobId::from(id.to_owned()))?.ok_or_else(|| job_missing(id))?;
    if job.record.pool_id != pool_id {
        return Err(job_missing(id));
    }
    Ok(job.record)
}

/// `UserImportJobType`; `token` only in the CreateUserImportJob answer.
fn job_type(app: &App, job: &ImportJob, token: Option<&str>) -> Value {
    let mut job = job.clone();
    if expired(&job, now_epoch()) {
        job.status = ImportJobStatus::Expired;
        job.completed = Some(job.created + EXPIRY_SECS);
        job.completion_message = Some(EXPIRED_MESSAGE.to_owned());
    }
    let mut url = format!("{}/import/{}", app.config.public_url().trim_end_matches('/'), job.id);
    if let Some(token) = token {
        url.push_str("?token=");
        url.push_str(token);
    }
    let mut out = json!({
        "JobName": job.name,
        "JobId": job.id,
        "UserPoolId": job.pool_id,
        "PreSignedUrl": url,
        "CreationDate": job.created,
        "Status": job.status.wire_name(),
        "CloudWatchLogsRoleArn": job.cloud_watch_logs_role_arn,
        "ImportedUsers": job.imported,
        "SkippedUsers": job.skipped,
        "FailedUsers": job.failed,
    });
    if let Some(started) = job.started {
        out["StartDate"] = json!(started);
    }
    if let Some(completed) = job.completed {
        out["CompletionDate"] = json!(completed);
    }
    if let Some(message) = &job.completion_message {
        out["CompletionMessage"] = json!(message);
    }
    out
}

pub async fn get_csv_header(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?.record;
    Ok(json!({"UserPoolId": pool.id, "CSVHeader": rows::csv_header(&pool)}))
}

pub async fn create_user_import_job(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?.record;
    if input.contains_key("PasswordHashingAlgorithm") {
        return Err(Error::invalid_parameter(
            "PasswordHashingAlgorithm is not supported: imported users reset their password.",
        ));
    }
    let (token, token_hash) = upload::new_token()?;
    let job = ImportJob::created(
        &pool.id,
        str_member(&input, "JobName"),
        str_member(&input, "CloudWatchLogsRoleArn"),
        token_hash,
    );
    app.directory.create_import_job(&job)?;
    Ok(json!({"UserImportJob": job_type(app, &job, Some(&token))}))
}

pub async fn describe_user_import_job(app: &App, body: Value) -> Result<Value> {
    let job = target_job(app, &object(body))?;
    Ok(json!({"UserImportJob": job_type(app, &job, None)}))
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Newest first, as Cognito lists them; the token is the last job id of the page.
pub async fn list_user_import_jobs(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool_id: PoolId = pool_id_of(&input);
    app.directory.pool(&pool_id)?;
    let limit = super::page_size(input.get("MaxResults").and_then(Value::as_i64), 60);
    let mut jobs = app.directory.pool_import_jobs(&pool_id)?;
    jobs.sort_by(|a, b| b.created.total_cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
    let start = match input.get("PaginationToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => {
            let bad = || Error::invalid_parameter("Invalid pagination token.");
            let last = B64.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
            jobs.iter().position(|j| j.id.as_str() == last).ok_or_else(bad)? + 1
        }
    };
    let page: Vec<&ImportJob> = jobs.iter().skip(start).take(limit).collect();
    let listed: Vec<Value> = page.iter().map(|j| job_type(app, j, None)).collect();
    let mut out = json!({"UserImportJobs": listed});
    if start + page.len() < jobs.len() {
        if let Some(last) = page.last() {
            out["PaginationToken"] = json!(B64.encode(last.id.as_str()));
        }
    }
    Ok(out)
}

pub async fn start_user_import_job(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let job = target_job(app, &input)?;
    let pool = app.directory.pool(&job.pool_id)?.record;
    if !["email", "phone_number"].iter().any(|a| pool.auto_verifies(a)) {
        return Err(Error::new(
            ErrorKind::PreconditionNotMet,
            "The user pool must have an auto-verified attribute (email or phone_number) to import users.",
        ));
    }
    let now = now_epoch();
    let started = app
        .directory
        .modify_import_job(&job.id, |j| {
            if expired(j, now) || j.status != ImportJobStatus::Created {
                let status = if expired(j, now) { "Expired" } else { j.status.wire_name() };
                return Err(Error::invalid_parameter(format!(
                    "Import job {} cannot be started: its status is {status}.",
                    j.id
                )));
            }
            if j.upload.is_none() {
                return Err(Error::invalid_parameter(format!(
                    "Import job {} cannot be started: no CSV file has been uploaded to its PreSignedUrl.",
                    j.id
                )));
            }
            j.status = ImportJobStatus::Pending;
            j.started = Some(now);
            Ok(())
        })?
        .ok_or_else(|| job_missing(job.id.as_str()))?;
    runner::spawn(app.directory.clone(), files::imports_dir(&app.config), started.id.clone());
    Ok(json!({"UserImportJob": job_type(app, &started, None)}))
}

/// Pending or InProgress → Stopping; the runner stops after its current batch (`Stopped`), which
/// is awaited briefly so that the answer is usually final, as Cognito's is.
pub async fn stop_user_import_job(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let job = target_job(app, &input)?;
    let stopping = app
        .directory
        .modify_import_job(&job.id, |j| {
            if !matches!(j.status, ImportJobStatus::Pending | ImportJobStatus::InProgress) {
                let status = if expired(j, now_epoch()) { "Expired" } else { j.status.wire_name() };
                return Err(Error::invalid_parameter(format!(
                    "Import job {} cannot be stopped: its status is {status}.",
                    j.id
                )));
            }
            j.status = ImportJobStatus::Stopping;
            Ok(())
        })?
        .ok_or_else(|| job_missing(job.id.as_str()))?;
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    let mut latest = stopping;
    while latest.status == ImportJobStatus::Stopping && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        match app.directory.import_job(&latest.id)? {
            Some(j) => latest = j.record,
            None => break,
        }
    }
    Ok(json!({"UserImportJob": job_type(app, &latest, None)}))
}

/// DeleteUserPool's check: a pool cannot go while one of its import jobs runs.
pub fn refuse_while_importing(app: &App, pool_id: &PoolId) -> Result<()> {
    if app.directory.pool_import_jobs(pool_id)?.iter().any(|j| j.status.is_running()) {
        return Err(Error::new(
            ErrorKind::UserImportInProgress,
            "The user pool cannot be deleted while a user import job is in progress.",
        ));
    }
    Ok(())
}

/// At start-up, inside the runtime: resumes the jobs a stopped daemon left running, and sweeps
/// unneeded CSVs now and hourly. The caller aborts the returned sweep task at shutdown, after
/// [`stop_runners`].
pub fn start_background(app: &App) -> tokio::task::JoinHandle<()> {
    let imports = files::imports_dir(&app.config);
    match app.directory.all_import_jobs() {
        Ok(jobs) => {
            for job in jobs.into_iter().filter(|j| j.status.is_running()) {
                tracing::info!(job = %job.id, pool = %job.pool_id, status = job.status.wire_name(), "resuming user import");
                runner::spawn(app.directory.clone(), imports.clone(), job.id);
            }
        }
        Err(e) => tracing::error!(error = %e, "listing import jobs to resume"),
    }
    let (directory, config) = (app.directory.clone(), app.config.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            let (directory, config) = (directory.clone(), config.clone());
            match tokio::task::spawn_blocking(move || files::sweep(&directory, &config)).await {
                Ok(Ok(removed)) if removed > 0 => tracing::info!(removed, "removed import CSVs no job needs"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "sweeping import CSVs"),
                Err(e) => tracing::error!(error = %e, "sweeping import CSVs"),
            }
        }
    })
}

/// Graceful shutdown: running jobs stop after their current batch, still `InProgress`, and
/// resume from there at the next start.
pub fn stop_runners() {
    runner::stop_all();
}
