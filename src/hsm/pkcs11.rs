//! [`KeyVault`] over a PKCS#11 token through `cryptoki`: token discovery by label, dev-mode
//! token initialisation, a pool of logged-in sessions re-established when lost, and key use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use ring::rand::{SecureRandom, SystemRandom};

use super::{HsmError, KeyVault, RsaPublicKey};

/// `CKA_ID` of the AES key that seals secrets at rest.
const SEAL_KEY_ID: &[u8] = b"portcullis-seal-v1";
/// Format byte in front of sealed blobs: `0x01 || iv(12) || ciphertext || tag(16)`.
const SEAL_FORMAT_V1: u8 = 1;
const GCM_IV_LEN: usize = 12;

/// How to reach the token.
#[derive(Debug, Clone)]
pub struct HsmSettings {
    pub module: PathBuf,
    pub token_label: String,
    pub pin: AuthPin,
    /// Dev mode: initialise an empty slot with this label (and SO PIN = user PIN) if no token
    /// with the label exists.
    pub init_if_missing: bool,
    /// Upper bound of idle sessions kept open.
    pub max_idle_sessions: usize,
}

pub struct Pkcs11Vault {
    ctx: Pkcs11,
    slot: Slot,
    pin: AuthPin,
    idle: Mutex<Vec<Session>>,
    max_idle: usize,
    /// `kid` → (private, public) handles; dropped when a handle turns out stale.
    handles: Mutex<HashMap<String, (ObjectHandle, ObjectHandle)>>,
    seal_key: Mutex<Option<ObjectHandle>>,
    rng: SystemRandom,
}

fn ck(context: &str) -> impl Fn(CkError) -> HsmError + '_ {
    move |e| HsmError(format!("{context}: {e}"))
}

/// Errors after which the session (or login) is gone and a fresh one may succeed.
fn session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid,
            _
        )
    )
}

impl Pkcs11Vault {
    /// Loads the module, finds (or in dev mode creates) the token, logs in, and makes sure
    /// the sealing key exists. Start-up only.
    pub fn open(settings: &HsmSettings) -> Result<Self, HsmError> {
        let ctx = Pkcs11::new(&settings.module).map_err(ck("loading PKCS#11 module"))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(ck("C_Initialize")(e)),
        }
        let slot = match find_token(&ctx, &settings.token_label)? {
            Some(slot) => slot,
            None if settings.init_if_missing => init_token(&ctx, &settings.token_label, &settings.pin)?,
            None => {
                return Err(HsmError(format!(
                    "no initialised token labelled '{}' (see hsm/provision-token.sh)",
                    settings.token_label
                )))
            }
        };
        let vault = Self {
            ctx,
            slot,
            pin: settings.pin.clone(),
            idle: Mutex::new(Vec::new()),
            max_idle: settings.max_idle_sessions.max(1),
            handles: Mutex::new(HashMap::new()),
            seal_key: Mutex::new(None),
            rng: SystemRandom::new(),
        };
        vault.with_session(|s| ensure_seal_key(s).map(|_| ()))?;
        Ok(vault)
    }

    fn new_session(&self) -> Result<Session, CkError> {
        let session = self.ctx.open_rw_session(self.slot)?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(e),
        }
    }

    /// Runs `f` on a pooled session. If the session or login was lost, the handle caches are
    /// dropped and `f` is retried once on a fresh, logged-in session.
    fn with_session<T>(&self, f: impl Fn(&Session) -> Result<T, CkError>) -> Result<T, HsmError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let session = match pooled {
            Some(s) => s,
            None => self.new_session().map_err(ck("opening session"))?,
        };
        let result = match f(&session) {
            Err(e) if session_lost(&e) => {
                tracing::warn!(error = %e, "HSM session lost; re-establishing");
                drop(session);
                self.forget_handles();
                let fresh = self.new_session().map_err(ck("re-opening session"))?;
                let retried = f(&fresh);
                self.return_session(fresh);
                retried
            }
            other => {
                self.return_session(session);
                other
            }
        };
        result.map_err(ck("PKCS#11"))
    }

    fn return_session(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.max_idle {
                idle.push(session);
            }
        }
    }

    fn forget_handles(&self) {
        if let Ok(mut h) = self.handles.lock() {
            h.clear();
        }
        if let Ok(mut k) = self.seal_key.lock() {
            *k = None;
        }
    }

    fn key_handles(&self, s: &Session, kid: &str) -> Result<Option<(ObjectHandle, ObjectHandle)>, CkError> {
        if let Some(h) = self.handles.lock().ok().and_then(|h| h.get(kid).copied()) {
            return Ok(Some(h));
        }
        let id = Attribute::Id(kid.as_bytes().to_vec());
        let private = s.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), id.clone()])?;
        let public = s.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), id])?;
        let (Some(&p), Some(&q)) = (private.first(), public.first()) else { return Ok(None) };
        if let Ok(mut h) = self.handles.lock() {
            h.insert(kid.to_owned(), (p, q));
        }
        Ok(Some((p, q)))
    }

    fn seal_key_handle(&self, s: &Session) -> Result<ObjectHandle, CkError> {
        if let Some(h) = self.seal_key.lock().ok().and_then(|k| *k) {
            return Ok(h);
        }
        let h = ensure_seal_key(s)?;
        if let Ok(mut k) = self.seal_key.lock() {
            *k = Some(h);
        }
        Ok(h)
    }
}

fn find_token(ctx: &Pkcs11, label: &str) -> Result<Option<Slot>, HsmError> {
    for slot in ctx.get_slots_with_initialized_token().map_err(ck("listing slots"))? {
        let info = ctx.get_token_info(slot).map_err(ck("reading token info"))?;
        if info.label().trim_end() == label {
            return Ok(Some(slot));
        }
    }
    Ok(None)
}

/// Initialises the first empty token as `label`, with `pin` as both SO and user PIN (dev mode).
fn init_token(ctx: &Pkcs11, label: &str, pin: &AuthPin) -> Result<Slot, HsmError> {
    let empty = ctx
        .get_slots_with_token()
        .map_err(ck("listing slots"))?
        .into_iter()
        .find(|s| ctx.get_token_info(*s).is_ok_and(|i| !i.token_initialized()))
        .ok_or_else(|| HsmError("no empty token slot to initialise".into()))?;
    ctx.init_token(empty, pin, label).map_err(ck("C_InitToken"))?;
    // SoftHSM renumbers slots after initialisation: look the token up again by label.
    let slot = find_token(ctx, label)?.ok_or_else(|| HsmError("token vanished after init".into()))?;
    let so = ctx.open_rw_session(slot).map_err(ck("opening SO session"))?;
    so.login(UserType::So, Some(pin)).map_err(ck("SO login"))?;
    so.init_pin(pin).map_err(ck("C_InitPIN"))?;
    so.logout().map_err(ck("SO logout"))?;
    tracing::info!(token = label, "initialised HSM token");
    Ok(slot)
}

fn ensure_seal_key(s: &Session) -> Result<ObjectHandle, CkError> {
    let template = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Id(SEAL_KEY_ID.to_vec())];
    if let Some(&h) = s.find_objects(&template)?.first() {
        return Ok(h);
    }
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Id(SEAL_KEY_ID.to_vec()),
            Attribute::Label(b"portcullis seal key".to_vec()),
        ],
    )
}

fn read_public(s: &Session, public: ObjectHandle) -> Result<RsaPublicKey, CkError> {
    let mut key = RsaPublicKey { modulus: Vec::new(), exponent: Vec::new() };
    for attr in s.get_attributes(public, &[AttributeType::Modulus, AttributeType::PublicExponent])? {
        match attr {
            Attribute::Modulus(n) => key.modulus = n,
            Attribute::PublicExponent(e) => key.exponent = e,
            _ => {}
        }
    }
    Ok(key)
}

impl KeyVault for Pkcs11Vault {
    fn generate_signing_key(&self, kid: &str) -> Result<RsaPublicKey, HsmError> {
        let id = kid.as_bytes().to_vec();
        let label = format!("portcullis jwt {kid}").into_bytes();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Id(id.clone()),
            Attribute::Label(label.clone()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Id(id),
            Attribute::Label(label),
        ];
        self.with_session(|s| {
            let (public, _private) =
                s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public_template, &private_template)?;
            read_public(s, public)
        })
    }

    fn public_key(&self, kid: &str) -> Result<RsaPublicKey, HsmError> {
        self.with_session(|s| match self.key_handles(s, kid)? {
            Some((_, public)) => read_public(s, public).map(Some),
            None => Ok(None),
        })?
        .ok_or_else(|| HsmError(format!("no signing key with id {kid}")))
    }

    fn sign_rs256(&self, kid: &str, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        let started = std::time::Instant::now();
        let signature = self
            .with_session(|s| match self.key_handles(s, kid)? {
                Some((private, _)) => s.sign(&Mechanism::Sha256RsaPkcs, private, message).map(Some),
                None => Ok(None),
            })?
            .ok_or_else(|| HsmError(format!("no signing key with id {kid}")))?;
        metrics::histogram!("portcullis_hsm_sign_seconds").record(started.elapsed().as_secs_f64());
        Ok(signature)
    }

    fn destroy_signing_key(&self, kid: &str) -> Result<(), HsmError> {
        self.with_session(|s| {
            for h in s.find_objects(&[Attribute::Id(kid.as_bytes().to_vec())])? {
                s.destroy_object(h)?;
            }
            Ok(())
        })?;
        if let Ok(mut h) = self.handles.lock() {
            h.remove(kid);
        }
        Ok(())
    }

    fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, HsmError> {
        let mut iv = [0u8; GCM_IV_LEN];
        self.rng.fill(&mut iv).map_err(|_| HsmError("system RNG failed".into()))?;
        let ciphertext = self.with_session(|s| {
            let key = self.seal_key_handle(s)?;
            let mut iv_buf = iv;
            let params = GcmParams::new(&mut iv_buf, context, 128.into())?;
            s.encrypt(&Mechanism::AesGcm(params), key, plaintext)
        })?;
        let mut out = Vec::with_capacity(1 + GCM_IV_LEN + ciphertext.len());
        out.push(SEAL_FORMAT_V1);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, HsmError> {
        let (Some(&SEAL_FORMAT_V1), Some(iv), Some(ciphertext)) =
            (sealed.first(), sealed.get(1..1 + GCM_IV_LEN), sealed.get(1 + GCM_IV_LEN..))
        else {
            return Err(HsmError("sealed blob has an unknown format".into()));
        };
        self.with_session(|s| {
            let key = self.seal_key_handle(s)?;
            let mut iv_buf = [0u8; GCM_IV_LEN];
            iv_buf.copy_from_slice(iv);
            let params = GcmParams::new(&mut iv_buf, context, 128.into())?;
            s.decrypt(&Mechanism::AesGcm(params), key, ciphertext)
        })
    }

    fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            for s in idle.drain(..) {
                let _ = s.logout();
                drop(s);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use once_cell::sync::Lazy;

    /// One SoftHSM token per test process (the module reads its config once per process).
    pub(crate) static VAULT: Lazy<(tempfile::TempDir, Pkcs11Vault)> = Lazy::new(|| {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(&conf, format!("directories.tokendir = {}\nobjectstore.backend = file\n", tokens.display()))
            .unwrap();
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let settings = HsmSettings {
            module: crate::config::default_pkcs11_module(),
            token_label: "portcullis-unit".into(),
            pin: AuthPin::new("1234".into()),
            init_if_missing: true,
            max_idle_sessions: 4,
        };
        let vault = Pkcs11Vault::open(&settings).unwrap();
        (dir, vault)
    });

    #[test]
    fn signing_key_is_generated_inside_and_verifies_with_its_public_half() {
        let vault = &VAULT.1;
        let public = vault.generate_signing_key("unit-kid-1").unwrap();
        assert_eq!(public.modulus.len(), 256);
        let sig = vault.sign_rs256("unit-kid-1", b"header.payload").unwrap();
        let key = ring::signature::RsaPublicKeyComponents { n: &public.modulus, e: &public.exponent };
        key.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, b"header.payload", &sig).unwrap();
        assert_eq!(vault.public_key("unit-kid-1").unwrap(), public);
        // The private half signs and does nothing else, and never leaves the token.
        let attrs = vault
            .with_session(|s| {
                let (private, _) = vault.key_handles(s, "unit-kid-1")?.unwrap();
                s.get_attributes(
                    private,
                    &[
                        AttributeType::Sensitive,
                        AttributeType::Extractable,
                        AttributeType::Decrypt,
                        AttributeType::Unwrap,
                    ],
                )
            })
            .unwrap();
        assert!(attrs.contains(&Attribute::Sensitive(true)));
        assert!(attrs.contains(&Attribute::Extractable(false)));
        assert!(attrs.contains(&Attribute::Decrypt(false)));
        assert!(attrs.contains(&Attribute::Unwrap(false)));
        vault.destroy_signing_key("unit-kid-1").unwrap();
        assert!(vault.sign_rs256("unit-kid-1", b"x").is_err());
    }

    #[test]
    fn a_lost_login_is_re_established() {
        let vault = &VAULT.1;
        let sealed = vault.seal(b"ctx", b"v").unwrap();
        // C_Logout on any session logs the whole application out of the token.
        vault.with_session(|s| s.logout()).unwrap();
        assert_eq!(vault.open(b"ctx", &sealed).unwrap(), b"v");
    }

    #[test]
    fn sealed_secrets_open_only_with_their_context() {
        let vault = &VAULT.1;
        let sealed = vault.seal(b"client:abc", b"s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(vault.open(b"client:abc", &sealed).unwrap(), b"s3cret");
        assert!(vault.open(b"client:xyz", &sealed).is_err());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(vault.open(b"client:abc", &tampered).is_err());
    }
}
