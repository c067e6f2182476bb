//! `portcullis-load`, the load generator: command line, then set-up (pool, client, users over SigV4
//! or a saved fixture), one timed scenario run, the report (table, JSON, SVG) and tear-down.

mod chart;
mod client;
mod cpu;
mod report;
mod runner;
mod scenario;
mod setup;
mod sigv4;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use client::Endpoint;
use report::{Report, RunSettings};
use runner::RunConfig;
use scenario::{Scenario, SrpSignIn};
use setup::Fixture;
use sigv4::{Credentials, Signer};

#[derive(Parser)]
#[command(
    name = "portcullis-load",
    version,
    about = "Load generator for Portcullis: N concurrent virtual users against the cognito-idp API over HTTPS",
    after_help = "Progress goes to stderr once a second; the summary table to stdout; {out}.json and {out}.svg are written."
)]
struct Cli {
    #[command(subcommand)]
    scenario: ScenarioCommand,
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Full USER_SRP_AUTH sign-ins: InitiateAuth, then RespondToAuthChallenge with PASSWORD_VERIFIER.
    Srp(SrpArgs),
}

#[derive(Args, Debug)]
struct SrpArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Bytes of the client's SRP secret a. amazon-cognito-identity-js uses 128; the server's work is the
    /// same for any length, the load generator's grows with it, so the default keeps the client cheap.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(16..=256))]
    srp_a_bytes: u16,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// The daemon's URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    endpoint: String,
    /// PEM file of the CA(s) to trust for the server certificate (dev mode: {data_dir}/tls/ca.pem).
    #[arg(long, value_name = "PEM")]
    ca_bundle: PathBuf,
    /// AWS shared-credentials file with the admin key, for set-up (dev mode: {data_dir}/credentials).
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.scenario {
            ScenarioCommand::Srp(args) => run_scenario(SrpSignIn::new(args.srp_a_bytes.into()), args.common).await,
        }
    });
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
async fn run_scenario<S: Scenario>(scenario: S, args: CommonArgs) -> Result<ExitCode, String> {
    if args.warmup >= args.duration {
        return Err(format!("--warmup {} must be shorter than --duration {}", args.warmup, args.duration));
    }
    let timeout = Duration::from_secs(args.timeout);
    let endpoint = Arc::new(Endpoint::new(&args.endpoint, &args.ca_bundle, timeout)?);
    let signer = match &args.credentials {
        Some(path) => Some(Signer {
            credentials: Credentials::from_file(path, &args.profile)?,
            region: args.region.clone(),
            service: "cognito-idp".to_owned(),
        }),
        None => None,
    };
    let users = args.users as usize;
    let (fixture, created) = obtain_fixture(&args, &endpoint, signer.as_ref(), users).await?;
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
    let scenario_options = scenario.options();
    let started_at = time::OffsetDateTime::now_utc();
    let outcome = tokio::select! {
        data = runner::run(Arc::new(scenario), endpoint.clone(), fixture.clone(), &config) => Some(data),
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
            let report = Report::new(S::NAME, [S::UNIT, S::UNIT_ONE], started_at, settings, &data);
            print!("{}", report.table());
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("loadtests/results/{}", S::NAME)));
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
    let signer = signer.ok_or("set-up needs --credentials (or an existing --fixture file)")?;
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
