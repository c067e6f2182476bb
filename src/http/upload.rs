//! `PUT /import/{job_id}?token=…`, the pre-signed URL of a user import job: streams the request
//! body into the job's CSV (`idp::import::upload`), which is durable before the 200 answer.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, StatusCode};

use crate::app::App;
use crate::idp::import::upload::{too_large, CsvUpload, MAX_CSV_BYTES};
use crate::protocol::error::{Error, ErrorKind, Result};

pub const PATH_PREFIX: &str = "/import/";

/// Receives one upload; returns the bytes stored. Headers such as `Content-Type` and
/// `x-amz-server-side-encryption` (sent by Cognito's documented `curl -T`) are ignored.
pub async fn put(app: &App, req: Request<Incoming>) -> Result<u64> {
    let (parts, mut body) = req.into_parts();
    let job_id = parts.uri.path().strip_prefix(PATH_PREFIX).unwrap_or_default();
    let token = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_CSV_BYTES) {
        return Err(too_large());
    }
    let mut upload = CsvUpload::begin(app, job_id, &token).await?;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Error::new(ErrorKind::Serialization, format!("Could not read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            upload.write(&data).await?;
        }
    }
    upload.finish(app).await
}

/// The HTTP status of a refused upload (S3's for the same cases: 403 for a bad or used URL).
pub fn status_of(e: &Error) -> StatusCode {
    match e.kind {
        ErrorKind::NotAuthorized => StatusCode::FORBIDDEN,
        ErrorKind::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}
