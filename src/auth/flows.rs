//! The sign-in state machine behind InitiateAuth / RespondToAuthChallenge (and their Admin forms):
//! one typed [`Pending`] state per challenge, sealed into the opaque `Session` (or SRP's
//! `SECRET_BLOCK`), and one function per step from (state, responses) to the next [`Step`].

use super::lockout::{Attempt, Subject};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::issue::{Minting, Origin};
use super::password::{PasswordCheck, PasswordOf, PasswordPolicy, StoredPassword};
use super::session::{invalid_session, Purpose};
use super::srp::{self, SessionKey, SrpVerifier};
use super::tokens;
use crate::app::App;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::records::{now_epoch, unix_now, AppClient, SealedVerifier, User, UserPool, UserStatus};
use crate::store::users::RefreshLookup;

/// How long a `Session` or `SECRET_BLOCK` stays valid when the client does not say
/// (`AuthSessionValidity`, in minutes, 3 to 15; Cognito's default is 3).
const DEFAULT_SESSION_MINUTES: i64 = 3;
/// How far a PASSWORD_VERIFIER `TIMESTAMP` may be from the server's clock.
const TIMESTAMP_SKEW_SECS: i64 = 300;

/// Whom a sign-in names (see [`SignInRequest::claimant`]).
struct Claimant {
    user_key: String,
    found: Option<Versioned<User>>,
    /// `None` for a name that does not exist: the phantom verifier and check stand in.
    stored: Option<StoredPassword>,
    user_id_for_srp: String,
}

impl Claimant {
    /// The SRP verifier: the user's, or the phantom one of the name.
    fn srp_verifier(&mut self, app: &App, pool: &UserPool) -> SrpVerifier {
        match self.stored.take() {
            Some(stored) => stored.verifier,
            None => app.auth.phantom_verifier(pool.id.as_str(), &self.user_key),
        }
    }

    /// How a presented password is checked: against the user's, or the phantom check of the name.
    fn password_check(&mut self, app: &App, pool: &UserPool) -> PasswordCheck {
        match self.stored.take() {
            Some(stored) => app.auth.data.check_of(stored),
            None => app.auth.phantom_check(pool.id.as_str(), &self.user_key),
        }
    }
}

/// A step's outcome: another challenge, or tokens.
pub enum Step {
    Challenge { name: &'static str, parameters: Map<String, Value>, session: Option<String> },
    Authenticated(Value),
}

impl Step {
    /// The InitiateAuth / RespondToAuthChallenge response body.
    pub fn into_response(self) -> Value {
        match self {
            Step::Challenge { name, parameters, session } => {
                let mut out = json!({"ChallengeName": name, "ChallengeParameters": parameters});
                if let Some(s) = session {
                    out["Session"] = json!(s);
                }
                out
            }
            Step::Authenticated(result) => json!({"ChallengeParameters": {}, "AuthenticationResult": result}),
        }
    }
}

/// The state a challenge waits in, sealed into what the client carries back.
#[derive(Serialize, Deserialize)]
#[serde(tag = "state")]
enum Pending {
    /// USER_SRP_AUTH answered with PASSWORD_VERIFIER: the SRP key the client must prove.
    PasswordVerifier { pool: String, client: String, user_key: String, user_id_for_srp: String, key: [u8; 16] },
    /// The password was right but is temporary: the user must choose a new one.
    NewPasswordRequired { pool: String, client: String, user_key: String },
}

/// The request a step serves: which pool and client, whether through an Admin operation.
pub struct SignInRequest<'a> {
    pub app: &'a App,
    pub pool: &'a UserPool,
    pub client: &'a AppClient,
    /// The client's secret, when it has one.
    pub client_secret: Option<String>,
    pub admin: bool,
}

/// The auth flows a client may use (`AuthFlow` of InitiateAuth / AdminInitiateAuth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthFlow {
    UserSrp,
    UserPassword,
    AdminUserPassword,
    RefreshToken,
}

impl AuthFlow {
    fn parse(name: &str, admin: bool) -> Result<Self> {
        let flow = match name {
            "USER_SRP_AUTH" => AuthFlow::UserSrp,
            "USER_PASSWORD_AUTH" if !admin => AuthFlow::UserPassword,
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => AuthFlow::AdminUserPassword,
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => AuthFlow::RefreshToken,
            "CUSTOM_AUTH" | "USER_AUTH" => {
                return Err(Error::invalid_parameter(format!("{name} is not supported by this Portcullis version.")))
            }
            _ => return Err(Error::invalid_parameter("Initiate Auth method not supported.")),
        };
        Ok(flow)
    }

    /// `ExplicitAuthFlows` values that allow this flow. Without the setting, Cognito allows
    /// SRP, custom and refresh; with legacy values, SRP and refresh are always allowed.
    fn allowed_by(self, client: &AppClient) -> bool {
        let Some(flows) = client.settings.get("ExplicitAuthFlows").and_then(Value::as_array) else {
            return matches!(self, AuthFlow::UserSrp | AuthFlow::RefreshToken);
        };
        let has = |name: &str| flows.iter().any(|f| f.as_str() == Some(name));
        let legacy = has("ADMIN_NO_SRP_AUTH") || has("USER_PASSWORD_AUTH") || has("CUSTOM_AUTH_FLOW_ONLY");
        match self {
            AuthFlow::UserSrp => has("ALLOW_USER_SRP_AUTH") || legacy,
            AuthFlow::UserPassword => has("ALLOW_USER_PASSWORD_AUTH") || has("USER_PASSWORD_AUTH"),
            AuthFlow::AdminUserPassword => has("ALLOW_ADMIN_USER_PASSWORD_AUTH") || has("ADMIN_NO_SRP_AUTH"),
            AuthFlow::RefreshToken => has("ALLOW_REFRESH_TOKEN_AUTH") || legacy,
        }
    }

    fn wire_name(self) -> &'static str {
        match self {
            AuthFlow::UserSrp => "USER_SRP_AUTH",
            AuthFlow::UserPassword => "USER_PASSWORD_AUTH",
            AuthFlow::AdminUserPassword => "ADMIN_USER_PASSWORD_AUTH",
            AuthFlow::RefreshToken => "REFRESH_TOKEN_AUTH",
        }
    }
}

fn incorrect_password() -> Error {
    Error::new(ErrorKind::NotAuthorized, "Incorrect username or password.")
}

fn required<'p>(params: &'p Map<String, Value>, name: &str) -> Result<&'p str> {
    match params.get(name).and_then(Value::as_str) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::invalid_parameter(format!("Missing required parameter {name}"))),
    }
}

impl SignInRequest<'_> {
    fn prevents_user_existence_errors(&self) -> bool {
        self.client.prevents_user_existence_errors()
    }

    /// Whose failures a password attempt counts towards (see `lockout`).
    fn lockout_subject(&self, user_exists: bool) -> Subject {
        match (user_exists, self.prevents_user_existence_errors()) {
            (true, _) => Subject::User,
            (false, true) => Subject::Phantom,
            (false, false) => Subject::Untracked,
        }
    }

    /// The answer for a user that does not exist (or must look as if it did not).
    fn no_such_user(&self) -> Error {
        if self.prevents_user_existence_errors() {
            incorrect_password()
        } else {
            Error::new(ErrorKind::UserNotFound, "User does not exist.")
        }
    }

    /// Checks `SECRET_HASH` against `username` when the client has a secret.
    fn check_secret_hash(&self, params: &Map<String, Value>, usernames: &[&str]) -> Result<()> {
        let Some(secret) = &self.client_secret else { return Ok(()) };
        let client_id = self.client.id.as_str();
        let Some(presented) = params.get("SECRET_HASH").and_then(Value::as_str) else {
            return Err(Error::new(
                ErrorKind::NotAuthorized,
                format!("Client {client_id} is configured for secret but secret was not received"),
            ));
        };
        if usernames.iter().any(|u| srp::secret_hash_matches(secret, u, client_id, presented)) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::NotAuthorized, format!("Unable to verify secret hash for client {client_id}")))
        }
    }

    fn load_user(&self, user_key: &str) -> Result<Option<Versioned<User>>> {
        self.app.directory.user(&self.pool.id, user_key)
    }

    /// The user `name` signs in as (username, alias or username attribute), with a password:
    /// their key, record, stored password and `USER_ID_FOR_SRP`. For a user that does not exist
    /// (or has no password): no record and no password; [`Claimant`]'s methods give the phantom
    /// verifier and check of the name as typed, so the caller does the same work either way. An
    /// imported user, who has no password until a reset, is told so
    /// (`PasswordResetRequiredException`, as Cognito answers them).
    fn claimant(&self, name: &str) -> Result<Claimant> {
        let found = self.app.directory.find_user(self.pool, name)?;
        if found
            .as_ref()
            .is_some_and(|(_, u)| u.record.password.is_none() && u.record.status == UserStatus::ResetRequired)
        {
            return Err(Error::new(ErrorKind::PasswordResetRequired, "Password reset required for the user"));
        }
        let found = found.filter(|(_, u)| u.record.password.is_some());
        if let Some((user_key, user)) = found {
            if let Some(sealed) = &user.record.password {
                let stored = self.app.auth.data.open(&verifier_context(self.pool, &user_key), sealed)?;
                let user_id_for_srp = user.record.username.clone();
                return Ok(Claimant { user_key, found: Some(user), stored: Some(stored), user_id_for_srp });
            }
        }
        Ok(Claimant { user_key: self.pool.user_key(name), found: None, stored: None, user_id_for_srp: name.to_owned() })
    }

    /// Whether `name` (a challenge response's USERNAME) names the user stored under `user_key`.
    fn names(&self, name: &str, user_key: &str) -> Result<bool> {
        if self.pool.user_key(name) == user_key {
            return Ok(true);
        }
        Ok(self.app.directory.find_user(self.pool, name)?.is_some_and(|(key, _)| key == user_key))
    }

    fn seal(&self, purpose: Purpose, state: Pending) -> Result<String> {
        let minutes = self.client.settings.get("AuthSessionValidity").and_then(Value::as_i64);
        let cap = i64::try_from(self.app.config.auth.max_session_secs).unwrap_or(i64::MAX);
        let ttl_secs = (minutes.unwrap_or(DEFAULT_SESSION_MINUTES).clamp(3, 15) * 60).min(cap);
        self.app.auth.sessions.seal(purpose, state, ttl_secs)
    }

    /// The pending state carried by `session`, checked to belong to this pool and client.
    fn open_pending(&self, purpose: Purpose, sealed: &str) -> Result<(super::session::Opened<Pending>, String)> {
        let opened = self.app.auth.sessions.open::<Pending>(purpose, sealed)?;
        let (pool, client, user_key) = match &opened.body {
            Pending::PasswordVerifier { pool, client, user_key, .. } => (pool, client, user_key.clone()),
            Pending::NewPasswordRequired { pool, client, user_key } => (pool, client, user_key.clone()),
        };
        if pool != self.pool.id.as_str() || client != self.client.id.as_str() {
            return Err(invalid_session());
        }
        Ok((opened, user_key))
    }
}

/// InitiateAuth / AdminInitiateAuth.
pub async fn initiate(req: &SignInRequest<'_>, flow_name: &str, params: &Map<String, Value>) -> Result<Step> {
    let flow = AuthFlow::parse(flow_name, req.admin)?;
    if !flow.allowed_by(req.client) {
        return Err(Error::invalid_parameter(format!("{} flow not enabled for this client", flow.wire_name())));
    }
    match flow {
        AuthFlow::UserSrp => start_srp(req, params).await,
        AuthFlow::UserPassword | AuthFlow::AdminUserPassword => password_sign_in(req, params).await,
        AuthFlow::RefreshToken => refresh(req, params).await,
    }
}

/// RespondToAuthChallenge / AdminRespondToAuthChallenge.
pub async fn respond(
    req: &SignInRequest<'_>,
    challenge: &str,
    responses: &Map<String, Value>,
    session: Option<&str>,
) -> Result<Step> {
    match challenge {
        "PASSWORD_VERIFIER" => password_verifier(req, responses).await,
        "NEW_PASSWORD_REQUIRED" => new_password(req, responses, session.ok_or_else(invalid_session)?).await,
        _ => Err(invalid_session()),
    }
}

/// USER_SRP_AUTH: answers SRP_A with the user's salt, B and a sealed SECRET_BLOCK.
async fn start_srp(req: &SignInRequest<'_>, params: &Map<String, Value>) -> Result<Step> {
    let username = required(params, "USERNAME")?;
    let srp_a = required(params, "SRP_A")?.to_owned();
    req.check_secret_hash(params, &[username])?;
    let mut claimant = req.claimant(username)?;
    let verifier = claimant.srp_verifier(req.app, req.pool);
    let Claimant { user_key, found, user_id_for_srp, .. } = claimant;
    if found.is_none() && !req.prevents_user_existence_errors() {
        return Err(req.no_such_user());
    }
    // Refused at once while locked out; the attempt counts when the claim is checked.
    drop(Attempt::begin(req.app, &req.pool.id, &user_key, req.lockout_subject(found.is_some()))?);
    let salt_hex = verifier.salt_hex();
    let challenge = req
        .app
        .on_worker(move || {
            srp::server_challenge(&verifier, &srp_a).map_err(|e| match e {
                // The server's own failures, not the caller's SRP_A.
                srp::SrpError::Random | srp::SrpError::Arithmetic => Error::internal("SRP server step", e),
                _ => Error::invalid_parameter(e.to_string()),
            })
        })
        .await?;
    let state = || Pending::PasswordVerifier {
        pool: req.pool.id.to_string(),
        client: req.client.id.to_string(),
        user_key: user_key.clone(),
        user_id_for_srp: user_id_for_srp.clone(),
        key: *challenge.session_key.as_bytes(),
    };
    let secret_block = req.seal(Purpose::SecretBlock, state())?;
    let session = req.seal(Purpose::Session, state())?;
    let mut parameters = Map::new();
    parameters.insert("SALT".into(), json!(salt_hex));
    parameters.insert("SECRET_BLOCK".into(), json!(secret_block));
    parameters.insert("SRP_B".into(), json!(challenge.srp_b_hex));
    parameters.insert("USERNAME".into(), json!(user_id_for_srp));
    parameters.insert("USER_ID_FOR_SRP".into(), json!(user_id_for_srp));
    Ok(Step::Challenge { name: "PASSWORD_VERIFIER", parameters, session: Some(session) })
}

/// PASSWORD_VERIFIER: checks the client's proof of the SRP key from the SECRET_BLOCK alone
/// (pycognito sends no Session), then continues as after any correct password.
async fn password_verifier(req: &SignInRequest<'_>, responses: &Map<String, Value>) -> Result<Step> {
    let username = required(responses, "USERNAME")?;
    let secret_block = required(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let signature = required(responses, "PASSWORD_CLAIM_SIGNATURE")?;
    let timestamp = required(responses, "TIMESTAMP")?;
    req.check_secret_hash(responses, &[username])?;
    let (opened, user_key) = req.open_pending(Purpose::SecretBlock, secret_block)?;
    let Pending::PasswordVerifier { user_id_for_srp, key, .. } = &opened.body else {
        return Err(invalid_session());
    };
    if !req.names(username, &user_key)? {
        return Err(incorrect_password());
    }
    let fresh =
        srp::parse_timestamp(timestamp).is_some_and(|t| (t.unix_timestamp() - unix_now()).abs() <= TIMESTAMP_SKEW_SECS);
    if !fresh {
        return Err(Error::new(
            ErrorKind::NotAuthorized,
            "Invalid timestamp: the TIMESTAMP is too far from the server's clock.",
        ));
    }
    let block_bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, secret_block)
        .map_err(|_| invalid_session())?;
    let key = SessionKey::from_bytes(*key);
    let user = req.load_user(&user_key)?;
    let attempt = Attempt::begin(req.app, &req.pool.id, &user_key, req.lockout_subject(user.is_some()))?;
    if !srp::verify_password_claim(&key, req.pool.name_short(), user_id_for_srp, &block_bytes, timestamp, signature) {
        attempt.failed(req.app)?;
        return Err(incorrect_password());
    }
    req.app.auth.sessions.consume(&opened)?;
    let user = user.ok_or_else(incorrect_password)?;
    attempt.succeeded(req.app)?;
    after_password(req, user.record, &user_key).await
}

/// USER_PASSWORD_AUTH and ADMIN_USER_PASSWORD_AUTH: the password checked against the stored
/// check tag (or verifier, on the worker pool), with the same work for a user that does not exist.
async fn password_sign_in(req: &SignInRequest<'_>, params: &Map<String, Value>) -> Result<Step> {
    let username = required(params, "USERNAME")?;
    let password = required(params, "PASSWORD")?.to_owned();
    req.check_secret_hash(params, &[username])?;
    let mut claimant = req.claimant(username)?;
    let check = claimant.password_check(req.app, req.pool);
    let Claimant { user_key, found, user_id_for_srp, .. } = claimant;
    let attempt = Attempt::begin(req.app, &req.pool.id, &user_key, req.lockout_subject(found.is_some()))?;
    // A user who gets tokens straight away has them minted in the same worker job as the
    // check, only if the password matches.
    let minting = match found.as_ref().map(|u| &u.record) {
        Some(user) if gets_tokens_at_once(user) => {
            Some(Minting::prepare(req.app, req.pool, req.client, user, &user_key, Origin::Fresh)?)
        }
        _ => None,
    };
    let pool_short = req.pool.name_short().to_owned();
    // A cheap check (a tag) runs here, so that a wrong password is turned away without taking a
    // worker slot: a credential-stuffing attack then never crowds real sign-ins out of the queue.
    // Unknown names get the phantom tag check and are turned away alike.
    let of = PasswordOf { pool_short: &pool_short, user_id_for_srp: &user_id_for_srp, password: &password };
    let checked_here = check.is_cheap().then(|| check.matches(of));
    let (matches, tokens) = match checked_here {
        Some(matches) if !matches || minting.is_none() => (matches, None),
        _ => {
            req.app
                .on_worker(move || {
                    let of =
                        PasswordOf { pool_short: &pool_short, user_id_for_srp: &user_id_for_srp, password: &password };
                    let matches = checked_here.unwrap_or_else(|| check.matches(of));
                    let tokens = match minting {
                        Some(minting) if matches => Some(minting.run()?),
                        _ => None,
                    };
                    Ok((matches, tokens))
                })
                .await?
        }
    };
    let Some(user) = found else {
        attempt.failed(req.app)?;
        return Err(req.no_such_user());
    };
    if !matches {
        attempt.failed(req.app)?;
        return Err(incorrect_password());
    }
    attempt.succeeded(req.app)?;
    match tokens {
        Some(result) => Ok(Step::Authenticated(result)),
        None => after_password(req, user.record, &user_key).await,
    }
}

/// A user whose correct password ends the sign-in with tokens (no refusal, no challenge):
/// the `Confirmed` arm of [`after_password`].
fn gets_tokens_at_once(user: &User) -> bool {
    user.enabled && user.status == UserStatus::Confirmed
}

/// What follows a correct password: refusal for the account's state, the new-password
/// challenge, or tokens.
async fn after_password(req: &SignInRequest<'_>, user: User, user_key: &str) -> Result<Step> {
    if !user.enabled {
        return Err(Error::new(ErrorKind::NotAuthorized, "User is disabled."));
    }
    match user.status {
        UserStatus::Unconfirmed => Err(Error::new(ErrorKind::UserNotConfirmed, "User is not confirmed.")),
        UserStatus::ResetRequired => {
            Err(Error::new(ErrorKind::PasswordResetRequired, "Password reset required for the user"))
        }
        UserStatus::ForceChangePassword => {
            if user.temporary_password_expires.is_some_and(|t| t < now_epoch()) {
                return Err(Error::new(
                    ErrorKind::NotAuthorized,
                    "Temporary password has expired and must be reset by an administrator.",
                ));
            }
            let session = req.seal(
                Purpose::Session,
                Pending::NewPasswordRequired {
                    pool: req.pool.id.to_string(),
                    client: req.client.id.to_string(),
                    user_key: user_key.to_owned(),
                },
            )?;
            let mut parameters = Map::new();
            parameters.insert("USER_ID_FOR_SRP".into(), json!(user.username));
            parameters.insert(
                "requiredAttributes".into(),
                json!(json!(missing_required(req.pool, &user, &Map::new())
                    .iter()
                    .map(|a| format!("userAttributes.{a}"))
                    .collect::<Vec<_>>())
                .to_string()),
            );
            parameters.insert("userAttributes".into(), json!(Value::Object(visible_attributes(&user)).to_string()));
            Ok(Step::Challenge { name: "NEW_PASSWORD_REQUIRED", parameters, session: Some(session) })
        }
        UserStatus::Confirmed => {
            let result = Minting::prepare(req.app, req.pool, req.client, &user, user_key, Origin::Fresh)?
                .on_worker(req.app)
                .await?;
            Ok(Step::Authenticated(result))
        }
    }
}

/// NEW_PASSWORD_REQUIRED: sets the new password and any required attributes, then signs in.
async fn new_password(req: &SignInRequest<'_>, responses: &Map<String, Value>, session: &str) -> Result<Step> {
    let (opened, user_key) = req.open_pending(Purpose::Session, session)?;
    if !matches!(opened.body, Pending::NewPasswordRequired { .. }) {
        return Err(invalid_session());
    }
    let username = required(responses, "USERNAME")?;
    if !req.names(username, &user_key)? {
        return Err(invalid_session());
    }
    req.check_secret_hash(responses, &[username])?;
    let new_password = required(responses, "NEW_PASSWORD")?.to_owned();
    PasswordPolicy::of_pool(&req.pool.settings).check(&new_password)?;
    let current = req.load_user(&user_key)?.ok_or_else(|| req.no_such_user())?;
    let given: Map<String, Value> = responses
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("userAttributes.").map(|name| (name.to_owned(), v.clone())))
        .collect();
    if let Some(missing) = missing_required(req.pool, &current.record, &given).first() {
        return Err(Error::invalid_parameter(format!("Invalid attributes given, {missing} is missing")));
    }
    let mut user = current.record.clone();
    for (name, value) in &given {
        if name == "sub" {
            return Err(Error::invalid_parameter("Invalid attributes given, sub cannot be modified"));
        }
        user.attributes.insert(name.clone(), value.as_str().unwrap_or_default().to_owned());
    }
    user.password = Some(sealed_verifier(req.app, req.pool, &user_key, &user.username, &new_password).await?);
    user.status = UserStatus::Confirmed;
    user.temporary_password_expires = None;
    user.modified = now_epoch();
    req.app.auth.sessions.consume(&opened)?;
    req.app.directory.replace_user(&user_key, &current, &user)?;
    after_password(req, user, &user_key).await
}

/// REFRESH_TOKEN_AUTH: new ID and access tokens from a live sign-in of this client.
async fn refresh(req: &SignInRequest<'_>, params: &Map<String, Value>) -> Result<Step> {
    let token = required(params, "REFRESH_TOKEN")?;
    let invalid = || Error::new(ErrorKind::NotAuthorized, "Invalid Refresh Token");
    let (key, sign_in) = match req.app.directory.sign_in_by_refresh_hash(&tokens::refresh_token_hash(token))? {
        RefreshLookup::Active(key, sign_in) => (key, sign_in),
        RefreshLookup::Revoked => return Err(Error::new(ErrorKind::NotAuthorized, "Refresh Token has been revoked")),
        RefreshLookup::Unknown => return Err(invalid()),
    };
    if key.pool_id != req.pool.id || sign_in.client_id != req.client.id {
        return Err(invalid());
    }
    if sign_in.refresh_expires < unix_now() {
        return Err(Error::new(ErrorKind::NotAuthorized, "Refresh Token has expired"));
    }
    let user =
        req.load_user(&key.user_key)?.ok_or_else(|| Error::new(ErrorKind::NotAuthorized, "User does not exist."))?;
    let user = user.record;
    let mut names = vec![user.username.as_str(), user.sub.as_str()];
    if let Some(typed) = params.get("USERNAME").and_then(Value::as_str) {
        names.push(typed);
    }
    req.check_secret_hash(params, &names)?;
    if !user.enabled {
        return Err(Error::new(ErrorKind::NotAuthorized, "User is disabled."));
    }
    let origin = Origin::Refresh { origin_jti: key.origin_jti.clone(), auth_time: sign_in.auth_time };
    let result =
        Minting::prepare(req.app, req.pool, req.client, &user, &key.user_key, origin)?.on_worker(req.app).await?;
    Ok(Step::Authenticated(result))
}

/// A new verifier for `password` (policy checked first), computed on the worker pool and sealed
/// with its check tag.
pub async fn sealed_verifier(
    app: &App,
    pool: &UserPool,
    user_key: &str,
    username: &str,
    password: &str,
) -> Result<SealedVerifier> {
    PasswordPolicy::of_pool(&pool.settings).check(password)?;
    let (short, id, pw) = (pool.name_short().to_owned(), username.to_owned(), password.to_owned());
    let verifier = app
        .on_worker(move || {
            SrpVerifier::generate(&short, &id, &pw).map_err(|e| Error::internal("computing verifier", e))
        })
        .await?;
    let of = PasswordOf { pool_short: pool.name_short(), user_id_for_srp: username, password };
    app.auth.data.seal(&verifier_context(pool, user_key), &verifier, of)
}

/// The associated data a user's verifier is sealed with.
pub fn verifier_context(pool: &UserPool, user_key: &str) -> String {
    format!("{}\0{user_key}", pool.id)
}

/// Required schema attributes (other than `sub`) the user lacks and `given` does not supply.
fn missing_required(pool: &UserPool, user: &User, given: &Map<String, Value>) -> Vec<String> {
    pool.required_attribute_names()
        .filter(|name| !user.attributes.contains_key(*name) && !given.contains_key(*name))
        .map(str::to_owned)
        .collect()
}

/// The attributes shown in the NEW_PASSWORD_REQUIRED challenge (Cognito leaves out `sub`).
fn visible_attributes(user: &User) -> Map<String, Value> {
    user.attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
}
