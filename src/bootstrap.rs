//! Start-up: turns a [`Config`] into the running parts. In dev mode it first provisions what is
//! missing (SoftHSM token directory and PIN, self-signed TLS, an admin access key written as an
//! AWS shared-credentials file). Runs before the async runtime; may fail, never panics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cryptoki::types::AuthPin;
use rand::Rng;

use crate::app::{AdminKeys, App};
use crate::auth::AuthKeys;
use crate::config::{Config, Mode};
use crate::hsm::{HsmSettings, KeyVault, Pkcs11Vault};
use crate::messaging::Messenger;
use crate::store::{Directory, RocksStore};
use crate::tls::{self, TlsFiles};
use crate::workers::WorkerPool;

/// Profile name in the dev credentials file.
pub const DEV_PROFILE: &str = "portcullis";

/// Everything `serve` needs, built and checked.
pub struct Prepared {
    pub app: App,
    pub tls: Arc<rustls::ServerConfig>,
}

fn random_token(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len).map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())])).collect()
}

fn create_dir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("creating {}: {e}", path.display()))
}

fn read_trimmed(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// Dev mode: a SoftHSM config whose token directory is `{data_dir}/hsm/tokens`, exported as
/// `SOFTHSM2_CONF` before the module loads, and a generated user PIN in `{data_dir}/hsm/pin`.
fn provision_dev_hsm(config: &Config) -> Result<PathBuf, String> {
    let dir = config.hsm_dir();
    let tokens = dir.join("tokens");
    create_dir(&tokens)?;
    let tokens = tokens.canonicalize().map_err(|e| format!("{}: {e}", tokens.display()))?;
    let conf = dir.join("softhsm2.conf");
    let template = include_str!("../hsm/softhsm2.conf.template");
    let text = template.replace("@TOKEN_DIR@", &tokens.display().to_string());
    tls::write_file(&conf, text.as_bytes(), 0o600)?;
    // Start-up, single-threaded: nothing else reads the environment concurrently.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let pin_file = dir.join("pin");
    if !pin_file.exists() {
        tls::write_file(&pin_file, random_token(24, b"0123456789abcdefghijklmnopqrstuvwxyz").as_bytes(), 0o600)?;
    }
    Ok(pin_file)
}

fn hsm_pin(config: &Config, dev_pin_file: Option<&Path>) -> Result<AuthPin, String> {
    if let Some(var) = &config.hsm.pin_env {
        let pin = std::env::var(var).map_err(|_| format!("hsm.pin_env: environment variable {var} is not set"))?;
        return Ok(AuthPin::from(pin));
    }
    let file = config.hsm.pin_file.as_deref().or(dev_pin_file).ok_or("hsm.pin_file: not configured")?;
    Ok(AuthPin::from(read_trimmed(file, "hsm.pin_file")?))
}

/// Parses the `[portcullis]` profile of an AWS shared-credentials file.
fn read_dev_credentials(path: &Path) -> Result<Option<(String, String)>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut in_profile, mut id, mut secret) = (false, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_profile = line == format!("[{DEV_PROFILE}]");
        } else if in_profile {
            if let Some((k, v)) = line.split_once('=') {
                match k.trim() {
                    "aws_access_key_id" => id = Some(v.trim().to_owned()),
                    "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
        }
    }
    Ok(id.zip(secret))
}

/// Dev mode: the admin key from `{data_dir}/credentials`, created on first start.
fn dev_admin_key(config: &Config) -> Result<(String, String), String> {
    let path = config.credentials_file();
    if let Some(key) = read_dev_credentials(&path)? {
        return Ok(key);
    }
    let id = format!("AKIA{}", random_token(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    let secret = random_token(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    let text = format!("[{DEV_PROFILE}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n");
    tls::write_file(&path, text.as_bytes(), 0o600)?;
    tracing::info!(file = %path.display(), profile = DEV_PROFILE, "wrote dev admin credentials");
    Ok((id, secret))
}

fn admin_keys(config: &Config) -> Result<AdminKeys, String> {
    let mut keys = HashMap::new();
    for (i, k) in config.admin.access_keys.iter().enumerate() {
        let secret = match (&k.secret_env, &k.secret_file) {
            (Some(var), _) => {
                std::env::var(var).map_err(|_| format!("admin.access_keys[{i}].secret_env: {var} is not set"))?
            }
            (None, Some(file)) => read_trimmed(file, &format!("admin.access_keys[{i}].secret_file"))?,
            (None, None) => return Err(format!("admin.access_keys[{i}]: no secret")),
        };
        keys.insert(k.id.clone(), secret);
    }
    if config.mode == Mode::Dev {
        let (id, secret) = dev_admin_key(config)?;
        keys.insert(id, secret);
    }
    Ok(AdminKeys::new(keys))
}

/// Opens the HSM token as configured; in dev mode first provisions what is missing (SoftHSM
/// token directory and PIN). Used by `serve` and by offline tools (`seed`).
pub fn open_vault(config: &Config) -> Result<Arc<dyn KeyVault>, String> {
    create_dir(&config.storage.data_dir)?;
    let dev = config.mode == Mode::Dev;
    let dev_pin = if dev { Some(provision_dev_hsm(config)?) } else { None };
    let settings = HsmSettings {
        module: config.pkcs11_module(),
        token_label: config.hsm.token_label.clone(),
        pin: hsm_pin(config, dev_pin.as_deref())?,
        init_if_missing: dev,
        max_idle_sessions: config.hsm.max_idle_sessions,
    };
    Ok(Arc::new(Pkcs11Vault::open(&settings).map_err(|e| e.to_string())?))
}

/// Opens (creating if needed) the directory's RocksDB in `{data_dir}/db`. RocksDB lets one
/// process open a database: if another holds its lock (a running daemon, a running `seed`),
/// this fails with a message saying so.
pub fn open_directory(config: &Config) -> Result<Directory, String> {
    let db = config.db_dir();
    create_dir(&db)?;
    let store = RocksStore::open(&db, config.storage.sync_writes, config.store_memory()).map_err(|e| {
        if e.0.contains("/LOCK") {
            format!(
                "the database {} is in use by another process (a running portcullis daemon?); \
                 stop it first ({})",
                db.display(),
                e.0
            )
        } else {
            e.to_string()
        }
    })?;
    let directory = Directory::new(Arc::new(store));
    // A database from before the ListUsers index and sign-in names gets them once.
    let users = directory.ensure_user_index().map_err(|e| format!("indexing users: {e}"))?;
    if users > 0 {
        tracing::info!(users, "wrote the ListUsers index entries and sign-in names of existing users");
    }
    Ok(directory)
}

/// Provisions (dev mode) and opens every component. Call before starting the runtime.
pub fn prepare(config: Config) -> Result<Prepared, String> {
    create_dir(&config.storage.data_dir)?;
    let vault = open_vault(&config)?;

    let tls_files = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => TlsFiles { cert: cert.clone(), key: key.clone() },
        _ => tls::ensure_dev_certificate(&config.tls_dir(), &[])?,
    };
    let tls = tls::server_config(&tls_files)?;

    let directory = open_directory(&config)?;
    // Pools deleted before a crash or stop may still have users to remove.
    directory.purge_in_background();
    let workers = WorkerPool::start(config.worker_threads(), config.worker_queue_capacity())
        .map_err(|e| format!("starting worker pool: {e}"))?;
    let keys = admin_keys(&config)?;
    let auth = AuthKeys::load(&directory, vault.as_ref()).map_err(|e| format!("loading sign-in keys: {e}"))?;
    let messenger = Messenger::from_config(&config.messaging)?;
    Ok(Prepared { app: App::new(config, directory, vault, workers, keys, auth, messenger), tls })
}
