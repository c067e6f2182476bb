//! The report of a run: the [`Report`] written as JSON, the summary table printed to stdout, and
//! the files `{out}.json` and `{out}.svg` (the chart itself is drawn in `chart.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::openloop::OpenLoopStats;
use crate::runner::RunData;
use crate::stats::{self, Sample, Summary, TimelinePoint};

/// What a run was asked to do.
#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    pub endpoint: String,
    pub pool_id: String,
    pub users: usize,
    pub concurrency: usize,
    pub duration_secs: u64,
    pub warmup_secs: u64,
    pub timeout_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon_pid: Option<u32>,
    /// The scenario's own settings (e.g. `srp_a_bytes`).
    pub options: serde_json::Value,
}

/// CPU time spent per successful transaction: the daemon's over the measured window, and the load
/// generator's own over the whole run (per finished transaction).
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    pub daemon_ms: Option<f64>,
    pub daemon_ms_per_op: Option<f64>,
    /// Average number of cores the daemon kept busy in the measured window.
    pub daemon_cores: Option<f64>,
    pub loadgen_ms: Option<f64>,
    pub loadgen_ms_per_op: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: String,
    pub scenario: &'static str,
    /// What one transaction is ("sign-ins"); `summary.throughput` is in these per second.
    pub unit: &'static str,
    #[serde(skip)]
    pub unit_one: &'static str,
    pub started_at: String,
    pub settings: RunSettings,
    /// The headline numbers: every transaction but attack traffic.
    pub summary: Summary,
    /// Per operation, when the run mixed several (`mixed`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<&'static str, Summary>,
    /// Attack traffic (`stuffing`), apart from the headline numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<Attack>,
    /// Offered load of an open-loop run (`overload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoop>,
    pub cpu: Cpu,
    /// Connections re-established during the run (the server closed or broke one).
    pub reconnects: u64,
    pub timeline: Vec<TimelinePoint>,
}

/// Attack traffic: its outcomes (all are errors, by type, with their latency) and its rate per second.
#[derive(Debug, Clone, Serialize)]
pub struct Attack {
    pub summary: Summary,
    pub per_operation: BTreeMap<&'static str, Summary>,
    pub timeline: Vec<TimelinePoint>,
}

/// Offered against served load.
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoop {
    #[serde(flatten)]
    pub stats: OpenLoopStats,
    /// Transactions scheduled per second (the rate) and served (successful) per second, measured window.
    pub offered_per_sec: f64,
    pub served_per_sec: f64,
    /// Scheduled transactions that got no answer within the run (still in flight at its end).
    pub unanswered: u64,
}

/// Summaries per `op` of `samples`, when there is more than one op.
fn per_operation<'a>(
    samples: impl Iterator<Item = &'a Sample> + Clone,
    warmup: Duration,
    end: Duration,
) -> BTreeMap<&'static str, Summary> {
    let ops: std::collections::BTreeSet<&'static str> = samples.clone().map(|s| s.op).collect();
    if ops.len() < 2 {
        return BTreeMap::new();
    }
    ops.into_iter().map(|op| (op, stats::summarize(samples.clone().filter(|s| s.op == op), warmup, end))).collect()
}

impl Report {
    pub fn new(
        scenario: &'static str,
        [unit, unit_one]: [&'static str; 2],
        started_at: time::OffsetDateTime,
        settings: RunSettings,
        data: &RunData,
    ) -> Self {
        let warmup = Duration::from_secs(settings.warmup_secs);
        let main = data.samples.iter().filter(|s| !s.attack);
        let summary = stats::summarize(main.clone(), warmup, data.end);
        let operations = per_operation(main.clone(), warmup, data.end);
        let timeline = stats::timeline(main, data.end, &data.daemon_cpu_ms);
        let attacks = data.samples.iter().filter(|s| s.attack);
        let attack = (attacks.clone().next().is_some()).then(|| Attack {
            summary: stats::summarize(attacks.clone(), warmup, data.end),
            per_operation: per_operation(attacks.clone(), warmup, data.end),
            timeline: stats::timeline(attacks, data.end, &[]),
        });
        let open_loop = data.open_loop.clone().map(|stats| {
            let answered = data.samples.iter().filter(|s| s.at < data.end).count() as u64;
            OpenLoop {
                offered_per_sec: stats.rate,
                served_per_sec: summary.throughput,
                unanswered: stats.scheduled.saturating_sub(answered),
                stats,
            }
        });
        let window_cpu =
            |from: u64, to: u64| match (data.daemon_cpu_ms.get(from as usize), data.daemon_cpu_ms.get(to as usize)) {
                (Some(Some(a)), Some(Some(b))) => Some(b - a),
                _ => None,
            };
        let daemon_ms = window_cpu(settings.warmup_secs, data.end.as_secs());
        let per_op = |ms: Option<f64>, ops: u64| ms.filter(|_| ops > 0).map(|ms| ms / ops as f64);
        let finished = data.samples.iter().filter(|s| s.at < data.end).count() as u64;
        let cpu = Cpu {
            daemon_ms,
            daemon_ms_per_op: per_op(daemon_ms, summary.ok),
            daemon_cores: daemon_ms.filter(|_| summary.window_secs > 0.0).map(|ms| ms / 1000.0 / summary.window_secs),
            loadgen_ms: data.own_cpu_ms,
            loadgen_ms_per_op: per_op(data.own_cpu_ms, finished),
        };
        let started_at = started_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| started_at.unix_timestamp().to_string());
        Self {
            tool: concat!("portcullis-load ", env!("CARGO_PKG_VERSION")).to_owned(),
            scenario,
            unit,
            unit_one,
            started_at,
            settings,
            summary,
            operations,
            attack,
            open_loop,
            cpu,
            reconnects: data.reconnects,
            timeline,
        }
    }

    /// The summary table (for stdout).
    pub fn table(&self) -> String {
        let (s, set, unit, one) = (&self.summary, &self.settings, self.unit, self.unit_one);
        let l = &s.latency_ms;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "portcullis-load {}: {} virtual users over {} users, {} s (warm-up {} s), {}",
            self.scenario, set.concurrency, set.users, set.duration_secs, set.warmup_secs, set.endpoint
        );
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "  {name:<22} {value}");
        };
        if set.options.as_object().is_some_and(|o| !o.is_empty()) {
            row("options", set.options.to_string());
        }
        row(unit, format!("{} ok, {} errors in {:.0} s measured", s.ok, s.errors, s.window_secs));
        row("throughput", format!("{:.1} {unit}/s", s.throughput));
        row("latency ms (ok only)", format!("p50 {:.1}   p95 {:.1}   p99 {:.1}", l.p50, l.p95, l.p99));
        row("", format!("min {:.1}   mean {:.1}   p90 {:.1}   max {:.1}", l.min, l.mean, l.p90, l.max));
        match (self.cpu.daemon_ms_per_op, self.cpu.daemon_cores) {
            (Some(per_op), Some(cores)) => {
                row("daemon CPU", format!("{per_op:.2} ms per successful {one} ({cores:.2} cores busy)"))
            }
            _ if set.daemon_pid.is_some() => row("daemon CPU", "unavailable (cannot read /proc/PID/stat)".into()),
            _ => row("daemon CPU", "not measured (pass --daemon-pid)".into()),
        }
        if let Some(per_op) = self.cpu.loadgen_ms_per_op {
            row("load-generator CPU", format!("{per_op:.2} ms per {one} attempted"));
        }
        row("reconnects", self.reconnects.to_string());
        if let Some(o) = &self.open_loop {
            let share = if o.offered_per_sec > 0.0 { 100.0 * o.served_per_sec / o.offered_per_sec } else { 0.0 };
            let tick = match o.stats.tick_ms {
                t if t > 0.0 => format!(", released every {t:.0} ms"),
                _ => String::new(),
            };
            row(
                "offered",
                format!("{:.1} {unit}/s ({} scheduled in the run{tick})", o.offered_per_sec, o.stats.scheduled),
            );
            row("served", format!("{:.1} {unit}/s ({share:.0}% of offered)", o.served_per_sec));
            let rejected = s.errors_by_type.get("TooManyRequestsException");
            let rejected = rejected.map_or("0".to_owned(), |e| {
                format!("{} (p50 {:.1} ms, p99 {:.1} ms)", e.count, e.latency_ms.p50, e.latency_ms.p99)
            });
            row("rejected (throttled)", rejected);
            row(
                "in flight",
                format!(
                    "peak {} of max {}; {} connections; {} unanswered at the end",
                    o.stats.peak_in_flight, o.stats.max_in_flight, o.stats.connections, o.unanswered
                ),
            );
        }
        errors_table(&mut out, s);
        operations_table(&mut out, &self.operations);
        if let Some(attack) = &self.attack {
            let a = &attack.summary;
            let _ = writeln!(
                out,
                "  {:<22} {} requests answered in {:.0} s ({:.1}/s), {} accepted",
                "attack",
                a.ok + a.errors,
                a.window_secs,
                (a.ok + a.errors) as f64 / a.window_secs.max(1e-9),
                a.ok
            );
            errors_table(&mut out, a);
        }
        out
    }

    /// Writes `{out}.json` and `{out}.svg`; returns their paths.
    pub fn write(&self, out: &Path) -> Result<(PathBuf, PathBuf), String> {
        let json_path = with_suffix(out, "json");
        let svg_path = with_suffix(out, "svg");
        create_parent(&json_path)?;
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&json_path, json + "\n").map_err(|e| format!("{}: {e}", json_path.display()))?;
        std::fs::write(&svg_path, crate::chart::svg(self)).map_err(|e| format!("{}: {e}", svg_path.display()))?;
        Ok((json_path, svg_path))
    }
}

/// The errors of `s` by type: count, where, latency and an example.
fn errors_table(out: &mut String, s: &Summary) {
    if s.errors_by_type.is_empty() {
        let _ = writeln!(out, "  {:<22} none", "errors");
        return;
    }
    let _ = writeln!(out, "  errors by type");
    for (kind, e) in &s.errors_by_type {
        let ops: Vec<String> = e.operations.iter().map(|(op, n)| format!("{op} {n}")).collect();
        let example: String = e.example.chars().take(80).collect();
        let l = &e.latency_ms;
        let _ = writeln!(
            out,
            "    {kind:<32} {:>8}  ({})  p50 {:.1} ms  p99 {:.1} ms  e.g. {example:?}",
            e.count,
            ops.join(", "),
            l.p50,
            l.p99
        );
    }
}

/// One row per operation: throughput, latency and errors.
fn operations_table(out: &mut String, operations: &BTreeMap<&'static str, Summary>) {
    if operations.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<22} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "per operation", "ok", "errors", "/s", "p50 ms", "p95 ms", "p99 ms"
    );
    for (op, s) in operations {
        let l = &s.latency_ms;
        let _ = writeln!(
            out,
            "    {op:<20} {:>9} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1}",
            s.ok, s.errors, s.throughput, l.p50, l.p95, l.p99
        );
    }
}

/// `out` with `.{ext}` appended (`results/srp` → `results/srp.json`).
fn with_suffix(out: &Path, ext: &str) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

pub fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::ErrorKey;

    pub(crate) fn sample_report() -> Report {
        let ok = |ms: u64| Sample {
            at: Duration::from_millis(ms),
            latency: Duration::from_millis(5 + ms % 7),
            error: None,
            op: "srp",
            attack: false,
        };
        let mut samples: Vec<Sample> = (0..300).map(|i| ok(i * 10)).collect();
        samples.push(Sample {
            at: Duration::from_millis(1500),
            latency: Duration::from_millis(1),
            error: Some(ErrorKey {
                operation: "InitiateAuth",
                kind: "TooManyRequestsException".into(),
                message: "Rate exceeded".into(),
            }),
            op: "srp",
            attack: false,
        });
        let data = RunData {
            samples,
            end: Duration::from_secs(3),
            daemon_cpu_ms: vec![Some(0.0), Some(900.0), Some(1800.0), Some(2700.0)],
            own_cpu_ms: Some(602.0),
            reconnects: 0,
            open_loop: None,
        };
        let settings = RunSettings {
            endpoint: "https://127.0.0.1:8443".into(),
            pool_id: "us-east-1_X".into(),
            users: 4,
            concurrency: 4,
            duration_secs: 3,
            warmup_secs: 1,
            timeout_secs: 30,
            daemon_pid: Some(1),
            options: serde_json::json!({}),
        };
        Report::new("srp", ["sign-ins", "sign-in"], time::OffsetDateTime::UNIX_EPOCH, settings, &data)
    }

    #[test]
    fn report_numbers() {
        let r = sample_report();
        assert_eq!((r.summary.ok, r.summary.errors), (200, 1));
        assert_eq!(r.cpu.daemon_ms, Some(1800.0));
        assert_eq!(r.cpu.daemon_ms_per_op, Some(9.0));
        assert_eq!(r.cpu.daemon_cores, Some(0.9));
        assert_eq!(r.cpu.loadgen_ms_per_op, Some(2.0));
        assert_eq!(r.timeline.len(), 3);
        let table = r.table();
        assert!(table.contains("100.0 sign-ins/s"), "{table}");
        assert!(table.contains("TooManyRequestsException"), "{table}");
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(json["summary"]["errors_by_type"]["TooManyRequestsException"]["count"], 1);
        assert_eq!(json["timeline"][0]["daemon_cpu_pct"], 90.0);
    }

    #[test]
    fn output_paths() {
        assert_eq!(with_suffix(Path::new("results/srp"), "svg"), PathBuf::from("results/srp.svg"));
        assert_eq!(with_suffix(Path::new("srp.v1"), "json"), PathBuf::from("srp.v1.json"));
    }
}
