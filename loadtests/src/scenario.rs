//! The [`Scenario`] trait (what one virtual user does per iteration) and the scenarios:
//! `srp` (full USER_SRP_AUTH sign-in: InitiateAuth + RespondToAuthChallenge with PASSWORD_VERIFIER).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::auth::srp::format_timestamp;
use portcullis::auth::srp_client::{SrpClient, VerifierChallenge};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::client::{str_field, CallError, Connection};
use crate::setup::Fixture;
use crate::stats::ErrorKey;

/// A virtual user: its own keep-alive connection and its share of the fixture's users.
pub struct Vu {
    pub index: usize,
    pub conn: Connection,
    pub fixture: Arc<Fixture>,
    /// How many virtual users the run has: user `index + k·concurrency` is this one's k-th.
    pub concurrency: usize,
    iterations: usize,
}

impl Vu {
    pub fn new(index: usize, conn: Connection, fixture: Arc<Fixture>, concurrency: usize) -> Self {
        Self { index, conn, fixture, concurrency, iterations: 0 }
    }

    /// The next username of this virtual user's round-robin share (every user is used when there
    /// are at least as many virtual users as users; users are shared when there are fewer).
    pub fn next_username(&mut self) -> String {
        let users = &self.fixture.usernames;
        let i = (self.index + self.iterations * self.concurrency) % users.len();
        self.iterations += 1;
        users[i].clone()
    }
}

/// The result of one iteration: one transaction, successful or not.
#[derive(Debug)]
pub struct Outcome {
    /// Time spent waiting on the server (the transaction's round trips, not the client's own computation).
    pub latency: Duration,
    pub error: Option<ErrorKey>,
}

/// Accumulates the round trips of one transaction.
#[derive(Default)]
pub struct Transaction {
    latency: Duration,
}

impl Transaction {
    /// Makes one call, adding its round trip to the transaction's latency; errors are tagged with the operation.
    pub async fn call(
        &mut self,
        conn: &mut Connection,
        operation: &'static str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ErrorKey> {
        let started = Instant::now();
        let result = conn.call(operation, body, None).await;
        self.latency += started.elapsed();
        result.map_err(|e| tag(operation, e))
    }

    pub fn finish(self, result: Result<(), ErrorKey>) -> Outcome {
        Outcome { latency: self.latency, error: result.err() }
    }
}

fn tag(operation: &'static str, e: CallError) -> ErrorKey {
    ErrorKey { operation, kind: e.kind, message: e.message }
}

/// A load scenario; one instance is shared by every virtual user of a run.
pub trait Scenario: Send + Sync + 'static {
    /// Per-virtual-user state kept between iterations (e.g. a refresh token).
    type State: Send + 'static;
    /// The scenario's name on the command line and in reports.
    const NAME: &'static str;
    /// What one transaction is, plural and singular, for reports: "sign-ins", "sign-in".
    const UNIT: &'static str;
    const UNIT_ONE: &'static str;
    /// Scenario-specific settings, recorded in the report.
    fn options(&self) -> serde_json::Value {
        json!({})
    }
    /// Prepares a virtual user before the clock starts (the connection is already open).
    fn init(&self, vu: &mut Vu) -> impl Future<Output = Result<Self::State, String>> + Send;
    /// One transaction.
    fn iteration(&self, vu: &mut Vu, state: &mut Self::State) -> impl Future<Output = Outcome> + Send;
}

/// Runs CPU-heavy client-side work (SRP big-number math) on the blocking pool, at most one job per
/// core at a time, so that it neither stalls the I/O threads nor inflates the measured round trips.
#[derive(Clone)]
pub struct Compute {
    permits: Arc<Semaphore>,
}

impl Compute {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self { permits: Arc::new(Semaphore::new(cores)) }
    }

    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, CallError> {
        let _permit = self.permits.acquire().await.map_err(|e| CallError::new("ClientError", e.to_string()))?;
        tokio::task::spawn_blocking(job).await.map_err(|e| CallError::new("ClientError", e.to_string()))
    }
}

/// `srp`: a full USER_SRP_AUTH sign-in per iteration, with a fresh client secret a each time (as
/// amazon-cognito-identity-js does). Latency = InitiateAuth + RespondToAuthChallenge round trips.
pub struct SrpSignIn {
    compute: Compute,
    /// Length of the client secret a. Real clients use 128 random bytes; the server's work does not
    /// depend on it (A is a full group element either way), the load generator's does, so shorter is cheaper.
    a_bytes: usize,
}

impl SrpSignIn {
    pub fn new(a_bytes: usize) -> Self {
        Self { compute: Compute::new(), a_bytes }
    }

    fn new_client(a_bytes: usize) -> Result<SrpClient, CallError> {
        let mut a = vec![0u8; a_bytes];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut a);
        if let Some(first) = a.first_mut() {
            *first |= 0x80; // full length, never zero
        }
        SrpClient::with_a(&a).map_err(|e| CallError::new("ClientError", format!("{e:?}")))
    }

    async fn sign_in(&self, vu: &mut Vu, tx: &mut Transaction) -> Result<(), ErrorKey> {
        let username = vu.next_username();
        let fixture = vu.fixture.clone();
        let a_bytes = self.a_bytes;
        let client = self
            .compute
            .run(move || Self::new_client(a_bytes))
            .await
            .and_then(|c| c)
            .map_err(|e| tag("SrpClient", e))?;
        let initiate = json!({
            "AuthFlow": "USER_SRP_AUTH",
            "ClientId": fixture.client_id,
            "AuthParameters": {"USERNAME": username, "SRP_A": client.srp_a_hex()},
        });
        let challenge = tx.call(&mut vu.conn, "InitiateAuth", &initiate).await?;
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
            let (user_id, secret_block, timestamp) = (user_id.clone(), secret_block.clone(), timestamp.clone());
            self.compute
                .run(move || {
                    let challenge =
                        VerifierChallenge { salt_hex: &salt, srp_b_hex: &srp_b, secret_block_b64: &secret_block };
                    client.password_claim(fixture.pool_short(), &user_id, &fixture.password, &challenge, &timestamp)
                })
                .await
                .map_err(|e| tag("SrpClient", e))?
                .map_err(|e| tag("SrpClient", CallError::new("ClientError", format!("{e:?}"))))?
        };
        let respond = json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": vu.fixture.client_id,
            "Session": session,
            "ChallengeResponses": {
                "USERNAME": user_id,
                "PASSWORD_CLAIM_SECRET_BLOCK": secret_block,
                "PASSWORD_CLAIM_SIGNATURE": claim,
                "TIMESTAMP": timestamp,
            },
        });
        let result = tx.call(&mut vu.conn, "RespondToAuthChallenge", &respond).await?;
        str_field(&result, &["AuthenticationResult", "AccessToken"]).map_err(|e| tag("RespondToAuthChallenge", e))?;
        Ok(())
    }
}

impl Scenario for SrpSignIn {
    type State = ();
    const NAME: &'static str = "srp";
    const UNIT: &'static str = "sign-ins";
    const UNIT_ONE: &'static str = "sign-in";

    fn options(&self) -> serde_json::Value {
        json!({"srp_a_bytes": self.a_bytes})
    }

    async fn init(&self, _vu: &mut Vu) -> Result<(), String> {
        Ok(())
    }

    async fn iteration(&self, vu: &mut Vu, _state: &mut ()) -> Outcome {
        let mut tx = Transaction::default();
        let result = self.sign_in(vu, &mut tx).await;
        tx.finish(result)
    }
}
