//! `portcullis import`: imports a CSV into a pool of a running daemon the way Cognito's console
//! does (CreateUserImportJob, PUT to the PreSignedUrl, StartUserImportJob), then follows the job
//! with a progress bar. Admin calls are SigV4-signed with the key of a credentials file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio_rustls::TlsConnector;

use crate::http::client::{self, AdminEndpoint};
use crate::sigv4::sign::{Signer, JSON_CONTENT_TYPE};

/// What to import and how to reach the daemon.
pub struct ImportRequest {
    pub daemon: AdminEndpoint,
    pub pool_id: String,
    pub csv: PathBuf,
    pub job_name: String,
    pub cloud_watch_logs_role_arn: String,
}

/// How the job ended.
pub struct ImportOutcome {
    pub job: Value,
    pub rows: u64,
    pub elapsed: Duration,
}

impl ImportOutcome {
    pub fn succeeded(&self) -> bool {
        self.job.get("Status").and_then(Value::as_str) == Some("Succeeded")
    }

    /// The summary line printed at the end.
    pub fn summary(&self) -> String {
        let text = |k: &str| self.job.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let count = |k: &str| self.job.get(k).and_then(Value::as_u64).unwrap_or_default();
        format!(
            "{} {}: {} imported, {} failed, {} skipped of {} rows in {:.1}s ({})",
            text("JobId"),
            text("Status"),
            count("ImportedUsers"),
            count("FailedUsers"),
            count("SkippedUsers"),
            self.rows,
            self.elapsed.as_secs_f64(),
            text("CompletionMessage"),
        )
    }
}

/// Statuses after which a job changes no more.
const FINAL: &[&str] = &["Succeeded", "Failed", "Stopped", "Expired"];
const POLL_EVERY: Duration = Duration::from_millis(250);

struct Daemon {
    endpoint: Uri,
    host: String,
    signer: Signer,
    tls: Option<TlsConnector>,
}

impl Daemon {
    /// One signed cognito-idp call; a Cognito error becomes `Err("Type: message")`.
    async fn call(&self, operation: &str, input: &Value) -> Result<Value, String> {
        let body = input.to_string().into_bytes();
        let target = format!("AWSCognitoIdentityProviderService.{operation}");
        let signed = self.signer.sign(&self.host, &target, &body, time::OffsetDateTime::now_utc());
        let mut request = Request::post("/")
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, JSON_CONTENT_TYPE)
            .header("x-amz-target", &target);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        let (status, answer) = client::send(&self.endpoint, self.tls.as_ref(), request).await?;
        let answer: Value =
            serde_json::from_slice(&answer).map_err(|e| format!("{operation} answer ({status}): {e}"))?;
        if !status.is_success() {
            let kind = answer.get("__type").and_then(Value::as_str).unwrap_or("error");
            let message = answer.get("message").and_then(Value::as_str).unwrap_or_default();
            return Err(format!("{operation}: {kind}: {message}"));
        }
        Ok(answer)
    }

    /// PUTs the CSV to the job's pre-signed URL, as `curl -T` does.
    async fn upload(&self, url: &str, csv: Vec<u8>) -> Result<(), String> {
        let uri: Uri = url.parse().map_err(|e| format!("PreSignedUrl {url}: {e}"))?;
        let host = uri.authority().map(|a| a.as_str().to_owned()).ok_or("PreSignedUrl without host")?;
        let tls = match uri.scheme_str() {
            Some("https") => self.tls.as_ref(),
            _ => None,
        };
        let request = Request::put(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "text/csv")
            .header("x-amz-server-side-encryption", "aws:kms")
            .body(Full::new(Bytes::from(csv)))
            .map_err(|e| e.to_string())?;
        let (status, answer) = client::send(&uri, tls, request).await?;
        if !status.is_success() {
            return Err(format!("uploading the CSV: {status}: {}", String::from_utf8_lossy(&answer)));
        }
        Ok(())
    }
}

/// The data rows of a CSV file (records after the header), as the daemon will count them.
pub fn count_rows(path: &Path) -> Result<u64, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader.read_byte_record(&mut record).map_err(|e| format!("{}: {e}", path.display()))? {
        rows += 1;
    }
    Ok(rows)
}

/// Runs the whole import and follows it to its end.
pub async fn run(r: &ImportRequest) -> Result<ImportOutcome, String> {
    let started = Instant::now();
    let (endpoint, host, tls) = r.daemon.connection()?;
    let signer = r.daemon.signer()?;
    let daemon = Daemon { endpoint, host, signer, tls };
    let rows = count_rows(&r.csv)?;
    let csv = std::fs::read(&r.csv).map_err(|e| format!("{}: {e}", r.csv.display()))?;

    let created = daemon
        .call(
            "CreateUserImportJob",
            &json!({"UserPoolId": r.pool_id, "JobName": r.job_name,
                    "CloudWatchLogsRoleArn": r.cloud_watch_logs_role_arn}),
        )
        .await?;
    let job = &created["UserImportJob"];
    let job_id = job.get("JobId").and_then(Value::as_str).ok_or("CreateUserImportJob answered no JobId")?.to_owned();
    let url = job.get("PreSignedUrl").and_then(Value::as_str).ok_or("CreateUserImportJob answered no URL")?;
    daemon.upload(url, csv).await?;
    let ids = json!({"UserPoolId": r.pool_id, "JobId": job_id});
    daemon.call("StartUserImportJob", &ids).await?;

    let bar = ProgressBar::new(rows);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} rows ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    loop {
        let job = daemon.call("DescribeUserImportJob", &ids).await?["UserImportJob"].take();
        let count = |k: &str| job.get(k).and_then(Value::as_u64).unwrap_or_default();
        let status = job.get("Status").and_then(Value::as_str).unwrap_or_default().to_owned();
        bar.set_position(count("ImportedUsers") + count("FailedUsers") + count("SkippedUsers"));
        bar.set_message(format!("{status}: {} imported, {} failed", count("ImportedUsers"), count("FailedUsers")));
        if FINAL.contains(&status.as_str()) {
            bar.finish();
            return Ok(ImportOutcome { job, rows, elapsed: started.elapsed() });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
