//! Runs a [`Scenario`] for a fixed time: connects N virtual users, drives them closed-loop, collects
//! their samples (also the open-loop driver's), prints progress per second and samples CPU time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::{Connection, Endpoint};
use crate::cpu;
use crate::scenario::{Outcome, Scenario, Vu};
use crate::setup::Fixture;
use crate::stats::{percentile_ms, Sample};

/// How long a virtual user waits after its connection was refused before it tries again.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub daemon_pid: Option<u32>,
    /// Request timeout, also the longest the run waits for in-flight transactions at the end.
    pub timeout: Duration,
}

/// Everything a run measured.
pub struct RunData {
    pub samples: Vec<Sample>,
    /// The measured span (the configured duration).
    pub end: Duration,
    /// Daemon CPU time (ms) at the start and after each second; `None` where it could not be read.
    pub daemon_cpu_ms: Vec<Option<f64>>,
    /// The load generator's own CPU time (ms) over the run.
    pub own_cpu_ms: Option<f64>,
    pub reconnects: u64,
    /// Set by the open-loop driver (`overload`).
    pub open_loop: Option<crate::openloop::OpenLoopStats>,
}

/// Connects every virtual user, runs `scenario` on all of them until `duration` has passed, and
/// returns the samples of transactions that finished within it (in-flight ones are abandoned).
pub async fn run<S: Scenario>(
    scenario: Arc<S>,
    endpoint: Arc<Endpoint>,
    fixture: Arc<Fixture>,
    config: &RunConfig,
) -> Result<RunData, String> {
    let count = scenario.virtual_users(config.concurrency);
    let vus = connect_all(&scenario, &endpoint, &fixture, count, config.concurrency).await?;

    let (tx, rx) = mpsc::unbounded_channel::<Sample>();
    let clock = Clock::start(config);
    let (started, deadline) = (clock.started, clock.deadline);
    let mut tasks = JoinSet::new();
    for (mut vu, mut state) in vus {
        let (scenario, tx) = (scenario.clone(), tx.clone());
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let outcome = scenario.iteration(&mut vu, &mut state).await;
                // Refused connections fail at once: pause rather than spin while the daemon is down.
                let refused = outcome.error.as_ref().is_some_and(|e| e.kind == "ConnectError");
                if tx.send(Sample::of(outcome, started.elapsed())).is_err() {
                    break;
                }
                if refused {
                    tokio::time::sleep(CONNECT_RETRY_PAUSE.min(deadline.saturating_duration_since(Instant::now())))
                        .await;
                }
            }
            vu.conn.reconnects
        });
    }
    drop(tx);
    Ok(collect(rx, tasks, clock, config, scenario.unit()[0]).await)
}

/// The run's start and end, and the CPU counters at its start.
pub struct Clock {
    pub started: Instant,
    pub deadline: Instant,
    own_cpu_start: Option<f64>,
    daemon_cpu_start: Option<f64>,
}

impl Clock {
    pub fn start(config: &RunConfig) -> Self {
        let started = Instant::now();
        Self {
            started,
            deadline: started + config.duration,
            own_cpu_start: cpu::own_cpu_ms(),
            daemon_cpu_start: config.daemon_pid.and_then(cpu::process_cpu_ms),
        }
    }
}

impl Sample {
    pub fn of(outcome: Outcome, at: Duration) -> Self {
        let Outcome { latency, error, op, attack } = outcome;
        Sample { at, latency, error, op, attack }
    }
}

/// Receives the samples of `tasks` (which return their reconnects) until the run's end, printing a
/// progress line per second, then lets in-flight transactions finish (for at most the timeout).
pub async fn collect(
    mut rx: mpsc::UnboundedReceiver<Sample>,
    mut tasks: JoinSet<u64>,
    clock: Clock,
    config: &RunConfig,
    unit: &str,
) -> RunData {
    let mut samples = Vec::new();
    let mut daemon_cpu_ms = vec![clock.daemon_cpu_start];
    // This second's ok, errors, attack requests and ok latencies.
    let mut second = (0u64, 0u64, 0u64, Vec::<u32>::new());
    let (mut total_ok, mut total_err) = (0u64, 0u64);
    let secs = config.duration.as_secs_f64().ceil() as u64;
    let mut tick = tokio::time::interval_at((clock.started + Duration::from_secs(1)).into(), Duration::from_secs(1));
    let mut elapsed_secs = 0;
    // The channel may close just before the end (open loop: the last arrivals answered early); the
    // clock still runs to the end, so that every second gets its progress line and CPU reading.
    let mut open = true;
    while elapsed_secs < secs {
        tokio::select! {
            sample = rx.recv(), if open => {
                let Some(sample) = sample else {
                    open = false;
                    continue;
                };
                match (&sample.error, sample.attack) {
                    (_, true) => second.2 += 1,
                    (None, false) => {
                        second.0 += 1;
                        second.3.push(u32::try_from(sample.latency.as_micros()).unwrap_or(u32::MAX));
                    }
                    (Some(_), false) => second.1 += 1,
                }
                samples.push(sample);
            }
            _ = tick.tick() => {
                elapsed_secs += 1;
                let cpu_now = config.daemon_pid.and_then(cpu::process_cpu_ms);
                let cpu_pct = match (daemon_cpu_ms.last(), cpu_now) {
                    (Some(Some(before)), Some(now)) => format!("  daemon CPU {:.0}%", (now - before) / 10.0),
                    _ => String::new(),
                };
                daemon_cpu_ms.push(cpu_now);
                let (ok, err, attack, mut us) = std::mem::take(&mut second);
                us.sort_unstable();
                total_ok += ok;
                total_err += err;
                let phase = if Duration::from_secs(elapsed_secs) <= config.warmup { " (warm-up)" } else { "" };
                let attack = if attack > 0 { format!("  attack {attack}/s") } else { String::new() };
                let ms = |p: f64| if us.is_empty() { "-".to_owned() } else { format!("{:.1}", percentile_ms(&us, p)) };
                eprintln!(
                    "[{elapsed_secs:>3}/{secs}s] {ok:>6} {unit}/s  p50 {:>7} ms  p99 {:>7} ms  errors {err}{attack}{cpu_pct}  \
                     (total {total_ok} ok, {total_err} errors){phase}",
                    ms(50.0), ms(99.0),
                );
            }
        }
    }
    let own_cpu_ms = clock.own_cpu_start.zip(cpu::own_cpu_ms()).map(|(a, b)| b - a);

    // Let in-flight transactions finish so that connections close cleanly; only samples that finished
    // within the duration count (the summary and timeline filter on `at`).
    let mut reconnects = 0;
    let grace = tokio::time::sleep(config.timeout + Duration::from_secs(1));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(n)) => reconnects += n,
                Some(Err(_)) => {}
                None => break,
            },
            () = &mut grace => {
                eprintln!("{} tasks still busy after the run; abandoning them", tasks.len());
                tasks.abort_all();
                break;
            }
            Some(sample) = rx.recv() => samples.push(sample),
        }
    }
    RunData { samples, end: config.duration, daemon_cpu_ms, own_cpu_ms, reconnects, open_loop: None }
}

/// Opens every virtual user's connection and runs the scenario's `init` (a few at a time), with progress.
pub async fn connect_all<S: Scenario>(
    scenario: &Arc<S>,
    endpoint: &Arc<Endpoint>,
    fixture: &Arc<Fixture>,
    concurrency: usize,
    stride: usize,
) -> Result<Vec<(Vu, S::State)>, String> {
    const PARALLEL: usize = 32;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut ready = Vec::with_capacity(concurrency);
    let mut pending = JoinSet::new();
    let mut next = 0;
    while ready.len() < concurrency {
        while next < concurrency && pending.len() < PARALLEL {
            let (scenario, endpoint, fixture) = (scenario.clone(), endpoint.clone(), fixture.clone());
            let index = next;
            pending.spawn(async move {
                let conn = Connection::from_source(endpoint, scenario.source_ip(index));
                let mut vu = Vu::new(index, conn, fixture, stride);
                vu.conn.ensure_connected().await.map_err(|e| format!("virtual user {index}: {e}"))?;
                let state = scenario.init(&mut vu).await.map_err(|e| format!("virtual user {index}: {e}"))?;
                Ok::<_, String>((vu, state))
            });
            next += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok(vu))) => ready.push(vu),
            Some(Ok(Err(e))) => return Err(e),
            Some(Err(e)) => return Err(format!("virtual user task failed: {e}")),
            None => break,
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            eprintln!("connecting: {}/{concurrency} virtual users ready", ready.len());
            last_report = Instant::now();
        }
    }
    ready.sort_by_key(|(vu, _)| vu.index);
    eprintln!(
        "connected {concurrency} virtual users in {:.1}s; running {} for the configured duration",
        started.elapsed().as_secs_f64(),
        scenario.name()
    );
    Ok(ready)
}
