//! TLS for the listener: loads the PEM certificate and key into a rustls server config (ALPN h2
//! and http/1.1), and in dev mode creates a local CA and a server certificate on first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Paths of a certificate chain and its key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Dev mode: makes sure `dir` holds `ca.pem`, `server.pem` and `server.key` (0600) for
/// 127.0.0.1, ::1 and localhost, generating them when missing. The CA key is not kept.
pub fn ensure_dev_certificate(dir: &Path, extra_names: &[String]) -> Result<TlsFiles, String> {
    let files = TlsFiles { cert: dir.join("server.pem"), key: dir.join("server.key") };
    if files.cert.exists() && files.key.exists() && dir.join("ca.pem").exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let err = |e: rcgen::Error| format!("generating dev certificate: {e}");

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.distinguished_name.push(DnType::CommonName, "Portcullis dev CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    names.extend(extra_names.iter().cloned());
    names.dedup();
    let mut server_params = CertificateParams::new(names).map_err(err)?;
    server_params.distinguished_name.push(DnType::CommonName, "portcullis");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let server_key = KeyPair::generate().map_err(err)?;
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(err)?;

    write_file(&dir.join("ca.pem"), ca_cert.pem().as_bytes(), 0o644)?;
    write_file(&files.key, server_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&files.cert, server_cert.pem().as_bytes(), 0o644)?;
    tracing::info!(ca = %dir.join("ca.pem").display(), "generated dev TLS certificate");
    Ok(files)
}

/// Writes a file with the given Unix mode, replacing it atomically.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming to {}: {e}", path.display()))
}

/// A rustls server config for the listener, offering HTTP/2 and HTTP/1.1.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("tls.cert {}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls.cert {}: no certificate in file", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("tls.key {}: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls.key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certificate_is_generated_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let files = ensure_dev_certificate(dir.path(), &[]).unwrap();
        let first = std::fs::read(&files.cert).unwrap();
        let again = ensure_dev_certificate(dir.path(), &[]).unwrap();
        assert_eq!(std::fs::read(&again.cert).unwrap(), first);
        let config = server_config(&files).unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
