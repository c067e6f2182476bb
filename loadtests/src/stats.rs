//! Measurements: the per-transaction [`Sample`]s a run records, and what is computed from them
//! (the [`Summary`] over the measured window, the per-second [`TimelinePoint`]s, exact percentiles).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// One finished transaction (e.g. a full SRP sign-in).
#[derive(Debug, Clone)]
pub struct Sample {
    /// Completion time since the start of the run.
    pub at: Duration,
    /// Time spent waiting on the server (the sum of the transaction's round trips).
    pub latency: Duration,
    pub error: Option<ErrorKey>,
    /// The row it counts under (`mixed` has one per operation, e.g. `get-user`).
    pub op: &'static str,
    /// Attack traffic (`stuffing`): summarised apart from the headline numbers and the timeline's.
    pub attack: bool,
}

/// What went wrong, keyed for counting by `kind` (Cognito's `__type` or a transport failure).
#[derive(Debug, Clone)]
pub struct ErrorKey {
    /// The operation that failed, e.g. `RespondToAuthChallenge`.
    pub operation: &'static str,
    pub kind: String,
    pub message: String,
}

/// Latency percentiles in milliseconds (nearest rank over successful transactions).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// An error kind's count, where it happened and one example message.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCount {
    pub count: u64,
    /// Count per operation.
    pub operations: BTreeMap<&'static str, u64>,
    pub example: String,
    /// Latency of these failed transactions (e.g. how fast throttling answers).
    pub latency_ms: Latency,
}

/// Totals over the measured window (after the warm-up, before the end of the run).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub window_secs: f64,
    pub ok: u64,
    pub errors: u64,
    /// Successful transactions per second.
    pub throughput: f64,
    pub latency_ms: Latency,
    /// Keyed by `__type` (or `ConnectError`, `ConnectionError`, `Timeout`, `HTTP {status}`, ...).
    pub errors_by_type: BTreeMap<String, ErrorCount>,
}

/// One second of the run (all of it, warm-up included): `t` is the second's end.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub t: u64,
    pub ok: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The daemon's CPU use in this second, in percent of one core (with `--daemon-pid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon_cpu_pct: Option<f64>,
}

/// Nearest-rank percentile of sorted microsecond values, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn latency_of(mut us: Vec<u32>) -> Latency {
    if us.is_empty() {
        return Latency::default();
    }
    us.sort_unstable();
    let mean = us.iter().map(|&v| f64::from(v)).sum::<f64>() / us.len() as f64 / 1000.0;
    Latency {
        min: percentile_ms(&us, 0.0),
        mean,
        p50: percentile_ms(&us, 50.0),
        p90: percentile_ms(&us, 90.0),
        p95: percentile_ms(&us, 95.0),
        p99: percentile_ms(&us, 99.0),
        max: percentile_ms(&us, 100.0),
    }
}

/// The summary of samples completed in `[warmup, end)`.
pub fn summarize<'a>(samples: impl IntoIterator<Item = &'a Sample>, warmup: Duration, end: Duration) -> Summary {
    let window = samples.into_iter().filter(|s| s.at >= warmup && s.at < end);
    let mut ok_latencies = Vec::new();
    let mut errors_by_type: BTreeMap<String, (ErrorCount, Vec<u32>)> = BTreeMap::new();
    let mut errors = 0;
    for sample in window {
        match &sample.error {
            None => ok_latencies.push(micros(sample.latency)),
            Some(e) => {
                errors += 1;
                let (entry, us) = errors_by_type.entry(e.kind.clone()).or_insert_with(|| {
                    let count = ErrorCount {
                        count: 0,
                        operations: BTreeMap::new(),
                        example: e.message.clone(),
                        latency_ms: Latency::default(),
                    };
                    (count, Vec::new())
                });
                entry.count += 1;
                *entry.operations.entry(e.operation).or_default() += 1;
                us.push(micros(sample.latency));
            }
        }
    }
    let errors_by_type = errors_by_type
        .into_iter()
        .map(|(kind, (count, us))| (kind, ErrorCount { latency_ms: latency_of(us), ..count }))
        .collect();
    let window_secs = end.saturating_sub(warmup).as_secs_f64();
    let ok = ok_latencies.len() as u64;
    Summary {
        window_secs,
        ok,
        errors,
        throughput: if window_secs > 0.0 { ok as f64 / window_secs } else { 0.0 },
        latency_ms: latency_of(ok_latencies),
        errors_by_type,
    }
}

/// Per-second points over `[0, end)`; `cpu_ms[i]` is the daemon's cumulative CPU time at second i
/// (index 0 = start), when known.
pub fn timeline<'a>(
    samples: impl IntoIterator<Item = &'a Sample>,
    end: Duration,
    cpu_ms: &[Option<f64>],
) -> Vec<TimelinePoint> {
    let seconds = end.as_secs_f64().ceil() as usize;
    let mut buckets: Vec<(u64, u64, Vec<u32>)> = vec![(0, 0, Vec::new()); seconds];
    for sample in samples.into_iter().filter(|s| s.at < end) {
        let Some(bucket) = buckets.get_mut(sample.at.as_secs() as usize) else { continue };
        match sample.error {
            None => {
                bucket.0 += 1;
                bucket.2.push(micros(sample.latency));
            }
            Some(_) => bucket.1 += 1,
        }
    }
    buckets
        .into_iter()
        .enumerate()
        .map(|(i, (ok, errors, mut us))| {
            us.sort_unstable();
            let (p50_ms, p99_ms) = if us.is_empty() {
                (None, None)
            } else {
                (Some(percentile_ms(&us, 50.0)), Some(percentile_ms(&us, 99.0)))
            };
            let daemon_cpu_pct = match (cpu_ms.get(i), cpu_ms.get(i + 1)) {
                (Some(Some(a)), Some(Some(b))) => Some((b - a) / 10.0),
                _ => None,
            };
            TimelinePoint { t: i as u64 + 1, ok, errors, p50_ms, p99_ms, daemon_cpu_pct }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(at_ms: u64, latency_ms: u64) -> Sample {
        Sample {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            error: None,
            op: "x",
            attack: false,
        }
    }

    fn err(at_ms: u64, kind: &str) -> Sample {
        let error = ErrorKey { operation: "InitiateAuth", kind: kind.into(), message: "m".into() };
        Sample {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(1),
            error: Some(error),
            op: "x",
            attack: false,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u32> = (1..=100).map(|v| v * 1000).collect();
        assert_eq!(percentile_ms(&us, 50.0), 50.0);
        assert_eq!(percentile_ms(&us, 99.0), 99.0);
        assert_eq!(percentile_ms(&us, 100.0), 100.0);
        assert_eq!(percentile_ms(&us, 0.0), 1.0);
        assert_eq!(percentile_ms(&[7000], 99.0), 7.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn summary_counts_only_the_window() {
        let samples =
            vec![ok(500, 10), ok(1500, 20), ok(2500, 30), err(2600, "TooManyRequestsException"), ok(4100, 99)];
        let s = summarize(&samples, Duration::from_secs(1), Duration::from_secs(4));
        assert_eq!((s.ok, s.errors), (2, 1));
        assert!((s.throughput - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!((s.latency_ms.p50, s.latency_ms.max, s.latency_ms.mean), (20.0, 30.0, 25.0));
        let e = &s.errors_by_type["TooManyRequestsException"];
        assert_eq!((e.count, e.operations["InitiateAuth"]), (1, 1));
    }

    #[test]
    fn timeline_buckets_by_second() {
        let samples = vec![ok(100, 10), ok(900, 30), err(1200, "Timeout"), ok(2999, 5)];
        let cpu = [Some(0.0), Some(500.0), None, Some(2000.0)];
        let t = timeline(&samples, Duration::from_secs(3), &cpu);
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].t, t[0].ok, t[0].errors, t[0].p50_ms, t[0].p99_ms), (1, 2, 0, Some(10.0), Some(30.0)));
        assert_eq!((t[1].ok, t[1].errors, t[1].p50_ms), (0, 1, None));
        assert_eq!(t[2].ok, 1);
        assert_eq!((t[0].daemon_cpu_pct, t[1].daemon_cpu_pct), (Some(50.0), None));
    }
}
