//! How the kernel schedules the daemon's reactor threads next to the CPU workers: Linux
//! `SCHED_BATCH` for the async reactor, with a way back to normal scheduling around blocking waits.
//!
//! Under sign-in load both cores run workers (signatures, SRP). Every readiness event or finished
//! job wakes a reactor thread, which under the default policy preempts a worker at once: about six
//! context switches per sign-in, each an inter-processor interrupt on a virtual machine. A
//! `SCHED_BATCH` thread does not preempt on wake-up; it runs when a worker's time slice ends or a
//! worker blocks, and then handles everything pending in one go (measured on 2 cores: ~10x fewer
//! switches, USER_PASSWORD_AUTH 1.59 -> 1.48 ms of daemon CPU, refresh 1.29 -> 1.16 ms). The cost
//! is up to one time slice of extra latency for a request that arrives while both cores are busy.
//!
//! Without wake-up preemption a waiting reactor thread would otherwise sit out the rest of a
//! worker's time slice (several ms at a low tick rate: p99 at 70% load went from 6 to 43 ms), so
//! a worker yields the CPU once every 3 ms of jobs ([`after_worker_job`]): a reactor thread waits
//! a few ms at most, and one switch serves everything that became ready meanwhile.
//!
//! A reactor thread that blocks on a synced write (`block_in_place` around a WAL fsync) must not
//! wait for a time slice after the fsync: the write group's followers and the client wait on it.
//! [`interactive`] runs such a section under the normal policy.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `[workers] reactor_scheduling`: the policy of the async reactor's threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReactorScheduling {
    /// `SCHED_BATCH`: a waking reactor thread does not preempt a busy worker (Linux only;
    /// elsewhere the same as `normal`).
    #[default]
    Batch,
    /// The kernel's default policy: the lowest latency for requests that arrive while every core
    /// is busy, at the cost of a context switch per wake-up.
    Normal,
}

/// Some reactor thread runs under `SCHED_BATCH`: workers yield after each job.
static REACTOR_BATCH: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread runs under `SCHED_BATCH` (set by [`reactor_thread_started`]).
    static BATCH: Cell<bool> = const { Cell::new(false) };
}

/// Called on every thread the async runtime starts (its `on_thread_start` hook).
pub fn reactor_thread_started(policy: ReactorScheduling) {
    if policy == ReactorScheduling::Batch && set_policy(Policy::Batch) {
        BATCH.with(|b| b.set(true));
        REACTOR_BATCH.store(true, Ordering::Relaxed);
    }
}

/// How long a worker runs jobs back to back before it yields the CPU to a waiting reactor thread.
/// Yielding after every job (~1.3 ms) gave back the whole gain; 3 ms keeps it, and bounds how
/// long a reactor thread waits while the workers (and RocksDB's compactions) keep both cores busy.
const WORKER_YIELD_INTERVAL: Duration = Duration::from_millis(3);

thread_local! {
    /// When this worker thread last yielded.
    static LAST_YIELD: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Called by a worker thread after each job: under a batch reactor, once every
/// [`WORKER_YIELD_INTERVAL`] gives a waiting reactor thread the CPU (`sched_yield`; returns at
/// once when nothing else is runnable).
pub fn after_worker_job() {
    if !REACTOR_BATCH.load(Ordering::Relaxed) {
        return;
    }
    let now = Instant::now();
    if LAST_YIELD.with(|last| last.get().is_none_or(|t| now.duration_since(t) >= WORKER_YIELD_INTERVAL)) {
        LAST_YIELD.with(|last| last.set(Some(now)));
        std::thread::yield_now();
    }
}

/// Runs `f` (a blocking wait the caller's clients depend on) under the normal policy when this is a
/// `SCHED_BATCH` thread, so that the thread runs as soon as the wait ends.
pub fn interactive<T>(f: impl FnOnce() -> T) -> T {
    if !BATCH.with(Cell::get) {
        return f();
    }
    let switched = set_policy(Policy::Normal);
    let out = f();
    if switched {
        set_policy(Policy::Batch);
    }
    out
}

#[derive(Clone, Copy)]
enum Policy {
    Batch,
    Normal,
}

/// Sets the calling thread's policy; false when the kernel refused (the thread keeps its policy).
#[cfg(target_os = "linux")]
fn set_policy(policy: Policy) -> bool {
    let raw = match policy {
        Policy::Batch => libc::SCHED_BATCH,
        Policy::Normal => libc::SCHED_OTHER,
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call.
    unsafe { libc::sched_setscheduler(0, raw, &param) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn set_policy(_policy: Policy) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn current() -> i32 {
        // SAFETY: pid 0 is the calling thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn a_batch_reactor_thread_runs_interactive_sections_under_the_normal_policy() {
        std::thread::spawn(|| {
            reactor_thread_started(ReactorScheduling::Batch);
            assert_eq!(current(), libc::SCHED_BATCH);
            assert_eq!(interactive(current), libc::SCHED_OTHER);
            assert_eq!(current(), libc::SCHED_BATCH, "the batch policy is restored after the section");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_normal_setting_leaves_threads_alone() {
        std::thread::spawn(|| {
            reactor_thread_started(ReactorScheduling::Normal);
            assert_eq!(current(), libc::SCHED_OTHER);
            assert_eq!(interactive(current), libc::SCHED_OTHER);
        })
        .join()
        .unwrap();
    }
}
