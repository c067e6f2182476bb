//! The HTTPS JSON 1.1 client: rustls (ring) against the daemon's CA, one HTTP/1.1 keep-alive
//! connection per [`Connection`] (hyper's client conn API), calls and their error classification.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use crate::sigv4::Signer;

pub use portcullis::sigv4::sign::JSON_CONTENT_TYPE;
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService";

/// Where and how to connect: shared by every connection of a run.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port` to dial.
    addr: String,
    /// `Host` header value (and SigV4's `host`): the port is left out when it is 443, as botocore does.
    host_header: String,
    /// TLS for `https://`; `None` for plain `http://` (moto and cognito-local on loopback).
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl Endpoint {
    /// `url` is `https://host[:port]` (the server certificate must chain to a certificate in
    /// `ca_bundle`, PEM) or `http://host[:port]` (no TLS, no bundle needed).
    pub fn new(url: &str, ca_bundle: Option<&Path>, timeout: Duration) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("--endpoint {url}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("--endpoint {url}: must start with https:// or http://")),
        };
        let host = uri.host().ok_or_else(|| format!("--endpoint {url}: no host"))?;
        let default_port = if https { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let tls = if https {
            let ca_bundle = ca_bundle.ok_or_else(|| format!("--endpoint {url}: https needs --ca-bundle"))?;
            let bare_host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(bare_host.to_owned()).map_err(|e| format!("--endpoint {url}: {e}"))?;
            Some((tls_connector(ca_bundle)?, name))
        } else {
            None
        };
        Ok(Self {
            addr: format!("{host}:{port}"),
            host_header: if port == default_port { host.to_owned() } else { format!("{host}:{port}") },
            tls,
            timeout,
        })
    }

    pub fn host_header(&self) -> &str {
        &self.host_header
    }
}

/// A rustls client (ring) trusting the certificates in `ca_bundle`, offering HTTP/1.1 only.
fn tls_connector(ca_bundle: &Path) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_bundle).map_err(|e| format!("{}: {e}", ca_bundle.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", ca_bundle.display()))?;
        roots.add(cert).map_err(|e| format!("{}: {e}", ca_bundle.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificates", ca_bundle.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Why a call failed; `kind` is what the error counts are keyed by.
#[derive(Debug, Clone)]
pub struct CallError {
    /// Cognito's `__type` (e.g. `NotAuthorizedException`), or `ConnectError`, `ConnectionError`,
    /// `Timeout`, `HTTP {status}` (a non-JSON error), `InvalidResponse`, `ClientError`.
    pub kind: String,
    pub message: String,
}

impl CallError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: kind.into(), message: message.into() }
    }

    /// A transport-level failure (the connection is re-established before the next call).
    fn is_transport(&self) -> bool {
        matches!(self.kind.as_str(), "ConnectError" | "ConnectionError" | "Timeout")
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// One keep-alive HTTP/1.1 connection (over TLS for https), re-established lazily after a transport error.
pub struct Connection {
    endpoint: Arc<Endpoint>,
    /// Local address to bind before connecting (`stuffing` attackers: 127.0.0.2, ...); `None` = any.
    source: Option<IpAddr>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections made after the first (the server or network dropped one).
    pub reconnects: u64,
    connected_once: bool,
}

impl Connection {
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self::from_source(endpoint, None)
    }

    /// A connection whose socket is bound to `source` (any port) before connecting.
    pub fn from_source(endpoint: Arc<Endpoint>, source: Option<IpAddr>) -> Self {
        Self { endpoint, source, sender: None, reconnects: 0, connected_once: false }
    }

    /// Connects now (TCP + TLS handshake) unless already connected.
    pub async fn ensure_connected(&mut self) -> Result<(), CallError> {
        if self.sender.as_ref().is_some_and(|s| !s.is_closed()) {
            return Ok(());
        }
        self.sender = None;
        let sender = tokio::time::timeout(self.endpoint.timeout, self.connect())
            .await
            .map_err(|_| CallError::new("Timeout", "connect timed out"))??;
        if self.connected_once {
            self.reconnects += 1;
        }
        self.connected_once = true;
        self.sender = Some(sender);
        Ok(())
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CallError> {
        let connect_err = |e: &dyn fmt::Display| CallError::new("ConnectError", format!("{}: {e}", self.endpoint.addr));
        let tcp = match self.source {
            None => TcpStream::connect(&self.endpoint.addr).await.map_err(|e| connect_err(&e))?,
            Some(source) => {
                let mut addrs = tokio::net::lookup_host(&self.endpoint.addr).await.map_err(|e| connect_err(&e))?;
                let addr = addrs.find(|a| a.is_ipv4() == source.is_ipv4()).ok_or_else(|| connect_err(&"no address"))?;
                let socket = if source.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
                let socket = socket.map_err(|e| connect_err(&e))?;
                socket.bind(SocketAddr::new(source, 0)).map_err(|e| connect_err(&format!("bind {source}: {e}")))?;
                socket.connect(addr).await.map_err(|e| connect_err(&e))?
            }
        };
        tcp.set_nodelay(true).map_err(|e| connect_err(&e))?;
        match &self.endpoint.tls {
            Some((tls, name)) => {
                let tls = tls.connect(name.clone(), tcp).await.map_err(|e| connect_err(&e))?;
                handshake(tls).await.map_err(|e| connect_err(&e))
            }
            None => handshake(tcp).await.map_err(|e| connect_err(&e)),
        }
    }

    /// POSTs one operation (`InitiateAuth`, ...) and returns the JSON answer of a 200 as `T` (a
    /// [`Value`], or a struct naming only what the caller checks, which skips building the rest);
    /// signs it when `signer` is given. Any non-200 answer is an error keyed by its `__type`.
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        operation: &str,
        body: &Value,
        signer: Option<&Signer>,
    ) -> Result<T, CallError> {
        let result = tokio::time::timeout(self.endpoint.timeout, self.call_inner(operation, body, signer)).await;
        let result = result.unwrap_or_else(|_| Err(CallError::new("Timeout", format!("{operation} timed out"))));
        if result.as_ref().is_err_and(CallError::is_transport) {
            self.sender = None;
        }
        result
    }

    async fn call_inner<T: DeserializeOwned>(
        &mut self,
        operation: &str,
        body: &Value,
        signer: Option<&Signer>,
    ) -> Result<T, CallError> {
        self.ensure_connected().await?;
        let target = format!("{TARGET_PREFIX}.{operation}");
        let body = serde_json::to_vec(body).map_err(|e| CallError::new("ClientError", e.to_string()))?;
        let mut request = Request::post("/")
            .header("host", self.endpoint.host_header())
            .header("content-type", JSON_CONTENT_TYPE)
            .header("x-amz-target", &target)
            .header("user-agent", concat!("portcullis-load/", env!("CARGO_PKG_VERSION")));
        if let Some(signer) = signer {
            let now = time::OffsetDateTime::now_utc();
            for (name, value) in signer.sign(self.endpoint.host_header(), &target, &body, now) {
                request = request.header(name, value);
            }
        }
        let request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| CallError::new("ClientError", e.to_string()))?;
        let Some(sender) = self.sender.as_mut() else {
            return Err(CallError::new("ConnectionError", "not connected"));
        };
        sender.ready().await.map_err(|e| CallError::new("ConnectionError", e.to_string()))?;
        let response =
            sender.send_request(request).await.map_err(|e| CallError::new("ConnectionError", e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::new("ConnectionError", e.to_string()))?
            .to_bytes();
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| CallError::new("InvalidResponse", format!("{operation}: unexpected answer: {e}")));
        }
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        let kind = json.as_ref().and_then(|j| j.get("__type")).and_then(Value::as_str).map(error_type_name);
        let message = json
            .as_ref()
            .and_then(|j| j.get("message").or_else(|| j.get("Message")))
            .and_then(Value::as_str)
            .map_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect(), str::to_owned);
        Err(CallError::new(kind.unwrap_or_else(|| format!("HTTP {}", status.as_u16())), message))
    }
}

/// HTTP/1.1 over `io`; the connection task runs until the server closes it or the sender is dropped
/// (its errors show up on calls).
async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, hyper::Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `__type` without a namespace prefix (`com.amazonaws...#NotAuthorizedException` → `NotAuthorizedException`).
fn error_type_name(t: &str) -> String {
    t.rsplit(['#', ':']).next().unwrap_or(t).to_owned()
}

/// The string member `key` of an object, or an `InvalidResponse` naming it.
pub fn str_field<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str, CallError> {
    let mut v = value;
    for key in path {
        v = v.get(key).ok_or_else(|| CallError::new("InvalidResponse", format!("answer has no {}", path.join("."))))?;
    }
    v.as_str().ok_or_else(|| CallError::new("InvalidResponse", format!("{} is not a string", path.join("."))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_lose_their_namespace() {
        assert_eq!(error_type_name("NotAuthorizedException"), "NotAuthorizedException");
        assert_eq!(error_type_name("com.amazonaws.cognito#TooManyRequestsException"), "TooManyRequestsException");
    }

    #[test]
    fn nested_string_fields() {
        let v = serde_json::json!({"A": {"B": "x", "C": 1}});
        assert_eq!(str_field(&v, &["A", "B"]).unwrap(), "x");
        assert_eq!(str_field(&v, &["A", "C"]).unwrap_err().kind, "InvalidResponse");
        assert_eq!(str_field(&v, &["Z"]).unwrap_err().message, "answer has no Z");
    }
}
