//! Request routing: `POST /` to the Cognito protocol, `PUT /import/{job_id}` (import CSVs), and the
//! plain GETs (`/health`, `/metrics`, `/{poolId}/.well-known/jwks.json`, `/confirmUser`). Also builds
//! every response, with its request id.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Value};
use tracing::Instrument;

use super::{admin, links, upload};
use crate::app::App;
use crate::ids::PoolId;
use crate::protocol::error::{Error, ErrorKind, Fault};
use crate::protocol::{self, ApiCall};
use crate::store::records::UserPool;

/// What `/metrics` renders.
pub struct Observability {
    pub prometheus: PrometheusHandle,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: Vec<u8>, request_id: &str) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    // No `Date` here: hyper adds it (HTTP/1.1 and HTTP/2) from a value it formats once a second.
    resp
}

fn json_reply(status: StatusCode, value: &Value, request_id: &str) -> Reply {
    reply(status, "application/json", value.to_string().into_bytes(), request_id)
}

fn error_reply(e: &Error, op: &'static str, request_id: &str) -> Reply {
    metrics::counter!("portcullis_errors_total", "operation" => op, "type" => e.kind.wire_name()).increment(1);
    match e.fault {
        Fault::Internal => tracing::error!(request_id, operation = op, error = %e, "internal fault"),
        Fault::Client => tracing::debug!(request_id, operation = op, error = %e, "client error"),
    }
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    reply(status, protocol::CONTENT_TYPE, e.to_body().to_string().into_bytes(), request_id)
}

pub async fn route(app: &App, obs: &Observability, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    // A v4 UUID from the thread's CSPRNG: `Uuid::new_v4` asks the kernel (getrandom) every time.
    let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/") => api(app, peer, req, &request_id).await,
        (&Method::GET, admin::OUTBOX_PATH) => admin_outbox(app, peer, req, &request_id),
        (&Method::GET, links::CONFIRM_USER_PATH) => match ip_allowed(app, peer, &request_id) {
            Ok(()) => {
                let (status, page) = links::confirm_user(app, req.uri().query());
                reply(status, "text/html; charset=utf-8", page, &request_id)
            }
            Err(limited) => *limited,
        },
        (&Method::PUT, p) if p.starts_with(upload::PATH_PREFIX) => import_upload(app, peer, req, &request_id).await,
        (&Method::GET, "/health") => json_reply(StatusCode::OK, &json!({"status": "ok"}), &request_id),
        (&Method::GET, "/metrics") => {
            metrics::gauge!("portcullis_worker_queue_depth").set(app.workers.queue_depth() as f64);
            reply(StatusCode::OK, "text/plain; version=0.0.4", obs.prometheus.render().into_bytes(), &request_id)
        }
        (&Method::GET, p) if p.ends_with(JWKS_SUFFIX) => {
            let pool = p.trim_start_matches('/').trim_end_matches(JWKS_SUFFIX);
            jwks(app, peer, pool, &request_id).await
        }
        (&Method::GET, p) if p.ends_with(DISCOVERY_SUFFIX) => {
            let pool = p.trim_start_matches('/').trim_end_matches(DISCOVERY_SUFFIX);
            discovery(app, peer, pool, &request_id)
        }
        _ => json_reply(StatusCode::NOT_FOUND, &json!({"message": "Not Found"}), &request_id),
    }
}

/// The request's headers as SigV4 verification reads them.
fn signed_headers(parts: &Parts) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    // HTTP/2 carries the host as the `:authority` pseudo-header; clients sign it as `host`.
    if !parts.headers.contains_key(hyper::header::HOST) {
        if let Some(authority) = parts.uri.authority() {
            headers.push(("host".to_owned(), authority.as_str().to_owned()));
        }
    }
    headers
}

/// The source-IP limit of the plain GET endpoints: `Err` is the 429 to answer.
fn ip_allowed(app: &App, peer: SocketAddr, request_id: &str) -> Result<(), Box<Reply>> {
    match app.limits.check_ip(peer.ip()) {
        Ok(()) => Ok(()),
        Err(_) => {
            Err(Box::new(json_reply(StatusCode::TOO_MANY_REQUESTS, &json!({"message": "Rate exceeded"}), request_id)))
        }
    }
}

/// `GET /admin/outbox` (see `admin`).
fn admin_outbox(app: &App, peer: SocketAddr, req: Request<Incoming>, request_id: &str) -> Reply {
    if let Err(limited) = ip_allowed(app, peer, request_id) {
        return *limited;
    }
    let (parts, _) = req.into_parts();
    match admin::outbox(app, &parts, &signed_headers(&parts)) {
        Ok(out) => json_reply(StatusCode::OK, &out, request_id),
        Err(e) => error_reply(&e, "admin-outbox", request_id),
    }
}

/// `PUT /import/{job_id}` (see `upload`): 200 once the CSV is durable.
async fn import_upload(app: &App, peer: SocketAddr, req: Request<Incoming>, request_id: &str) -> Reply {
    if let Err(limited) = ip_allowed(app, peer, request_id) {
        return *limited;
    }
    match upload::put(app, req).await {
        Ok(bytes) => json_reply(StatusCode::OK, &json!({"Bytes": bytes}), request_id),
        Err(e) => {
            if e.fault == Fault::Internal {
                tracing::error!(request_id, error = %e, "storing an import CSV");
            }
            json_reply(upload::status_of(&e), &e.to_body(), request_id)
        }
    }
}

async fn api(app: &App, peer: SocketAddr, req: Request<Incoming>, request_id: &str) -> Reply {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let headers = signed_headers(&parts);
    let op = protocol::operation_name(&headers);
    let span = tracing::info_span!("request", request_id, operation = %op, peer = %peer.ip());
    metrics::counter!("portcullis_requests_total", "operation" => op).increment(1);

    let limit = app.config.server.max_body_bytes;
    let declared =
        parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let body = match read_body(body, limit, declared).instrument(span.clone()).await {
        Ok(bytes) => bytes,
        Err(e) => return span.in_scope(|| error_reply(&e, op, request_id)),
    };
    let call = ApiCall { headers: &headers, body: &body, source_ip: peer.ip() };
    let result = protocol::handle(app, call).instrument(span.clone()).await;
    let reply = match result {
        Ok(output) => reply(StatusCode::OK, protocol::CONTENT_TYPE, output.to_string().into_bytes(), request_id),
        Err(e) => span.in_scope(|| error_reply(&e, op, request_id)),
    };
    metrics::histogram!("portcullis_request_seconds", "operation" => op).record(started.elapsed().as_secs_f64());
    reply
}

/// The most bytes read (and dropped) from an oversized body, so that a client still sending it
/// reads the 413 instead of a connection reset. Bigger bodies are cut off.
const DRAIN_CAP: usize = 16 * 1024 * 1024;
/// While draining, a client silent this long is waiting for our answer (it declared a length
/// and holds the body back), so the 413 goes out at once.
const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_millis(300);

/// Collects a request body of at most `limit` bytes. An oversized one is drained (up to
/// [`DRAIN_CAP`], while the client keeps sending) and refused with 413
/// `RequestEntityTooLargeException`.
async fn read_body(mut body: Incoming, limit: usize, declared: Option<usize>) -> Result<Bytes, Error> {
    let too_large =
        || Error::new(ErrorKind::RequestEntityTooLarge, format!("Request body is larger than {limit} bytes."));
    if declared.is_some_and(|n| n > DRAIN_CAP) {
        return Err(too_large());
    }
    let mut collected = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut total = 0usize;
    let mut oversized = declared.is_some_and(|n| n > limit);
    loop {
        let next = if oversized {
            match tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
                Ok(next) => next,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = next else { break };
        let frame =
            frame.map_err(|e| Error::new(ErrorKind::Serialization, format!("Could not read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total > DRAIN_CAP {
            break;
        }
        if total > limit {
            oversized = true;
        } else {
            collected.extend_from_slice(&data);
        }
    }
    if oversized {
        return Err(too_large());
    }
    Ok(Bytes::from(collected))
}

const JWKS_SUFFIX: &str = "/.well-known/jwks.json";
const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// The pool a public well-known document is for, after the source-IP limit; or the reply
/// (429, 404) that ends the request.
fn well_known_pool(app: &App, peer: SocketAddr, pool_id: &str, request_id: &str) -> Result<UserPool, Box<Reply>> {
    ip_allowed(app, peer, request_id)?;
    match app.directory.pool(&PoolId::from(pool_id.to_owned())) {
        Ok(p) => Ok(p.record),
        Err(e) if e.kind == ErrorKind::ResourceNotFound => {
            Err(Box::new(json_reply(StatusCode::NOT_FOUND, &json!({"message": e.message}), request_id)))
        }
        Err(e) => Err(Box::new(error_reply(&e, "well-known", request_id))),
    }
}

/// OpenID Connect discovery for a pool: its issuer, JWKS and (OAuth) endpoints under it.
fn discovery(app: &App, peer: SocketAddr, pool_id: &str, request_id: &str) -> Reply {
    let pool = match well_known_pool(app, peer, pool_id, request_id) {
        Ok(p) => p,
        Err(reply) => return *reply,
    };
    let issuer = crate::auth::issue::issuer(app, &pool);
    let document = json!({
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{JWKS_SUFFIX}"),
        "response_types_supported": ["code", "token"],
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": format!("{issuer}/oauth2/userInfo"),
    });
    json_reply(StatusCode::OK, &document, request_id)
}

async fn jwks(app: &App, peer: SocketAddr, pool_id: &str, request_id: &str) -> Reply {
    let pool = match well_known_pool(app, peer, pool_id, request_id) {
        Ok(p) => p,
        Err(reply) => return *reply,
    };
    let mut keys = Vec::with_capacity(pool.signing_keys.len());
    for kid in &pool.signing_keys {
        match app.jwk(kid).await {
            Ok(jwk) => keys.push(jwk),
            Err(e) => return error_reply(&e, "jwks", request_id),
        }
    }
    json_reply(StatusCode::OK, &json!({ "keys": keys }), request_id)
}
