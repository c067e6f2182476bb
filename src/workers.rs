//! The CPU worker pool: dedicated OS threads for SRP math, HSM signing and other blocking
//! crypto, fed by one bounded queue. A full queue fails fast instead of queueing latency.
//!
//! The async reactor never runs crypto or PKCS#11 itself: it submits a closure here and awaits
//! the answer on a oneshot channel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender, TrySendError};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why a job did not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    /// Every queue slot is taken: the caller answers `TooManyRequestsException`.
    #[error("worker queue is full")]
    QueueFull,
    /// The pool is shutting down (or a job panicked and dropped its reply).
    #[error("worker pool stopped")]
    Stopped,
}

pub struct WorkerPool {
    sender: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    depth: Arc<AtomicUsize>,
    capacity: usize,
}

impl WorkerPool {
    /// Starts `threads` workers behind a queue of `queue_capacity` jobs.
    pub fn start(threads: usize, queue_capacity: usize) -> std::io::Result<Self> {
        let (tx, rx) = bounded::<Job>(queue_capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let depth = depth.clone();
            handles.push(std::thread::Builder::new().name(format!("portcullis-worker-{i}")).spawn(move || {
                while let Ok(job) = rx.recv() {
                    let now = depth.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
                    metrics::gauge!("portcullis_worker_queue_depth").set(now as f64);
                    // A panicking job must not take the worker down with it.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    crate::scheduling::after_worker_job();
                }
            })?);
        }
        Ok(Self { sender: Some(tx), threads: handles, depth, capacity: queue_capacity.max(1) })
    }

    /// Runs `f` on a worker and awaits its result, or fails at once if the queue is full.
    pub async fn run<T, F>(&self, f: F) -> Result<T, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply_tx.send(f());
        });
        let sender = self.sender.as_ref().ok_or(SubmitError::Stopped)?;
        // Count before sending so a fast worker never sees the counter below zero.
        let now = self.depth.fetch_add(1, Ordering::Relaxed) + 1;
        match sender.try_send(job) {
            Ok(()) => {
                metrics::counter!("portcullis_worker_jobs_total").increment(1);
                metrics::gauge!("portcullis_worker_queue_depth").set(now as f64);
            }
            Err(e) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(match e {
                    TrySendError::Full(_) => {
                        metrics::counter!("portcullis_worker_queue_rejections_total").increment(1);
                        SubmitError::QueueFull
                    }
                    TrySendError::Disconnected(_) => SubmitError::Stopped,
                });
            }
        }
        reply_rx.await.map_err(|_| SubmitError::Stopped)
    }

    /// Jobs waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every queue slot is taken: a job submitted now would be refused.
    pub fn is_full(&self) -> bool {
        self.queue_depth() >= self.capacity
    }

    /// Stops taking jobs, lets queued ones finish, and joins the threads.
    pub fn shutdown(&mut self) {
        self.sender = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[tokio::test]
    async fn runs_jobs_off_the_reactor_thread() {
        let pool = WorkerPool::start(2, 8).unwrap();
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.unwrap().starts_with("portcullis-worker-"));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_immediately() {
        let pool = Arc::new(WorkerPool::start(1, 1).unwrap());
        let started = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        // Occupy the only worker until released...
        let busy = tokio::spawn({
            let (pool, started, release) = (pool.clone(), started.clone(), release.clone());
            async move {
                pool.run(move || {
                    started.wait();
                    release.wait();
                })
                .await
            }
        });
        tokio::task::spawn_blocking({
            let started = started.clone();
            move || started.wait()
        })
        .await
        .unwrap();
        // ...then take the only queue slot.
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 7).await }
        });
        while pool.queue_depth() != 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 0).await, Err(SubmitError::QueueFull));
        tokio::task::spawn_blocking(move || release.wait()).await.unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap(), Ok(7));
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_kill_the_worker() {
        let pool = WorkerPool::start(1, 4).unwrap();
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, Err(SubmitError::Stopped));
        assert_eq!(pool.run(|| 5).await, Ok(5));
    }
}
