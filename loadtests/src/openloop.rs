//! The open-loop driver (`overload`): transactions start at a fixed offered rate whatever the server
//! does, each on an idle pooled connection or a new one, and latency counts from the scheduled start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::client::{CallError, Connection, Endpoint};
use crate::runner::{collect, connect_all, Clock, RunConfig, RunData};
use crate::scenario::{tag, Outcome, Scenario, Vu};
use crate::setup::Fixture;
use crate::stats::Sample;

/// What an open-loop run offers.
#[derive(Debug, Clone, Copy)]
pub struct OpenLoopPlan {
    /// Arrivals per second.
    pub rate: f64,
    /// Cap on concurrent transactions; arrivals beyond it wait (their wait counts as latency).
    pub max_in_flight: usize,
    /// Arrivals due are released together at most this often (0 = each at its own time, as
    /// finely as the runtime's 1 ms timer allows). Latency still counts from each one's own
    /// scheduled start.
    pub tick: Duration,
}

/// What the open-loop run was asked for and what it took.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoopStats {
    /// Offered arrivals per second.
    pub rate: f64,
    /// Release tick of the arrivals, in milliseconds ([`OpenLoopPlan::tick`]).
    pub tick_ms: f64,
    /// Transactions started on schedule over the whole run.
    pub scheduled: u64,
    /// Cap on concurrent transactions; arrivals beyond it wait (their wait counts as latency).
    pub max_in_flight: usize,
    pub peak_in_flight: usize,
    /// Connections (virtual users) opened: the pre-opened pool plus those opened under load.
    pub connections: usize,
}

/// A pool of idle virtual users (each a connection with its scenario state).
type Pool<S> = Arc<Mutex<Vec<(Vu, <S as Scenario>::State)>>>;

/// Starts a transaction every `1/rate` s from the run's start until its end (released in ticks
/// of `plan.tick`). `config.concurrency` connections are opened beforehand; more are opened when
/// all are busy, up to `plan.max_in_flight`. Transactions unfinished at the end are dropped
/// (their connections with them).
pub async fn run<S: Scenario>(
    scenario: Arc<S>,
    endpoint: Arc<Endpoint>,
    fixture: Arc<Fixture>,
    config: &RunConfig,
    plan: OpenLoopPlan,
) -> Result<RunData, String> {
    let OpenLoopPlan { rate, max_in_flight, tick } = plan;
    let pool: Pool<S> = Arc::new(Mutex::new(
        connect_all(&scenario, &endpoint, &fixture, config.concurrency, config.concurrency).await?,
    ));
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let (peak, opened) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(config.concurrency)));
    let (tx, rx) = mpsc::unbounded_channel::<Sample>();
    let clock = Clock::start(config);
    let (started, deadline, timeout) = (clock.started, clock.deadline, config.timeout);
    let scheduled = Arc::new(AtomicUsize::new(0));
    let unit = scenario.unit()[0];

    let mut tasks = JoinSet::new();
    {
        let (pool, peak, opened, scheduled) = (pool.clone(), peak.clone(), opened.clone(), scheduled.clone());
        let stride = config.concurrency;
        tasks.spawn(async move {
            let mut arrivals = JoinSet::new();
            let mut woke = started;
            for k in 0u64.. {
                let at = started + Duration::from_secs_f64(k as f64 / rate);
                if at >= deadline {
                    break;
                }
                if at > Instant::now() {
                    // Sleep until this arrival is due, and at least a tick after the last wake-up:
                    // what fell due meanwhile goes out together.
                    tokio::time::sleep_until(at.max(woke + tick).into()).await;
                    woke = Instant::now();
                }
                scheduled.fetch_add(1, Ordering::Relaxed);
                let arrival = Arrival {
                    scenario: scenario.clone(),
                    endpoint: endpoint.clone(),
                    fixture: fixture.clone(),
                    pool: pool.clone(),
                    stride,
                    opened: opened.clone(),
                };
                let (permits, peak, tx) = (permits.clone(), peak.clone(), tx.clone());
                arrivals.spawn(async move {
                    let outcome =
                        match tokio::time::timeout_at((at + timeout).into(), permits.clone().acquire_owned()).await {
                            Ok(Ok(_permit)) => {
                                peak.fetch_max(max_in_flight - permits.available_permits(), Ordering::Relaxed);
                                // Boxed: the transaction's state is kilobytes, and the arrival task stays small.
                                Box::pin(arrival.transact()).await
                            }
                            _ => waited_too_long(),
                        };
                    // No coordinated omission: latency runs from the scheduled start, queueing included.
                    let _ = tx.send(Sample::of(Outcome { latency: at.elapsed(), ..outcome }, started.elapsed()));
                });
                while arrivals.try_join_next().is_some() {}
            }
            drop(tx);
            // What has not finished by the end no longer counts: stop it rather than wait for a backlog.
            tokio::time::sleep_until(deadline.into()).await;
            arrivals.abort_all();
            while arrivals.join_next().await.is_some() {}
            let reconnects = pool.lock().map(|p| p.iter().map(|(vu, _)| vu.conn.reconnects).sum());
            reconnects.unwrap_or(0)
        });
    }
    let mut data = collect(rx, tasks, clock, config, unit).await;
    data.open_loop = Some(OpenLoopStats {
        rate,
        tick_ms: tick.as_secs_f64() * 1000.0,
        scheduled: scheduled.load(Ordering::Relaxed) as u64,
        max_in_flight,
        peak_in_flight: peak.load(Ordering::Relaxed),
        connections: opened.load(Ordering::Relaxed),
    });
    Ok(data)
}

fn waited_too_long() -> Outcome {
    let e = CallError::new("Timeout", "no free slot (--max-in-flight) within the timeout");
    Outcome { latency: Duration::ZERO, error: Some(tag("Queue", e)), op: "queued", attack: false }
}

/// One scheduled transaction: takes an idle virtual user (or opens one), runs an iteration, returns it.
struct Arrival<S: Scenario> {
    scenario: Arc<S>,
    endpoint: Arc<Endpoint>,
    fixture: Arc<Fixture>,
    pool: Pool<S>,
    stride: usize,
    opened: Arc<AtomicUsize>,
}

impl<S: Scenario> Arrival<S> {
    async fn transact(self) -> Outcome {
        let idle = self.pool.lock().ok().and_then(|mut p| p.pop());
        let (mut vu, mut state) = match idle {
            Some(pair) => pair,
            None => {
                let index = self.opened.fetch_add(1, Ordering::Relaxed);
                let mut vu = Vu::new(index, Connection::new(self.endpoint.clone()), self.fixture.clone(), self.stride);
                match self.scenario.init(&mut vu).await {
                    Ok(state) => (vu, state),
                    Err(e) => {
                        let e = tag("Init", CallError::new("ClientError", e));
                        return Outcome { latency: Duration::ZERO, error: Some(e), op: "init", attack: false };
                    }
                }
            }
        };
        let outcome = self.scenario.iteration(&mut vu, &mut state).await;
        if let Ok(mut pool) = self.pool.lock() {
            pool.push((vu, state));
        }
        outcome
    }
}
