//! The CSV upload behind a job's pre-signed URL: the upload token, and the file written, fsynced
//! and made the job's CSV in one record update. The HTTP side (`PUT /import/{job_id}`) is `http::upload`.

use std::path::{Path, PathBuf};

use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tokio::io::AsyncWriteExt;

use super::expired;
use super::files::{csv_path, imports_dir};
use crate::app::App;
use crate::ids::ImportJobId;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::import_jobs::{ImportJobStatus, UploadedCsv};
use crate::store::records::now_epoch;

/// Cognito's limit on an import CSV.
pub const MAX_CSV_BYTES: u64 = 100 * 1024 * 1024;

/// A new upload token (256 random bits, URL-safe base64) and the hex SHA-256 the job keeps.
pub fn new_token() -> Result<(String, String)> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| Error::internal("upload token", "no randomness"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

fn token_hash(token: &str) -> String {
    hex::encode(digest(&SHA256, token.as_bytes()))
}

/// The refusal of every upload that does not name a job waiting for its CSV with its token:
/// unknown job, wrong token and a job past `Created` look alike (S3 answers 403 too).
fn refused() -> Error {
    Error::new(ErrorKind::NotAuthorized, "Request has expired or the upload token is invalid.")
}

/// An upload being written to a temporary file, removed unless [`CsvUpload::finish`] adopts it.
pub struct CsvUpload {
    job_id: ImportJobId,
    file: tokio::fs::File,
    temporary: PathBuf,
    bytes: u64,
    adopted: bool,
}

impl CsvUpload {
    /// Checks the token against the job (in constant time) and opens the temporary file.
    pub async fn begin(app: &App, job_id: &str, token: &str) -> Result<Self> {
        let job_id = ImportJobId::from(job_id.to_owned());
        let job = app.directory.import_job(&job_id)?.ok_or_else(refused)?.record;
        let presented = token_hash(token);
        let matches: bool = presented.as_bytes().ct_eq(job.upload_token_sha256.as_bytes()).into();
        if !matches || job.status != ImportJobStatus::Created || expired(&job, now_epoch()) {
            return Err(refused());
        }
        // A deleted pool's jobs linger until the purge: their URLs are dead at once.
        if let Err(e) = app.directory.pool(&job.pool_id) {
            return Err(if e.kind == ErrorKind::ResourceNotFound { refused() } else { e });
        }
        let dir = imports_dir(&app.config);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| Error::internal("creating the imports directory", e))?;
        let temporary = dir.join(format!("{job_id}.{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&temporary).await.map_err(|e| Error::internal("creating upload file", e))?;
        Ok(Self { job_id, file, temporary, bytes: 0, adopted: false })
    }

    /// Appends a chunk of the body; past [`MAX_CSV_BYTES`] the upload is refused.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len() as u64;
        if self.bytes > MAX_CSV_BYTES {
            return Err(too_large());
        }
        self.file.write_all(chunk).await.map_err(|e| Error::internal("writing upload", e))
    }

    /// Makes the upload durable (file and directory fsynced) and the job's CSV, replacing an
    /// earlier upload; refused if the job left `Created` meanwhile.
    pub async fn finish(mut self, app: &App) -> Result<u64> {
        self.file.sync_all().await.map_err(|e| Error::internal("syncing upload", e))?;
        let name = format!("{}.{}.csv", self.job_id, uuid::Uuid::new_v4().simple());
        let path = self.temporary.with_file_name(&name);
        tokio::fs::rename(&self.temporary, &path).await.map_err(|e| Error::internal("renaming upload", e))?;
        sync_dir(path.parent()).await?;
        let upload = UploadedCsv { bytes: self.bytes, at: now_epoch(), file: name };
        let mut replaced = None;
        let outcome = app.directory.modify_import_job(&self.job_id, |job| {
            if job.status != ImportJobStatus::Created {
                return Err(refused());
            }
            replaced = job.upload.take();
            job.upload = Some(upload.clone());
            Ok(())
        });
        match outcome {
            Ok(Some(_)) => {
                self.adopted = true;
                if let Some(old) = replaced {
                    let _ = tokio::fs::remove_file(csv_path(&imports_dir(&app.config), &old)).await;
                }
                Ok(self.bytes)
            }
            Ok(None) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(refused())
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(e)
            }
        }
    }
}

impl Drop for CsvUpload {
    fn drop(&mut self) {
        if !self.adopted {
            // Not yet renamed: the temporary file is still there; once renamed, `finish` cleans up.
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

pub fn too_large() -> Error {
    Error::new(ErrorKind::RequestEntityTooLarge, format!("The CSV file is larger than {MAX_CSV_BYTES} bytes."))
}

/// fsyncs a directory, so that a rename in it survives a power loss.
async fn sync_dir(dir: Option<&Path>) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
        .await
        .map_err(|e| Error::internal("syncing imports directory", e))?
        .map_err(|e| Error::internal("syncing imports directory", e))
}
