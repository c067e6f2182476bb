//! A minimal HTTPS client for the daemon's own outgoing calls (the SMS webhook) and its CLI
//! (`portcullis outbox`, `portcullis import`): one request per connection over hyper, TLS by rustls.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// rustls client settings trusting the system's CAs and, if given, the CAs of a PEM file.
pub fn tls_connector(extra_ca: Option<&Path>) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Sends `request` (its URI absolute) on a fresh connection, TLS when `tls` is given; returns
/// the status and the whole response body.
pub async fn send(
    uri: &Uri,
    tls: Option<&TlsConnector>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    let host = uri.host().ok_or("URL without host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(if tls.is_some() { 443 } else { 80 });
    let tcp =
        TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    match tls {
        Some(tls) => {
            let name = ServerName::try_from(host.clone()).map_err(|e| format!("host {host}: {e}"))?;
            let stream = tls.connect(name, tcp).await.map_err(|e| format!("TLS with {host}: {e}"))?;
            exchange(TokioIo::new(stream), request).await
        }
        None => exchange(TokioIo::new(tcp), request).await,
    }
}

async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("response: {e}"))?.to_bytes();
    Ok((status, body))
}

/// How a CLI command reaches a running daemon as its administrator: the URL, the CA to trust and
/// the admin key that signs its calls (`portcullis outbox`, `portcullis import`).
pub struct AdminEndpoint {
    pub endpoint: String,
    /// PEM of the CA to trust for the daemon's certificate (dev: `{data_dir}/tls/ca.pem`).
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Shared-credentials file with the admin key (dev: `{data_dir}/credentials`).
    pub credentials: std::path::PathBuf,
    pub profile: String,
    pub region: String,
}

impl AdminEndpoint {
    /// The endpoint's URL, its host (for the `host` header) and, for `https`, the TLS settings.
    pub fn connection(&self) -> Result<(Uri, String, Option<TlsConnector>), String> {
        let uri: Uri = self.endpoint.parse().map_err(|e| format!("--endpoint: {e}"))?;
        let host = uri.authority().map(|a| a.as_str().to_owned()).ok_or("--endpoint needs a host")?;
        let tls = match uri.scheme_str() {
            Some("https") => Some(tls_connector(self.ca_bundle.as_deref())?),
            _ => None,
        };
        Ok((uri, host, tls))
    }

    /// The SigV4 signer of the admin key.
    pub fn signer(&self) -> Result<crate::sigv4::sign::Signer, String> {
        Ok(crate::sigv4::sign::Signer {
            credentials: crate::sigv4::sign::Credentials::from_file(&self.credentials, &self.profile)?,
            region: self.region.clone(),
            service: "cognito-idp".into(),
        })
    }
}
