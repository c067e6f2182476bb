//! Configuration: the TOML file, its dev defaults (no file needed), and the checks that refuse a
//! bad value at start with a message naming the key. See `config/portcullis.example.toml`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ratelimit::QuotaCategory;
use crate::scheduling::ReactorScheduling;
use crate::store::StoreMemory;

/// A configuration problem, reported at start-up as `config: <key>: <reason>`.
#[derive(Debug, thiserror::Error)]
#[error("config: {key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_owned(), reason: reason.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Self-provisioning: SoftHSM token, self-signed TLS and an admin key are created on first start.
    Dev,
    /// Everything is configured explicitly; nothing is generated.
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub mode: Mode,
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub storage: StorageConfig,
    pub hsm: HsmConfig,
    pub workers: WorkersConfig,
    pub admin: AdminConfig,
    pub rate_limits: RateLimitConfig,
    pub auth: AuthConfig,
    pub messaging: MessagingConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Upper bound, in seconds, on how long a sign-in `Session` / SRP `SECRET_BLOCK` stays valid;
    /// an app client's `AuthSessionValidity` (3–15 minutes) applies below it.
    pub max_session_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { max_session_secs: 900 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Base URL used in token `iss` and discovery; defaults to `https://{listen}`.
    pub public_url: Option<String>,
    pub region: String,
    pub account_id: String,
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish on SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; in dev mode generated under `{data_dir}/tls` when absent.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// fsync the WAL before acknowledging a write.
    pub sync_writes: bool,
    /// RocksDB's block cache (data, index and filter blocks), shared by all tables.
    pub block_cache_mb: usize,
    /// All of RocksDB's memtables together.
    pub write_buffer_mb: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HsmConfig {
    pub module: Option<PathBuf>,
    pub token_label: String,
    /// File holding the user PIN (dev default: `{data_dir}/hsm/pin`, generated).
    pub pin_file: Option<PathBuf>,
    /// Environment variable holding the user PIN (wins over `pin_file`).
    pub pin_env: Option<String>,
    pub max_idle_sessions: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// 0 = one per core.
    pub threads: usize,
    /// Jobs that may wait for a worker; beyond it requests fail fast with
    /// TooManyRequestsException. 0 = [`QUEUED_JOBS_PER_WORKER`] per worker thread.
    pub queue_capacity: usize,
    /// How the async reactor's threads are scheduled next to the workers (`crate::scheduling`).
    pub reactor_scheduling: ReactorScheduling,
}

/// The default queue bound per worker thread. A queue is only worth the latency it adds: at
/// ~1-2 ms per job (a sign-in's signatures, an SRP step) 16 queued jobs per worker add at most
/// ~16-32 ms, which absorbs bursts; a longer queue under sustained overload would only turn
/// excess load into seconds of latency for everybody instead of quick rejections.
pub const QUEUED_JOBS_PER_WORKER: usize = 16;

/// `[messaging]`: how verification codes, invitations and reset codes leave the appliance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagingConfig {
    pub email: EmailConfig,
    pub sms: SmsConfig,
}

/// Where messages of one medium go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    /// Kept in the dev outbox (`portcullis outbox`, `GET /admin/outbox`); nothing leaves the box.
    #[default]
    Outbox,
    /// Email over SMTP.
    Smtp,
    /// SMS handed to an HTTPS webhook (an SMS gateway of your choice), HMAC-signed.
    Webhook,
}

/// `[messaging.email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// `outbox` or `smtp`.
    pub sender: SenderKind,
    /// From-address when the pool's `EmailConfiguration.From` is not set (Cognito's default).
    pub from: String,
    pub smtp_host: String,
    /// 0 = the security mode's usual port (587 STARTTLS, 465 TLS, 25 none).
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    /// PEM file of extra CAs to trust for the SMTP server (besides the system's).
    pub smtp_ca_file: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            sender: SenderKind::Outbox,
            from: "no-reply@verificationemail.com".into(),
            smtp_host: String::new(),
            smtp_port: 0,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password_file: None,
            smtp_ca_file: None,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No TLS at all: only for a relay on loopback.
    None,
}

/// `[messaging.sms]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// `outbox` or `webhook`.
    pub sender: SenderKind,
    /// `https://...` (or `http://` on loopback) receiving `POST` JSON `{pool_id, purpose, to, message}`.
    pub webhook_url: String,
    /// File holding the HMAC-SHA256 key of the `X-Portcullis-Signature` header.
    pub webhook_secret_file: Option<PathBuf>,
    /// PEM file of extra CAs to trust for the webhook's server (besides the system's).
    pub webhook_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub access_keys: Vec<AccessKeyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyConfig {
    pub id: String,
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests per second from one source IP, over all operations (0 = unlimited).
    pub per_ip_rps: u32,
    pub per_ip_burst: u32,
    /// Per pool and quota category, requests per second; categories left out keep Cognito's defaults.
    pub categories: BTreeMap<String, u32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Dev,
            server: ServerConfig::default(),
            tls: TlsConfig::default(),
            storage: StorageConfig::default(),
            hsm: HsmConfig::default(),
            workers: WorkersConfig::default(),
            admin: AdminConfig::default(),
            rate_limits: RateLimitConfig::default(),
            auth: AuthConfig::default(),
            messaging: MessagingConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".into(),
            public_url: None,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("data"), sync_writes: true, block_cache_mb: 64, write_buffer_mb: 64 }
    }
}

impl Default for HsmConfig {
    fn default() -> Self {
        Self { module: None, token_label: "portcullis".into(), pin_file: None, pin_env: None, max_idle_sessions: 16 }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { per_ip_rps: 2000, per_ip_burst: 4000, categories: BTreeMap::new() }
    }
}

/// Where Debian, Fedora and source builds put SoftHSM2's module.
pub fn default_pkcs11_module() -> PathBuf {
    const CANDIDATES: [&str; 4] = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib64/pkcs11/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ];
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| PathBuf::from(CANDIDATES[0]))
}

/// Command-line overrides, applied after the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

impl Config {
    /// Reads the file (if any), applies overrides, and checks every value.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| bad("--config", format!("{}: {e}", path.display())))?;
                Self::parse(&text)?
            }
            None => Self::default(),
        };
        if let Some(d) = &overrides.data_dir {
            config.storage.data_dir = d.clone();
        }
        if let Some(l) = &overrides.listen {
            config.server.listen = l.clone();
        }
        config.check()?;
        Ok(config)
    }

    /// Parses TOML; unknown keys and wrong types are refused with toml's located message.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            let key = e
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| locate_key(before, text, e.span().map(|s| s.end).unwrap_or(0)))
                .unwrap_or_else(|| "(file)".to_owned());
            bad(&key, message)
        })
    }

    fn check_messaging(&self) -> Result<(), ConfigError> {
        let email = &self.messaging.email;
        match email.sender {
            SenderKind::Outbox => {}
            SenderKind::Smtp if email.smtp_host.is_empty() => {
                return Err(bad("messaging.email.smtp_host", "required with sender = \"smtp\""))
            }
            SenderKind::Smtp => {}
            SenderKind::Webhook => return Err(bad("messaging.email.sender", "email goes to \"outbox\" or \"smtp\"")),
        }
        let sms = &self.messaging.sms;
        match sms.sender {
            SenderKind::Outbox => {}
            SenderKind::Webhook => {
                if !(sms.webhook_url.starts_with("https://") || sms.webhook_url.starts_with("http://")) {
                    return Err(bad(
                        "messaging.sms.webhook_url",
                        "an http(s) URL is required with sender = \"webhook\"",
                    ));
                }
                if sms.webhook_secret_file.is_none() {
                    return Err(bad("messaging.sms.webhook_secret_file", "required with sender = \"webhook\""));
                }
            }
            SenderKind::Smtp => return Err(bad("messaging.sms.sender", "SMS goes to \"outbox\" or \"webhook\"")),
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.ends_with('/') {
                return Err(bad("server.public_url", "must be an absolute http(s) URL without a trailing '/'"));
            }
        }
        let region_ok = !self.server.region.is_empty()
            && self.server.region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(bad("server.region", format!("'{}' is not a region name like us-east-1", self.server.region)));
        }
        if self.server.account_id.len() != 12 || !self.server.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("server.account_id", "must be 12 digits"));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(bad("server.max_body_bytes", "must be at least 1024"));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(bad("tls", "set both tls.cert and tls.key, or neither"));
        }
        self.check_messaging()?;
        if self.mode == Mode::Production {
            if self.tls.cert.is_none() {
                return Err(bad("tls.cert", "required in production mode"));
            }
            if self.hsm.pin_file.is_none() && self.hsm.pin_env.is_none() {
                return Err(bad("hsm.pin_file", "production mode needs hsm.pin_file or hsm.pin_env"));
            }
            if self.admin.access_keys.is_empty() {
                return Err(bad("admin.access_keys", "production mode needs at least one admin access key"));
            }
        }
        if self.hsm.token_label.is_empty() || self.hsm.token_label.len() > 32 {
            return Err(bad("hsm.token_label", "must be 1 to 32 characters"));
        }
        if self.storage.block_cache_mb == 0 {
            return Err(bad("storage.block_cache_mb", "must be at least 1"));
        }
        if self.storage.write_buffer_mb < 2 {
            return Err(bad("storage.write_buffer_mb", "must be at least 2"));
        }
        for (i, key) in self.admin.access_keys.iter().enumerate() {
            if key.id.len() < 16 || !key.id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(bad(&format!("admin.access_keys[{i}].id"), "must be 16+ ASCII letters and digits"));
            }
            if key.secret_file.is_none() && key.secret_env.is_none() {
                return Err(bad(&format!("admin.access_keys[{i}]"), "needs secret_file or secret_env"));
            }
        }
        for (name, rps) in &self.rate_limits.categories {
            if QuotaCategory::from_name(name).is_none() {
                return Err(bad(&format!("rate_limits.categories.{name}"), "not a Cognito quota category"));
            }
            if *rps == 0 {
                return Err(bad(&format!("rate_limits.categories.{name}"), "must be at least 1"));
            }
        }
        if self.auth.max_session_secs == 0 {
            return Err(bad("auth.max_session_secs", "must be at least 1"));
        }
        if self.rate_limits.per_ip_rps > 0 && self.rate_limits.per_ip_burst == 0 {
            return Err(bad("rate_limits.per_ip_burst", "must be at least 1 when per_ip_rps is set"));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.listen.parse().map_err(|_| {
            bad("server.listen", format!("'{}' is not an address like 127.0.0.1:8443", self.server.listen))
        })
    }

    /// The public base URL (token `iss` prefix, discovery).
    pub fn public_url(&self) -> String {
        self.server.public_url.clone().unwrap_or_else(|| format!("https://{}", self.server.listen))
    }

    pub fn db_dir(&self) -> PathBuf {
        self.storage.data_dir.join("db")
    }
    pub fn hsm_dir(&self) -> PathBuf {
        self.storage.data_dir.join("hsm")
    }
    pub fn tls_dir(&self) -> PathBuf {
        self.storage.data_dir.join("tls")
    }
    pub fn credentials_file(&self) -> PathBuf {
        self.storage.data_dir.join("credentials")
    }
    pub fn pkcs11_module(&self) -> PathBuf {
        self.hsm.module.clone().unwrap_or_else(default_pkcs11_module)
    }

    /// RocksDB's memory budget from `[storage]`.
    pub fn store_memory(&self) -> StoreMemory {
        StoreMemory {
            block_cache_bytes: self.storage.block_cache_mb << 20,
            write_buffer_bytes: self.storage.write_buffer_mb << 20,
        }
    }

    pub fn worker_threads(&self) -> usize {
        match self.workers.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        }
    }

    pub fn worker_queue_capacity(&self) -> usize {
        match self.workers.queue_capacity {
            0 => self.worker_threads() * QUEUED_JOBS_PER_WORKER,
            n => n,
        }
    }
}

/// The dotted key path of the TOML entry at byte offset `at` (best effort: table header + key).
fn locate_key(before: &str, text: &str, end: usize) -> String {
    let table = before
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').map(|t| t.trim_end_matches(']').trim_matches('[').trim().to_owned()));
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text.get(line_start..end.max(line_start)).unwrap_or_default();
    let key = line.split('=').next().map(str::trim).filter(|k| !k.is_empty() && !k.starts_with('['));
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (None, Some(k)) => k.to_owned(),
        (Some(t), None) => t,
        (None, None) => "(file)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_defaults_need_no_file() {
        let c = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(c.mode, Mode::Dev);
        assert_eq!(c.listen_addr().unwrap().to_string(), "127.0.0.1:8443");
        assert_eq!(c.public_url(), "https://127.0.0.1:8443");
        assert_eq!(c.db_dir(), PathBuf::from("data/db"));
    }

    #[test]
    fn a_wrong_type_names_its_key() {
        let e = Config::parse("[server]\nregion = \"us-east-1\"\nmax_body_bytes = \"big\"\n").unwrap_err();
        assert_eq!(e.key, "server.max_body_bytes");
        let e = Config::parse("[workers]\nthreds = 4\n").unwrap_err();
        assert!(e.key.starts_with("workers"), "{e}");
        assert!(e.reason.contains("threds"), "{e}");
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let c = Config::parse("[server]\nlisten = \"nowhere\"\n").unwrap();
        assert_eq!(c.check().unwrap_err().key, "server.listen");
        let c = Config::parse("[rate_limits.categories]\nUserSomething = 5\n").unwrap();
        assert_eq!(c.check().unwrap_err().key, "rate_limits.categories.UserSomething");
        let c = Config::parse("mode = \"production\"\n").unwrap();
        assert_eq!(c.check().unwrap_err().key, "tls.cert");
    }
}
