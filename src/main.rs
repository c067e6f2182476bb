//! The `portcullis` binary: parses the command line, loads and checks the configuration,
//! provisions and opens every component, and serves until SIGTERM/SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use metrics_exporter_prometheus::PrometheusBuilder;
use portcullis::config::{Config, Overrides};
use portcullis::http::client::AdminEndpoint;
use portcullis::{bootstrap, http, idp, import_command, messaging, outbox_command, scheduling, seed};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "portcullis", version, about = "HSM-backed drop-in replacement for Amazon Cognito")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How `outbox` and `import` reach a running daemon as its administrator.
#[derive(clap::Args)]
struct DaemonArgs {
    /// The daemon's URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    endpoint: String,
    /// Data directory of a dev daemon: its CA (tls/ca.pem) and admin key (credentials).
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// CA bundle for the daemon's certificate (default: {data_dir}/tls/ca.pem).
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// Shared-credentials file with the admin key (default: {data_dir}/credentials).
    #[arg(long)]
    credentials: Option<PathBuf>,
    #[arg(long, default_value = "portcullis")]
    profile: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

impl DaemonArgs {
    fn admin_endpoint(self) -> AdminEndpoint {
        AdminEndpoint {
            ca_bundle: Some(self.ca_bundle.unwrap_or_else(|| self.data_dir.join("tls").join("ca.pem"))),
            credentials: self.credentials.unwrap_or_else(|| self.data_dir.join("credentials")),
            endpoint: self.endpoint,
            profile: self.profile,
            region: self.region,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance.
    Serve {
        /// TOML configuration file (dev defaults when omitted).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (RocksDB in db/, SoftHSM token in hsm/, TLS in tls/).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Listen address, e.g. 127.0.0.1:8443.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Bulk-load test users into an existing pool (load tests). Run it with the daemon STOPPED:
    /// RocksDB allows one process per database, and seeding fails if the daemon holds it.
    ///
    /// Writes users {prefix}{i:07} for i in 0..N: CONFIRMED, enabled, with a fresh sub and an
    /// email attribute. K of them, every (N/K)-th from user 0 on, sign in with --password; the
    /// others get a verifier of an unknown random password (a real SRP verifier costs ~1 ms
    /// each). Refuses to touch a pool that already has any of these usernames.
    Seed {
        /// TOML configuration file (dev defaults when omitted), as given to `serve`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory, as given to `serve`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The pool to fill (it must exist).
        #[arg(long)]
        pool_id: String,
        /// How many users to create.
        #[arg(long)]
        users: u64,
        /// Username prefix.
        #[arg(long, default_value = "user")]
        prefix: String,
        /// Password of the K users that can sign in (must satisfy the pool's password policy).
        #[arg(long, default_value = "Seed-Passw0rd!")]
        password: String,
        /// K: how many users get a real verifier of --password: users 0, N/K, 2N/K, ...
        #[arg(long, default_value_t = 1000)]
        real_passwords: u64,
        /// Threads building users (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Print the dev outbox of a running daemon: the codes and invitations it kept for a pool
    /// (`[messaging] sender = "outbox"`), oldest first. Reads GET /admin/outbox with the admin key.
    Outbox {
        /// The pool whose messages to show.
        #[arg(long)]
        pool_id: String,
        /// Only messages to this address (email or phone number).
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Import users from a CSV file into a pool of a running daemon, as Cognito's user import
    /// does (CreateUserImportJob, upload, StartUserImportJob), with a progress bar; prints the
    /// final counts and exits non-zero unless the job succeeded.
    Import {
        /// The pool to import into.
        #[arg(long)]
        pool_id: String,
        /// The CSV file (header as GetCSVHeader returns it; cognito:username required).
        #[arg(long)]
        csv: PathBuf,
        /// The job's name (default: the file's name).
        #[arg(long)]
        job_name: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
        /// The job's CloudWatchLogsRoleArn (required by the API, unused by Portcullis).
        #[arg(long, default_value = "arn:aws:iam::000000000000:role/portcullis-import")]
        cloud_watch_logs_role_arn: String,
    },
    /// Check a configuration file and exit.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if std::env::var("PORTCULLIS_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let (config_file, overrides) = match cli.command {
        Command::Serve { config, data_dir, listen } => (config, Overrides { data_dir, listen }),
        Command::Seed { config, data_dir, pool_id, users, prefix, password, real_passwords, threads } => {
            let config = match Config::load(config.as_deref(), &Overrides { data_dir, listen: None }) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let opts = seed::SeedOptions { pool_id, users, prefix, password, real_passwords, threads };
            return match seed::run(&config, &opts) {
                Ok(report) => {
                    println!(
                        "seeded {} users into {} in {:.1}s ({:.0} users/s); {} of them sign in with the given \
                         password: {}, {}, ... (stride {})",
                        report.users,
                        opts.pool_id,
                        report.elapsed.as_secs_f64(),
                        report.users as f64 / report.elapsed.as_secs_f64().max(1e-9),
                        report.real_passwords.count,
                        seed::username(&opts.prefix, 0),
                        seed::username(&opts.prefix, report.real_passwords.stride),
                        report.real_passwords.stride,
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("portcullis seed: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Outbox { pool_id, to, daemon } => {
            let query = outbox_command::OutboxQuery { daemon: daemon.admin_endpoint(), pool_id, to };
            return print_outbox(&query);
        }
        Command::Import { pool_id, csv, job_name, daemon, cloud_watch_logs_role_arn } => {
            let job_name = job_name.unwrap_or_else(|| default_job_name(&csv));
            let request = import_command::ImportRequest {
                daemon: daemon.admin_endpoint(),
                pool_id,
                csv,
                job_name,
                cloud_watch_logs_role_arn,
            };
            return run_import(&request);
        }
        Command::CheckConfig { config } => {
            return match Config::load(config.as_deref(), &Overrides::default()) {
                Ok(_) => {
                    println!("configuration is valid");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            };
        }
    };
    let config = match Config::load(config_file.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a client command's future on a small runtime of its own (the `outbox` and `import` CLIs).
fn block_on<T>(future: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(future)
}

fn print_outbox(query: &outbox_command::OutboxQuery) -> ExitCode {
    match block_on(outbox_command::fetch(query)) {
        Ok(messages) => {
            for m in &messages {
                println!("{}", outbox_command::render(m));
            }
            eprintln!("{} message(s) for {}", messages.len(), query.pool_id);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis outbox: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A job name from a file name: the characters Cognito allows in one (`[\w\s+=,.@-]`), at most 128.
fn default_job_name(csv: &std::path::Path) -> String {
    let stem = csv.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String =
        stem.chars().map(|c| if c.is_alphanumeric() || "_ +=,.@-".contains(c) { c } else { '-' }).take(128).collect();
    if name.trim().is_empty() {
        "portcullis-import".to_owned()
    } else {
        name
    }
}

fn run_import(request: &import_command::ImportRequest) -> ExitCode {
    match block_on(import_command::run(request)) {
        Ok(outcome) => {
            println!("{}", outcome.summary());
            if outcome.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("portcullis import: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How often buffered histogram samples are folded into the Prometheus buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

fn run(config: Config) -> Result<(), String> {
    let prometheus = PrometheusBuilder::new()
        .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    let listen = config.listen_addr().map_err(|e| e.to_string())?;
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let reactor_scheduling = config.workers.reactor_scheduling;
    let bootstrap::Prepared { app, tls } = bootstrap::prepare(config)?;
    let app = Arc::new(app);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("portcullis-io")
        .on_thread_start(move || scheduling::reactor_thread_started(reactor_scheduling))
        .build()
        .map_err(|e| format!("starting runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("binding {listen}: {e}"))?;
        tracing::info!(%listen, public_url = %app.config.public_url(), "portcullis listening");
        let sweeper = {
            let app = app.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    app.limits.forget_idle();
                }
            })
        };
        // The recorder buffers every histogram sample until upkeep folds it into the buckets:
        // without it, memory grows with the request count whenever nobody scrapes /metrics.
        let upkeep = {
            let prometheus = prometheus.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(METRICS_UPKEEP);
                loop {
                    tick.tick().await;
                    prometheus.run_upkeep();
                }
            })
        };
        let delivery = tokio::spawn(messaging::delivery::run(app.clone()));
        let imports = idp::import::start_background(&app);
        let observability = Arc::new(http::Observability { prometheus });
        http::serve(app.clone(), observability, listener, tls, shutdown_signal(), grace).await;
        idp::import::stop_runners();
        imports.abort();
        sweeper.abort();
        upkeep.abort();
        delivery.abort();
        Ok::<(), String>(())
    })?;
    drop(runtime);
    // In-flight requests are done: flush the store and close HSM sessions.
    let app = Arc::try_unwrap(app).map_err(|_| "application state still shared at shutdown".to_owned())?;
    let mut app = app;
    app.workers.shutdown();
    app.directory.flush().map_err(|e| e.to_string())?;
    app.vault.close();
    tracing::info!("portcullis stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
