//! Set-up and tear-down of what a run signs in to: a pool with a lenient password policy, an app
//! client and N users (SigV4-signed admin calls, throttling retried, progress on stderr), or a saved fixture.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{str_field, CallError, Connection, Endpoint};
use crate::sigv4::Signer;

/// Everything a run needs to sign in; saved with `--fixture` so later runs skip the set-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    pub pool_id: String,
    pub client_id: String,
    /// Every user has this password.
    pub password: String,
    pub usernames: Vec<String>,
}

impl Fixture {
    /// The pool id's part after `_`, which Cognito's SRP hashes into x and the claim signature.
    pub fn pool_short(&self) -> &str {
        self.pool_id.split_once('_').map_or(self.pool_id.as_str(), |(_, short)| short)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let fixture: Self = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if fixture.usernames.is_empty() {
            return Err(format!("{}: no usernames", path.display()));
        }
        Ok(fixture)
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        crate::report::create_parent(path)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The password every load-test user gets (the pool's policy is lenient, see [`create`]).
pub const DEFAULT_PASSWORD: &str = "portcullis-load-1";

/// How many times a throttled or dropped set-up call is retried before the set-up fails.
const MAX_ATTEMPTS: u32 = 60;

/// An admin caller: a connection plus the signer.
struct Admin<'a> {
    conn: Connection,
    signer: &'a Signer,
    throttled: &'a AtomicU64,
}

impl Admin<'_> {
    /// A signed call, retried with back-off while throttled or after a dropped connection.
    async fn call(&mut self, operation: &str, body: &serde_json::Value) -> Result<serde_json::Value, CallError> {
        let mut backoff = Backoff::new();
        loop {
            match self.conn.call(operation, body, Some(self.signer)).await {
                Err(e) if retryable(&e) && backoff.wait().await => {
                    if e.kind == "TooManyRequestsException" {
                        self.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                }
                other => return other,
            }
        }
    }
}

/// Waits between attempts of a throttled call: 50 ms doubling up to 1 s, [`MAX_ATTEMPTS`] in all.
pub struct Backoff {
    delay: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self { delay: Duration::from_millis(50), attempt: 1 }
    }

    /// Sleeps before the next attempt; false (at once) when the attempts are used up.
    pub async fn wait(&mut self) -> bool {
        if self.attempt >= MAX_ATTEMPTS {
            return false;
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(1));
        self.attempt += 1;
        true
    }
}

fn retryable(e: &CallError) -> bool {
    matches!(e.kind.as_str(), "TooManyRequestsException" | "ConnectionError" | "ConnectError" | "Timeout")
}

/// Creates a pool (minimum length 6, no character classes), an app client allowing SRP, password
/// and refresh sign-in, and `users` users `{prefix}-000000`… with a permanent password, using
/// `parallel` connections. Prints progress to stderr once a second.
pub async fn create(
    endpoint: &Arc<Endpoint>,
    signer: &Signer,
    users: usize,
    parallel: usize,
    name: &str,
) -> Result<Fixture, String> {
    let throttled = AtomicU64::new(0);
    let mut admin = Admin { conn: Connection::new(endpoint.clone()), signer, throttled: &throttled };
    let fail = |what: &str, e: CallError| format!("set-up: {what} failed: {e}");
    let pool = admin
        .call(
            "CreateUserPool",
            &json!({
                "PoolName": name,
                "Policies": {"PasswordPolicy": {
                    "MinimumLength": 6, "RequireUppercase": false, "RequireLowercase": false,
                    "RequireNumbers": false, "RequireSymbols": false,
                }},
            }),
        )
        .await
        .map_err(|e| fail("CreateUserPool", e))?;
    let pool_id = str_field(&pool, &["UserPool", "Id"]).map_err(|e| fail("CreateUserPool", e))?.to_owned();
    let client = admin
        .call(
            "CreateUserPoolClient",
            &json!({
                "UserPoolId": pool_id,
                "ClientName": name,
                "GenerateSecret": false,
                "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            }),
        )
        .await
        .map_err(|e| fail("CreateUserPoolClient", e))?;
    let client_id = str_field(&client, &["UserPoolClient", "ClientId"]).map_err(|e| fail("CreateUserPoolClient", e))?;
    let fixture = Fixture {
        pool_id: pool_id.clone(),
        client_id: client_id.to_owned(),
        password: DEFAULT_PASSWORD.to_owned(),
        usernames: (0..users).map(|i| format!("{name}-{i:06}")).collect(),
    };
    eprintln!("set-up: pool {pool_id}, client {client_id}; creating {users} users over {parallel} connections");

    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..parallel.clamp(1, users.max(1))).map(|_| {
        let (fixture, next, done, throttled) = (&fixture, &next, &done, &throttled);
        async move {
            let mut admin = Admin { conn: Connection::new(endpoint.clone()), signer, throttled };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(username) = fixture.usernames.get(i) else { return Ok(()) };
                create_user(&mut admin, &fixture.pool_id, username, &fixture.password).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let result = {
        let all = futures_join_all(workers.collect());
        tokio::pin!(all);
        let second = Duration::from_secs(1);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
        loop {
            tokio::select! {
                result = &mut all => break result,
                _ = tick.tick() => {
                    let n = done.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!("set-up: {n}/{users} users ({:.0}/s), throttled {} times", n as f64 / secs,
                              throttled.load(Ordering::Relaxed));
                }
            }
        }
    };
    if let Err(e) = result {
        // Leave nothing behind on failure.
        let _ = delete(endpoint, signer, &pool_id).await;
        return Err(e);
    }
    eprintln!(
        "set-up: {users} users in {:.1}s (throttled {} times)",
        started.elapsed().as_secs_f64(),
        throttled.load(Ordering::Relaxed)
    );
    Ok(fixture)
}

async fn create_user(admin: &mut Admin<'_>, pool_id: &str, username: &str, password: &str) -> Result<(), String> {
    let created = admin
        .call(
            "AdminCreateUser",
            &json!({
                "UserPoolId": pool_id,
                "Username": username,
                "MessageAction": "SUPPRESS",
                // The address `list-users-filtered` looks users up by, as `portcullis seed` gives it.
                "UserAttributes": [{"Name": "email", "Value": format!("{username}@example.com")}],
            }),
        )
        .await;
    match created {
        // A retried call may find the user it created on an earlier attempt.
        Ok(_) => {}
        Err(e) if e.kind == "UsernameExistsException" => {}
        Err(e) => return Err(format!("set-up: AdminCreateUser {username} failed: {e}")),
    }
    admin
        .call(
            "AdminSetUserPassword",
            &json!({"UserPoolId": pool_id, "Username": username, "Password": password, "Permanent": true}),
        )
        .await
        .map(drop)
        .map_err(|e| format!("set-up: AdminSetUserPassword {username} failed: {e}"))
}

/// DeleteUserPool (with its users and client).
pub async fn delete(endpoint: &Arc<Endpoint>, signer: &Signer, pool_id: &str) -> Result<(), String> {
    let throttled = AtomicU64::new(0);
    let mut admin = Admin { conn: Connection::new(endpoint.clone()), signer, throttled: &throttled };
    admin
        .call("DeleteUserPool", &json!({"UserPoolId": pool_id}))
        .await
        .map(drop)
        .map_err(|e| format!("DeleteUserPool {pool_id} failed: {e}"))
}

/// Runs futures concurrently on this task; the first error wins (the rest are dropped).
async fn futures_join_all<F>(futures: Vec<F>) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(Ok(())) => *slot = None,
                    std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(Ok(()))
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_short_name() {
        let f = Fixture {
            pool_id: "us-east-1_AbC".into(),
            client_id: String::new(),
            password: String::new(),
            usernames: vec![],
        };
        assert_eq!(f.pool_short(), "AbC");
    }
}
