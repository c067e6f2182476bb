//! `portcullis-load`, the load generator: command line, then set-up (pool, client, users over SigV4
//! or a saved fixture), one timed scenario run, the report (table, JSON, SVG) and tear-down.

mod chart;
mod client;
mod cpu;
mod openloop;
mod ops;
mod report;
mod runner;
mod scenario;
mod setup;
mod sigv4;
mod stats;
mod stuffing;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use client::Endpoint;
use openloop::OpenLoopPlan;
use ops::{Mix, Op, Ops};
use report::{Report, RunSettings};
use runner::RunConfig;
use scenario::Scenario;
use setup::Fixture;
use sigv4::{Credentials, Signer};
use stuffing::Stuffing;

/// The daemon's allocator: glibc's malloc/free were ~14% of the generator's CPU at 3x the password peak.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "portcullis-load",
    version,
    about = "Load generator for Portcullis: N concurrent virtual users against the cognito-idp API over HTTPS (or HTTP)",
    after_help = "Progress goes to stderr once a second; the summary table to stdout; {out}.json and {out}.svg are written."
)]
struct Cli {
    #[command(subcommand)]
    scenario: ScenarioCommand,
    /// Threads of the load generator's runtime [default: one per CPU]. On the daemon's own cores,
    /// 1 costs the daemon least: the generator's threads then never wake each other.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Full USER_SRP_AUTH sign-ins: InitiateAuth, then RespondToAuthChallenge with PASSWORD_VERIFIER.
    Srp(CommonArgs),
    /// USER_PASSWORD_AUTH sign-ins: one InitiateAuth returning tokens.
    Password(CommonArgs),
    /// REFRESH_TOKEN_AUTH with a refresh token each virtual user got by signing in before the run.
    Refresh(CommonArgs),
    /// SignUp of a new, unique username per transaction.
    Signup(CommonArgs),
    /// GetUser with an access token each virtual user got by signing in before the run.
    GetUser(CommonArgs),
    /// ListUsers (SigV4-signed, Limit 60) of the pool.
    ListUsers(CommonArgs),
    /// ListUsers with an indexed filter (`email = "{username}@example.com"`, as seeded users have),
    /// one fixture user after another; each must match exactly one user.
    ListUsersFiltered(CommonArgs),
    /// AdminCreateUser (SigV4-signed, MessageAction SUPPRESS) of a new, unique username per transaction.
    AdminCreateUser(CommonArgs),
    /// A weighted mix of the operations above, with a row per operation in the report.
    Mixed(MixedArgs),
    /// Open loop: transactions (password sign-ins unless --op) started at a fixed offered rate however the server copes; offered vs served.
    Overload(OverloadArgs),
    /// Credential stuffing: attackers with wrong passwords from many loopback addresses, while legitimate users sign in.
    Stuffing(StuffingArgs),
}

#[derive(Args, Debug)]
struct MixedArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Relative weights, OP=WEIGHT,... (ops: srp, password, refresh, signup, get-user, list-users,
    /// admin-create-user).
    #[arg(long, default_value = "get-user=40,refresh=25,password=20,srp=10,signup=5")]
    weights: String,
}

#[derive(Args, Debug)]
struct OverloadArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Offered transactions per second (e.g. 3x the measured peak of the operation, or 70% of it for
    /// latency at a sustainable load); --concurrency connections are opened beforehand, more under load.
    #[arg(long)]
    rate: f64,
    /// The operation offered (srp, password, refresh, signup, get-user, list-users, admin-create-user).
    #[arg(long, default_value = "password", value_parser = ops::parse_op)]
    op: Op,
    /// Most transactions in flight at once (one connection each); later arrivals wait, and the wait counts.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_in_flight: u32,
    /// Arrivals that fell due are released together at most every this many milliseconds (0: each
    /// at its own time, as finely as the 1 ms timer allows); latency still counts from each one's
    /// scheduled start.
    #[arg(long, default_value_t = 2)]
    tick_ms: u64,
}

#[derive(Args, Debug)]
struct StuffingArgs {
    /// (--concurrency is the number of legitimate virtual users.)
    #[command(flatten)]
    common: CommonArgs,
    /// Attacking virtual users (in addition to --concurrency legitimate ones).
    #[arg(long, default_value_t = 50)]
    attackers: usize,
    /// Source addresses the attackers connect from: 127.0.0.2 up to 127.0.0.(N+1).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(1..=253))]
    attacker_ips: u8,
    /// How legitimate users sign in.
    #[arg(long, value_enum, default_value = "srp")]
    legit_flow: LegitFlow,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LegitFlow {
    Srp,
    Password,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// The daemon's URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    endpoint: String,
    /// PEM file of the CA(s) to trust for the server certificate (dev mode: {data_dir}/tls/ca.pem);
    /// needed for https.
    #[arg(long, value_name = "PEM")]
    ca_bundle: Option<PathBuf>,
    /// AWS shared-credentials file with the admin key, for set-up (dev mode: {data_dir}/credentials).
    #[arg(long, value_name = "FILE", conflicts_with = "access_key")]
    credentials: Option<PathBuf>,
    /// Admin access key id given directly (e.g. `test` for moto or cognito-local, which accept any).
    #[arg(long, requires = "secret_key")]
    access_key: Option<String>,
    /// Admin secret access key, with --access-key.
    #[arg(long, requires = "access_key")]
    secret_key: Option<String>,
    /// Profile in the credentials file.
    #[arg(long, default_value = "portcullis")]
    profile: String,
    /// Region for SigV4 (the daemon's `server.region`).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Users to create (or to take from the fixture); virtual users cycle through them.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    users: u32,
    /// Concurrent virtual users, each with its own keep-alive connection.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Length of the run in seconds (warm-up included).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    duration: u64,
    /// Leading seconds left out of the summary (still in the timeline and chart).
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Output prefix: writes {out}.json and {out}.svg [default: loadtests/results/{scenario}].
    #[arg(long, value_name = "PREFIX")]
    out: Option<PathBuf>,
    /// The daemon's process id: reports its CPU time per transaction (from /proc/PID/stat).
    #[arg(long, value_name = "PID")]
    daemon_pid: Option<u32>,
    /// Reuse the pool, client and users saved in this JSON file; when it does not exist, set up as
    /// usual, save them there and keep the pool.
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Keep the pool this run created (default: deleted after the run).
    #[arg(long)]
    keep_pool: bool,
    /// Connections used to create users during set-up.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    setup_concurrency: u32,
    /// Bytes of the client's SRP secret a (srp, mixed, stuffing). amazon-cognito-identity-js uses 128; the
    /// server's work is the same for any length, the load generator's grows with it, so the default keeps the client cheap.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(16..=256))]
    srp_a_bytes: u16,
}

impl CommonArgs {
    /// The admin signer: from --credentials, or from --access-key/--secret-key; `None` without either.
    fn signer(&self) -> Result<Option<Arc<Signer>>, String> {
        let credentials = match (&self.credentials, &self.access_key, &self.secret_key) {
            (Some(path), _, _) => Credentials::from_file(path, &self.profile)?,
            (None, Some(id), Some(secret)) => {
                Credentials { access_key_id: id.clone(), secret_access_key: secret.clone() }
            }
            _ => return Ok(None),
        };
        let signer = Signer { credentials, region: self.region.clone(), service: "cognito-idp".to_owned() };
        Ok(Some(Arc::new(signer)))
    }
}

/// How transactions are started: closed loop (one after another per virtual user) or at a fixed rate.
enum Drive {
    Closed,
    Open(OpenLoopPlan),
}

async fn dispatch(command: ScenarioCommand) -> Result<ExitCode, String> {
    use ScenarioCommand as C;
    let (op, common) = match command {
        C::Srp(common) => (Op::Srp, common),
        C::Password(common) => (Op::Password, common),
        C::Refresh(common) => (Op::Refresh, common),
        C::Signup(common) => (Op::Signup, common),
        C::GetUser(common) => (Op::GetUser, common),
        C::ListUsers(common) => (Op::ListUsers, common),
        C::ListUsersFiltered(common) => (Op::ListUsersFiltered, common),
        C::AdminCreateUser(common) => (Op::AdminCreateUser, common),
        C::Mixed(args) => {
            let weights = ops::parse_weights(&args.weights).map_err(|e| format!("--weights: {e}"))?;
            let (ops, signer) = ops_for(&args.common, weights.iter().any(|(op, _)| op.is_admin()))?;
            return run_scenario(Mix::weighted(weights, ops), args.common, signer, Drive::Closed).await;
        }
        C::Overload(args) => {
            if !(args.rate.is_finite() && args.rate > 0.0) {
                return Err(format!("--rate {} must be a positive number", args.rate));
            }
            let drive = Drive::Open(OpenLoopPlan {
                rate: args.rate,
                max_in_flight: args.max_in_flight as usize,
                tick: Duration::from_millis(args.tick_ms),
            });
            let (ops, signer) = ops_for(&args.common, args.op.is_admin())?;
            return run_scenario(Mix::single(args.op, ops).named("overload"), args.common, signer, drive).await;
        }
        C::Stuffing(args) => {
            let (ops, signer) = ops_for(&args.common, false)?;
            let legit_op = match args.legit_flow {
                LegitFlow::Srp => Op::Srp,
                LegitFlow::Password => Op::Password,
            };
            let legit = args.common.concurrency as usize;
            let (attackers, attacker_ips) = (args.attackers, args.attacker_ips);
            let scenario = Stuffing { ops, legit_op, legit, attackers, attacker_ips };
            return run_scenario(scenario, args.common, signer, Drive::Closed).await;
        }
    };
    let (ops, signer) = ops_for(&common, op.is_admin())?;
    run_scenario(Mix::single(op, ops), common, signer, Drive::Closed).await
}

/// The operations' maker and the admin signer (required when `signed_ops`: ListUsers and AdminCreateUser
/// are admin calls).
fn ops_for(args: &CommonArgs, signed_ops: bool) -> Result<(Ops, Option<Arc<Signer>>), String> {
    let signer = args.signer()?;
    if signed_ops && signer.is_none() {
        return Err("list-users and admin-create-user are admin calls: they need --credentials or \
                    --access-key/--secret-key"
            .into());
    }
    Ok((Ops::new(args.srp_a_bytes.into(), signer.clone()), signer))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: everything (arrivals, connections, the sample collector) runs on the main thread,
    // so no task ever wakes another thread (3,000 cross-thread wake-ups per second otherwise at 3x
    // the password peak). Client-side SRP math still goes to the blocking pool.
    let mut builder = match cli.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if let Some(threads) = cli.threads.filter(|&t| t > 1) {
        builder.worker_threads(usize::from(threads));
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(cli.scenario));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis-load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Set-up, run, report, tear-down. Exit status 0 when the run produced at least one successful
/// transaction, 3 when it produced none, 1 (via `Err`) when it could not run; 130 on Ctrl-C.
async fn run_scenario<S: Scenario>(
    scenario: S,
    args: CommonArgs,
    signer: Option<Arc<Signer>>,
    drive: Drive,
) -> Result<ExitCode, String> {
    if args.warmup >= args.duration {
        return Err(format!("--warmup {} must be shorter than --duration {}", args.warmup, args.duration));
    }
    let timeout = Duration::from_secs(args.timeout);
    let endpoint = Arc::new(Endpoint::new(&args.endpoint, args.ca_bundle.as_deref(), timeout)?);
    let users = args.users as usize;
    let (fixture, created) = obtain_fixture(&args, &endpoint, signer.as_deref(), users).await?;
    // A pool made for this run alone is deleted afterwards, also after a failed run or Ctrl-C.
    let delete_after = created && args.fixture.is_none() && !args.keep_pool;
    let fixture = Arc::new(fixture);

    let config = RunConfig {
        concurrency: args.concurrency as usize,
        duration: Duration::from_secs(args.duration),
        warmup: Duration::from_secs(args.warmup),
        daemon_pid: args.daemon_pid,
        timeout,
    };
    if let Some(pid) = args.daemon_pid {
        if cpu::process_cpu_ms(pid).is_none() {
            eprintln!("warning: cannot read /proc/{pid}/stat; daemon CPU will not be reported");
        }
    }
    let (name, unit, scenario_options) = (scenario.name(), scenario.unit(), scenario.options());
    let started_at = time::OffsetDateTime::now_utc();
    let run = async {
        let (scenario, endpoint, fixture) = (Arc::new(scenario), endpoint.clone(), fixture.clone());
        match drive {
            Drive::Closed => runner::run(scenario, endpoint, fixture, &config).await,
            Drive::Open(plan) => openloop::run(scenario, endpoint, fixture, &config, plan).await,
        }
    };
    let outcome = tokio::select! {
        data = run => Some(data),
        _ = tokio::signal::ctrl_c() => None,
    };
    let result = match outcome {
        None => {
            eprintln!("interrupted");
            Ok(ExitCode::from(130))
        }
        Some(Err(e)) => Err(e),
        Some(Ok(data)) => {
            let settings = RunSettings {
                endpoint: args.endpoint.clone(),
                pool_id: fixture.pool_id.clone(),
                users: fixture.usernames.len(),
                concurrency: config.concurrency,
                duration_secs: args.duration,
                warmup_secs: args.warmup,
                timeout_secs: args.timeout,
                daemon_pid: args.daemon_pid,
                options: scenario_options,
            };
            let report = Report::new(name, unit, started_at, settings, &data);
            print!("{}", report.table());
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("loadtests/results/{name}")));
            report.write(&out).map(|(json, svg)| {
                println!("  {:<22} {}, {}", "wrote", json.display(), svg.display());
                if report.summary.ok > 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(3)
                }
            })
        }
    };
    if delete_after {
        if let Some(signer) = &signer {
            eprintln!("tear-down: deleting pool {}", fixture.pool_id);
            if let Err(e) = setup::delete(&endpoint, signer, &fixture.pool_id).await {
                eprintln!("warning: {e}");
            }
        }
    }
    result
}

/// The fixture to sign in with, and whether this run created its pool.
async fn obtain_fixture(
    args: &CommonArgs,
    endpoint: &Arc<Endpoint>,
    signer: Option<&Signer>,
    users: usize,
) -> Result<(Fixture, bool), String> {
    if let Some(path) = args.fixture.as_ref().filter(|p| p.exists()) {
        let mut fixture = Fixture::load(path)?;
        if fixture.usernames.len() < users {
            return Err(format!(
                "{} has {} users, fewer than --users {users} (delete the file to set up anew)",
                path.display(),
                fixture.usernames.len()
            ));
        }
        fixture.usernames.truncate(users);
        eprintln!("set-up: reusing pool {} and {users} users from {}", fixture.pool_id, path.display());
        return Ok((fixture, false));
    }
    let signer =
        signer.ok_or("set-up needs --credentials or --access-key/--secret-key (or an existing --fixture file)")?;
    let name = format!("portcullis-load-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let parallel = args.setup_concurrency as usize;
    let fixture = tokio::select! {
        fixture = setup::create(endpoint, signer, users, parallel, &name) => fixture?,
        _ = tokio::signal::ctrl_c() => return Err(format!("interrupted during set-up; pool named {name} may remain")),
    };
    if let Some(path) = &args.fixture {
        fixture.save(path)?;
        eprintln!("set-up: saved to {} (the pool is kept for later runs)", path.display());
    }
    Ok((fixture, true))
}
