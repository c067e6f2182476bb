//! The [`Scenario`] trait (what one virtual user does per iteration), virtual users, transactions
//! and the blocking pool for client-side crypto; the scenarios themselves are in `ops.rs` and `stuffing.rs`.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::client::{CallError, Connection};
use crate::setup::Fixture;
use crate::sigv4::Signer;
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
    /// The row it counts under (the operation's name in `mixed`).
    pub op: &'static str,
    /// Attack traffic, summarised apart (`stuffing`).
    pub attack: bool,
}

/// Accumulates the round trips of one transaction.
#[derive(Default)]
pub struct Transaction {
    latency: Duration,
}

impl Transaction {
    /// Makes one call, adding its round trip to the transaction's latency; errors are tagged with the operation.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        conn: &mut Connection,
        operation: &'static str,
        body: &serde_json::Value,
    ) -> Result<T, ErrorKey> {
        self.call_signed(conn, operation, body, None).await
    }

    /// [`Transaction::call`], SigV4-signed when `signer` is given (admin operations).
    pub async fn call_signed<T: serde::de::DeserializeOwned>(
        &mut self,
        conn: &mut Connection,
        operation: &'static str,
        body: &serde_json::Value,
        signer: Option<&Signer>,
    ) -> Result<T, ErrorKey> {
        let started = Instant::now();
        let result = conn.call(operation, body, signer).await;
        self.latency += started.elapsed();
        result.map_err(|e| tag(operation, e))
    }

    /// The outcome, counted under the row `op`.
    pub fn finish<T>(self, op: &'static str, result: Result<T, ErrorKey>) -> Outcome {
        Outcome { latency: self.latency, error: result.err(), op, attack: false }
    }
}

pub fn tag(operation: &'static str, e: CallError) -> ErrorKey {
    ErrorKey { operation, kind: e.kind, message: e.message }
}

/// A load scenario; one instance is shared by every virtual user of a run.
pub trait Scenario: Send + Sync + 'static {
    /// Per-virtual-user state kept between iterations (e.g. a refresh token).
    type State: Send + 'static;
    /// The scenario's name on the command line and in reports.
    fn name(&self) -> &'static str;
    /// What one transaction is, plural and singular, for reports: `["sign-ins", "sign-in"]`.
    fn unit(&self) -> [&'static str; 2];
    /// Scenario-specific settings, recorded in the report.
    fn options(&self) -> serde_json::Value {
        json!({})
    }
    /// Virtual users to start for `--concurrency N` (`stuffing` adds its attackers).
    fn virtual_users(&self, concurrency: usize) -> usize {
        concurrency
    }
    /// Local address virtual user `index` connects from (`None`: any).
    fn source_ip(&self, _index: usize) -> Option<IpAddr> {
        None
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
