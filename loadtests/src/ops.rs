//! The operations a transaction can be ([`Op`]: SRP and password sign-in, refresh, SignUp, GetUser,
//! ListUsers, AdminCreateUser) made by [`Ops`], and [`Mix`]: the scenario running one of them or a weighted mix.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use portcullis::auth::srp::{format_timestamp, SrpError};
use portcullis::auth::srp_client::{PasswordKey, SrpClient, VerifierChallenge};
use rand::Rng;
use serde_json::json;

use crate::client::{str_field, CallError, Connection};
use crate::scenario::{tag, Compute, Outcome, Scenario, Transaction, Vu};
use crate::setup::{self, Fixture};
use crate::sigv4::Signer;
use crate::stats::ErrorKey;

/// One kind of transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// USER_SRP_AUTH: InitiateAuth + RespondToAuthChallenge (PASSWORD_VERIFIER).
    Srp,
    /// USER_PASSWORD_AUTH: one InitiateAuth.
    Password,
    /// REFRESH_TOKEN_AUTH with the virtual user's refresh token.
    Refresh,
    /// SignUp of a new username.
    Signup,
    /// GetUser with the virtual user's access token.
    GetUser,
    /// ListUsers (SigV4-signed, Limit 60).
    ListUsers,
    /// ListUsers with an indexed filter, `email = "{username}@example.com"` (the address the
    /// set-up and `portcullis seed` give each user), for one fixture user after another;
    /// exactly one user must come back.
    ListUsersFiltered,
    /// AdminCreateUser of a new username (SigV4-signed, MessageAction SUPPRESS).
    AdminCreateUser,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Srp,
        Op::Password,
        Op::Refresh,
        Op::Signup,
        Op::GetUser,
        Op::ListUsers,
        Op::ListUsersFiltered,
        Op::AdminCreateUser,
    ];

    /// The name on the command line, in `--weights` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Srp => "srp",
            Op::Password => "password",
            Op::Refresh => "refresh",
            Op::Signup => "signup",
            Op::GetUser => "get-user",
            Op::ListUsers => "list-users",
            Op::ListUsersFiltered => "list-users-filtered",
            Op::AdminCreateUser => "admin-create-user",
        }
    }

    /// What one transaction is, plural and singular.
    pub fn unit(self) -> [&'static str; 2] {
        match self {
            Op::Srp | Op::Password => ["sign-ins", "sign-in"],
            Op::Refresh => ["refreshes", "refresh"],
            Op::Signup => ["sign-ups", "sign-up"],
            Op::AdminCreateUser => ["users created", "user created"],
            Op::GetUser | Op::ListUsers | Op::ListUsersFiltered => ["requests", "request"],
        }
    }

    /// Whether it is an admin call, which needs the SigV4 signer.
    pub fn is_admin(self) -> bool {
        matches!(self, Op::ListUsers | Op::ListUsersFiltered | Op::AdminCreateUser)
    }

    /// Whether a virtual user needs tokens (from a password sign-in in `init`) for it.
    fn needs_tokens(self) -> bool {
        matches!(self, Op::Refresh | Op::GetUser)
    }
}

/// Parses `--weights get-user=40,refresh=25,...` (weights are relative; zero leaves an operation out).
/// The operation called `name` on the command line (`srp`, `get-user`, ...).
pub fn parse_op(name: &str) -> Result<Op, String> {
    Op::ALL.into_iter().find(|op| op.name() == name.trim()).ok_or_else(|| {
        let names: Vec<_> = Op::ALL.iter().map(|op| op.name()).collect();
        format!("{name:?}: not one of {}", names.join(", "))
    })
}

pub fn parse_weights(text: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut weights = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').ok_or_else(|| format!("{part:?}: expected OP=WEIGHT"))?;
        let op = parse_op(name)?;
        let weight: u32 = weight.trim().parse().map_err(|e| format!("{part:?}: {e}"))?;
        if weight > 0 {
            weights.push((op, weight));
        }
    }
    if weights.is_empty() {
        return Err("no operation has a positive weight".into());
    }
    Ok(weights)
}

/// Tokens of a sign-in.
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
}

/// A virtual user's state: its tokens (when its operations need them) and how many users it signed up
/// or created.
#[derive(Default)]
pub struct Session {
    pub tokens: Option<Tokens>,
    pub count: u64,
}

/// Makes the operations; shared by every virtual user.
pub struct Ops {
    compute: Compute,
    /// Length of the SRP client secret a (real clients use 128 bytes; see the README).
    pub a_bytes: usize,
    /// For the admin calls (ListUsers, AdminCreateUser).
    signer: Option<Arc<Signer>>,
    /// Makes this run's SignUp and AdminCreateUser usernames unique.
    run_tag: String,
    /// SRP client secrets a (with A = g^a), made by the first sign-ins, then drawn at random: a fresh
    /// A per sign-in is a remote client's CPU, which on the daemon's own cores the daemon would lose.
    srp_clients: Arc<Mutex<Vec<SrpClient>>>,
    password_keys: Arc<PasswordKeys>,
}

/// Each user's x and k·g^x by (USER_ID_FOR_SRP, SALT), derived at its first SRP sign-in.
#[derive(Default)]
struct PasswordKeys(Mutex<HashMap<(String, String), PasswordKey>>);

impl PasswordKeys {
    fn get_or_derive(&self, fixture: &Fixture, user_id: &str, salt_hex: &str) -> Result<PasswordKey, SrpError> {
        let cache_key = (user_id.to_owned(), salt_hex.to_owned());
        if let Some(key) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&cache_key) {
            return Ok(key.clone());
        }
        let key = PasswordKey::derive(fixture.pool_short(), user_id, &fixture.password, salt_hex)?;
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(cache_key, key.clone());
        Ok(key)
    }
}

/// How many SRP client secrets the generator makes before it reuses them.
const SRP_CLIENT_SECRETS: usize = 64;

impl Ops {
    pub fn new(a_bytes: usize, signer: Option<Arc<Signer>>) -> Self {
        let run_tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        Self {
            compute: Compute::new(),
            a_bytes,
            signer,
            run_tag,
            srp_clients: Arc::default(),
            password_keys: Arc::default(),
        }
    }

    /// One transaction of `op` for this virtual user, counted under `op`'s name.
    pub async fn run(&self, op: Op, vu: &mut Vu, session: &mut Session) -> Outcome {
        let mut tx = Transaction::default();
        let fixture = vu.fixture.clone();
        let result = match op {
            Op::Srp => {
                let username = vu.next_username();
                self.srp(&mut vu.conn, &mut tx, &fixture, &username).await
            }
            Op::Password => {
                let username = vu.next_username();
                password(&mut vu.conn, &mut tx, &fixture, &username, &fixture.password).await.map(drop)
            }
            Op::Refresh => match session.tokens.as_ref().and_then(|t| t.refresh.as_deref()) {
                Some(token) => refresh(&mut vu.conn, &mut tx, &fixture, token).await,
                None => Err(no_token(op)),
            },
            Op::GetUser => match &session.tokens {
                Some(tokens) => get_user(&mut vu.conn, &mut tx, &tokens.access).await,
                None => Err(no_token(op)),
            },
            Op::Signup => {
                let username = self.new_username("su", vu.index, session);
                sign_up(&mut vu.conn, &mut tx, &fixture, &username).await
            }
            Op::ListUsers => self.list_users(&mut vu.conn, &mut tx, &fixture, None).await,
            Op::ListUsersFiltered => {
                let filter = format!("email = \"{}@example.com\"", vu.next_username());
                self.list_users(&mut vu.conn, &mut tx, &fixture, Some(&filter)).await
            }
            Op::AdminCreateUser => {
                let username = self.new_username("ac", vu.index, session);
                self.admin_create_user(&mut vu.conn, &mut tx, &fixture, &username).await
            }
        };
        tx.finish(op.name(), result)
    }

    /// A username no one has yet: `{prefix}-{run}-{vu}-{n}` (the virtual user's n-th).
    fn new_username(&self, prefix: &str, vu: usize, session: &mut Session) -> String {
        session.count += 1;
        format!("{prefix}-{}-{vu}-{}", self.run_tag, session.count)
    }

    /// A password sign-in of the virtual user's next user, for its tokens (not measured).
    /// Throttling is waited out as in set-up: a virtual user that an open-loop run adds while it
    /// overloads the server would otherwise fail before its first measured transaction.
    pub async fn sign_in_for_tokens(&self, vu: &mut Vu) -> Result<Tokens, String> {
        let username = vu.next_username();
        let fixture = vu.fixture.clone();
        let mut backoff = setup::Backoff::new();
        loop {
            let mut tx = Transaction::default();
            match password(&mut vu.conn, &mut tx, &fixture, &username, &fixture.password).await {
                Err(e) if e.kind == "TooManyRequestsException" && backoff.wait().await => {}
                result => {
                    return result.map_err(|e| format!("sign-in of {username} for tokens: {}: {}", e.kind, e.message))
                }
            }
        }
    }

    async fn srp(&self, conn: &mut Connection, tx: &mut Transaction, fixture: &Arc<Fixture>, user: &str) -> Step {
        let client = self.srp_client().await?;
        let initiate = json!({
            "AuthFlow": "USER_SRP_AUTH",
            "ClientId": fixture.client_id,
            "AuthParameters": {"USERNAME": user, "SRP_A": client.srp_a_hex()},
        });
        let challenge = tx.call(conn, "InitiateAuth", &initiate).await?;
        let field = |path: &[&str]| str_field(&challenge, path).map(str::to_owned).map_err(|e| tag("InitiateAuth", e));
        let name = field(&["ChallengeName"])?;
        if name != "PASSWORD_VERIFIER" {
            let e = CallError::new("UnexpectedChallenge", format!("expected PASSWORD_VERIFIER, got {name}"));
            return Err(tag("InitiateAuth", e));
        }
        let params =
            ["SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP"].map(|key| field(&["ChallengeParameters", key]));
        let [salt, srp_b, secret_block, user_id] = params;
        let (salt, srp_b, secret_block, user_id) = (salt?, srp_b?, secret_block?, user_id?);
        let session = field(&["Session"])?;
        let timestamp = format_timestamp(time::OffsetDateTime::now_utc());
        let claim = {
            let (user_id, secret_block, timestamp, fixture) =
                (user_id.clone(), secret_block.clone(), timestamp.clone(), fixture.clone());
            let keys = self.password_keys.clone();
            self.compute
                .run(move || {
                    let key = keys.get_or_derive(&fixture, &user_id, &salt)?;
                    let challenge =
                        VerifierChallenge { salt_hex: &salt, srp_b_hex: &srp_b, secret_block_b64: &secret_block };
                    client.password_claim_with(&key, fixture.pool_short(), &user_id, &challenge, &timestamp)
                })
                .await
                .map_err(|e| tag("SrpClient", e))?
                .map_err(|e| tag("SrpClient", CallError::new("ClientError", format!("{e:?}"))))?
        };
        let respond = json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": fixture.client_id,
            "Session": session,
            "ChallengeResponses": {
                "USERNAME": user_id,
                "PASSWORD_CLAIM_SECRET_BLOCK": secret_block,
                "PASSWORD_CLAIM_SIGNATURE": claim,
                "TIMESTAMP": timestamp,
            },
        });
        let result = tx.call(conn, "RespondToAuthChallenge", &respond).await?;
        str_field(&result, &["AuthenticationResult", "AccessToken"]).map_err(|e| tag("RespondToAuthChallenge", e))?;
        Ok(())
    }

    /// A client secret for one SRP sign-in: a new one until [`SRP_CLIENT_SECRETS`] are made, then one of those.
    async fn srp_client(&self) -> Result<SrpClient, ErrorKey> {
        {
            let made = self.srp_clients.lock().unwrap_or_else(PoisonError::into_inner);
            if made.len() >= SRP_CLIENT_SECRETS {
                return Ok(made[rand::thread_rng().gen_range(0..made.len())].clone());
            }
        }
        let a_bytes = self.a_bytes;
        let client = self.compute.run(move || new_srp_client(a_bytes)).await.and_then(|c| c);
        let client = client.map_err(|e| tag("SrpClient", e))?;
        self.srp_clients.lock().unwrap_or_else(PoisonError::into_inner).push(client.clone());
        Ok(client)
    }

    /// ListUsers, Limit 60; with a `filter`, exactly one user must match.
    async fn list_users(
        &self,
        conn: &mut Connection,
        tx: &mut Transaction,
        fixture: &Fixture,
        filter: Option<&str>,
    ) -> Step {
        /// The answer must be JSON with a `Users` array; the users themselves are only scanned.
        #[derive(serde::Deserialize)]
        struct Listing {
            #[serde(rename = "Users")]
            users: Vec<serde::de::IgnoredAny>,
        }
        let mut body = json!({"UserPoolId": fixture.pool_id, "Limit": 60});
        if let Some(f) = filter {
            body["Filter"] = json!(f);
        }
        let listing: Listing = tx.call_signed(conn, "ListUsers", &body, self.signer.as_deref()).await?;
        if filter.is_some() && listing.users.len() != 1 {
            let matched = format!("the filter matched {} users, not 1", listing.users.len());
            return Err(tag("ListUsers", CallError::new("WrongResult", matched)));
        }
        Ok(())
    }

    /// AdminCreateUser without a temporary password or invitation (the user is FORCE_CHANGE_PASSWORD).
    async fn admin_create_user(
        &self,
        conn: &mut Connection,
        tx: &mut Transaction,
        fixture: &Fixture,
        user: &str,
    ) -> Step {
        let body = json!({"UserPoolId": fixture.pool_id, "Username": user, "MessageAction": "SUPPRESS"});
        let answer = tx.call_signed(conn, "AdminCreateUser", &body, self.signer.as_deref()).await?;
        str_field(&answer, &["User", "Username"]).map(drop).map_err(|e| tag("AdminCreateUser", e))
    }
}

type Step = Result<(), ErrorKey>;

fn no_token(op: Op) -> ErrorKey {
    tag(op.name(), CallError::new("ClientError", "no token from init"))
}

/// An SRP client with a fresh secret a of `a_bytes` bytes (full length, never zero).
fn new_srp_client(a_bytes: usize) -> Result<SrpClient, CallError> {
    let mut a = vec![0u8; a_bytes];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut a);
    if let Some(first) = a.first_mut() {
        *first |= 0x80;
    }
    SrpClient::with_a(&a).map_err(|e| CallError::new("ClientError", format!("{e:?}")))
}

/// USER_PASSWORD_AUTH: one InitiateAuth; the tokens of a successful sign-in.
pub async fn password(
    conn: &mut Connection,
    tx: &mut Transaction,
    fixture: &Fixture,
    user: &str,
    password: &str,
) -> Result<Tokens, ErrorKey> {
    let body = json!({
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": fixture.client_id,
        "AuthParameters": {"USERNAME": user, "PASSWORD": password},
    });
    let answer = tx.call(conn, "InitiateAuth", &body).await?;
    let field = |key: &str| str_field(&answer, &["AuthenticationResult", key]).map(str::to_owned);
    let access = field("AccessToken").map_err(|e| tag("InitiateAuth", e))?;
    Ok(Tokens { access, refresh: field("RefreshToken").ok() })
}

async fn refresh(conn: &mut Connection, tx: &mut Transaction, fixture: &Fixture, token: &str) -> Step {
    let body = json!({
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "ClientId": fixture.client_id,
        "AuthParameters": {"REFRESH_TOKEN": token},
    });
    let answer = tx.call(conn, "InitiateAuth", &body).await?;
    str_field(&answer, &["AuthenticationResult", "AccessToken"]).map(drop).map_err(|e| tag("InitiateAuth", e))
}

async fn get_user(conn: &mut Connection, tx: &mut Transaction, access_token: &str) -> Step {
    let answer = tx.call(conn, "GetUser", &json!({"AccessToken": access_token})).await?;
    str_field(&answer, &["Username"]).map(drop).map_err(|e| tag("GetUser", e))
}

async fn sign_up(conn: &mut Connection, tx: &mut Transaction, fixture: &Fixture, user: &str) -> Step {
    let body = json!({"ClientId": fixture.client_id, "Username": user, "Password": fixture.password});
    let answer = tx.call(conn, "SignUp", &body).await?;
    str_field(&answer, &["UserSub"]).map(drop).map_err(|e| tag("SignUp", e))
}

/// One operation per iteration, drawn by weight (a single operation for `password`, `refresh`, ...).
pub struct Mix {
    name: &'static str,
    ops: Ops,
    weights: Vec<(Op, u32)>,
    total: u32,
}

impl Mix {
    /// The scenario named after `op`, doing only that.
    pub fn single(op: Op, ops: Ops) -> Self {
        Self { name: op.name(), ops, weights: vec![(op, 1)], total: 1 }
    }

    /// `mixed`: operations drawn by `weights` (relative, positive).
    pub fn weighted(weights: Vec<(Op, u32)>, ops: Ops) -> Self {
        let total = weights.iter().map(|(_, w)| w).sum();
        Self { name: "mixed", ops, weights, total }
    }

    /// The same scenario under another name (`overload` runs `password` open-loop).
    pub fn named(self, name: &'static str) -> Self {
        Self { name, ..self }
    }

    fn draw(&self) -> Op {
        let mut pick = rand::thread_rng().gen_range(0..self.total);
        for &(op, weight) in &self.weights {
            if pick < weight {
                return op;
            }
            pick -= weight;
        }
        self.weights[0].0
    }
}

impl Scenario for Mix {
    type State = Session;

    fn name(&self) -> &'static str {
        self.name
    }

    fn unit(&self) -> [&'static str; 2] {
        match self.weights.as_slice() {
            [(op, _)] => op.unit(),
            _ => ["operations", "operation"],
        }
    }

    fn options(&self) -> serde_json::Value {
        let weights: serde_json::Map<String, serde_json::Value> =
            self.weights.iter().map(|(op, w)| (op.name().to_owned(), json!(w))).collect();
        let mut options = json!({"weights": weights});
        if self.weights.iter().any(|(op, _)| *op == Op::Srp) {
            options["srp_a_bytes"] = json!(self.ops.a_bytes);
        }
        options
    }

    async fn init(&self, vu: &mut Vu) -> Result<Session, String> {
        let mut session = Session::default();
        if self.weights.iter().any(|(op, _)| op.needs_tokens()) {
            let tokens = self.ops.sign_in_for_tokens(vu).await?;
            if tokens.refresh.is_none() && self.weights.iter().any(|(op, _)| *op == Op::Refresh) {
                return Err("the sign-in for tokens returned no RefreshToken".into());
            }
            session.tokens = Some(tokens);
        }
        Ok(session)
    }

    async fn iteration(&self, vu: &mut Vu, session: &mut Session) -> Outcome {
        self.ops.run(self.draw(), vu, session).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse() {
        let w = parse_weights("get-user=40, refresh=25,password=20,srp=10,signup=5,list-users=0").unwrap();
        assert_eq!(w, vec![(Op::GetUser, 40), (Op::Refresh, 25), (Op::Password, 20), (Op::Srp, 10), (Op::Signup, 5)]);
        assert!(parse_weights("nope=1").unwrap_err().contains("admin-create-user"));
        assert_eq!(parse_weights("admin-create-user=2").unwrap(), vec![(Op::AdminCreateUser, 2)]);
        assert!(parse_weights("srp").is_err());
        assert!(parse_weights("srp=0").is_err());
    }

    #[test]
    fn draws_follow_weights() {
        let mix = Mix::weighted(vec![(Op::GetUser, 3), (Op::Signup, 1)], Ops::new(32, None));
        let gets = (0..4000).filter(|_| mix.draw() == Op::GetUser).count();
        assert!((2700..3300).contains(&gets), "{gets}");
        assert_eq!(mix.unit(), ["operations", "operation"]);
        assert_eq!(Mix::single(Op::Refresh, Ops::new(32, None)).name(), "refresh");
    }
}
