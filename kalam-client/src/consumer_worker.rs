//! [`Worker`]: consume, handle, commit, retry, stop on a signal.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::FutureExt as _;

use crate::consumer::{AckError, Consumer, TopicRecord};
use crate::error::Error;

/// A consume → handle → commit loop around a [`Consumer`]; get one from
/// [`Consumer::worker`].
///
/// Records are handled one at a time, in offset order. A handler error is retried with
/// exponential backoff (`retry_backoff` × 2ⁿ, at most 30 s) up to `max_retries` times; a
/// record that still fails stops the worker ([`WorkerError::Handler`]) unless
/// [`skip_failed`](Worker::skip_failed) is on. After each batch the worker commits up to the
/// last record it finished, so a restarted worker continues right after it. When the
/// shutdown signal fires, the worker finishes the record in hand, commits, and returns; the
/// records of the batch it did not reach are handed out again by the server after its
/// visibility timeout.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use kalam_client::consumer::AutoOffsetReset;
/// use kalam_client::{AuthProvider, KalamClient};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// for sql in [
///     "CREATE NAMESPACE IF NOT EXISTS app",
///     "CREATE TABLE app.mails (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED')",
///     "CREATE TOPIC app.outbox",
///     "ALTER TOPIC app.outbox ADD SOURCE app.mails ON INSERT",
///     "INSERT INTO app.mails (id) VALUES (1), (2), (3)",
/// ] {
///     kalam_client::query(sql).execute(&client).await?;
/// }
/// let consumer = client
///     .consumer()
///     .group_id("mailer")
///     .topic("app.outbox")
///     .auto_offset_reset(AutoOffsetReset::Earliest)
///     .build()?;
/// let sent = Arc::new(AtomicU64::new(0));
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let mut stop = Some(stop);
/// let report = consumer
///     .worker()
///     .max_retries(2)
///     .retry_backoff(Duration::from_millis(10))
///     .run(
///         async { let _ = stopped.await; },
///         |record| {
///             let sent = Arc::clone(&sent);
///             // Stop once the three mails are out.
///             if sent.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
///                 stop.take().map(|s| s.send(()));
///             }
///             async move { record.get::<i64>("id").map(drop) }
///         },
///     )
///     .await?;
/// assert_eq!(report.processed, 3);
/// assert_eq!(report.committed, Some(2));
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct Worker {
    consumer: Consumer,
    max_retries: u32,
    retry_backoff: Duration,
    idle_wait: Duration,
    skip_failed: bool,
    async_acks: bool,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("consumer", &self.consumer)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("idle_wait", &self.idle_wait)
            .field("skip_failed", &self.skip_failed)
            .field("async_acks", &self.async_acks)
            .finish()
    }
}

/// What a [`Worker`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Records the handler finished successfully.
    pub processed: u64,
    /// Handler calls that failed and were retried.
    pub retries: u64,
    /// Records given up on and skipped (with [`Worker::skip_failed`]): offset and error.
    pub skipped: Vec<(u64, String)>,
    /// The last offset the worker committed.
    pub committed: Option<u64>,
    /// Background commits that failed (with [`Worker::async_acks`]).
    pub ack_errors: Vec<AckError>,
}

/// Why a [`Worker`] stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// Fetching or committing failed (after the retries).
    #[error("topic consumer failed: {error}")]
    Consumer {
        /// The failure.
        #[source]
        error: Error,
        /// What was done before it.
        report: Box<WorkerReport>,
    },
    /// The handler kept failing on a record; everything before it was committed.
    #[error("handler failed on offset {offset} after {attempts} attempt(s): {message}")]
    Handler {
        /// The record's offset.
        offset: u64,
        /// Calls made.
        attempts: u32,
        /// The handler's last error.
        message: String,
        /// What was done before it.
        report: Box<WorkerReport>,
    },
}

/// Retry delay: `base` × 2^attempt, at most 30 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.min(16))
        .min(Duration::from_secs(30))
}

impl Worker {
    pub(crate) fn new(consumer: Consumer) -> Worker {
        Worker {
            consumer,
            max_retries: 3,
            retry_backoff: Duration::from_millis(200),
            idle_wait: Duration::from_millis(500),
            skip_failed: false,
            async_acks: false,
        }
    }

    /// Retries after a handler or fetch failure (default 3).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// First retry delay, doubled on each further retry (default 200 ms).
    pub fn retry_backoff(mut self, delay: Duration) -> Self {
        self.retry_backoff = delay;
        self
    }

    /// Pause after an empty fetch (default 500 ms; the 0.4.3 server does not long-poll).
    pub fn idle_wait(mut self, delay: Duration) -> Self {
        self.idle_wait = delay;
        self
    }

    /// Skip (and commit past) a record whose handler keeps failing instead of stopping
    /// (default off). Skipped records are listed in [`WorkerReport::skipped`].
    pub fn skip_failed(mut self, yes: bool) -> Self {
        self.skip_failed = yes;
        self
    }

    /// Commit in the background ([`Consumer::commit_async`]) instead of waiting after each
    /// batch (default off). Failures end up in [`WorkerReport::ack_errors`].
    pub fn async_acks(mut self, yes: bool) -> Self {
        self.async_acks = yes;
        self
    }

    /// Runs until `shutdown` completes (or a failure), calling `handler` for each record.
    pub async fn run<S, F, Fut, E>(
        mut self,
        shutdown: S,
        mut handler: F,
    ) -> Result<WorkerReport, WorkerError>
    where
        S: Future<Output = ()>,
        F: FnMut(TopicRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
    {
        let mut shutdown = pin!(shutdown.fuse());
        let mut report = WorkerReport::default();
        let mut fetch_failures = 0u32;
        'outer: loop {
            if (&mut shutdown).now_or_never().is_some() {
                break;
            }
            let batch = match self.consumer.consume_batch().await {
                Ok(batch) => {
                    fetch_failures = 0;
                    batch
                }
                Err(error) if fetch_failures < self.max_retries => {
                    tracing::warn!(attempt = fetch_failures + 1, "topic fetch failed: {error}");
                    let delay = backoff(self.retry_backoff, fetch_failures);
                    fetch_failures += 1;
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(delay) => continue,
                    }
                }
                Err(error) => return Err(self.consumer_error(error, report).await),
            };
            if batch.is_empty() {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(self.idle_wait) => continue,
                }
            }
            let mut done: Option<u64> = None;
            for record in batch {
                if done.is_some() && (&mut shutdown).now_or_never().is_some() {
                    self.commit(done, &mut report).await?;
                    break 'outer;
                }
                let offset = record.offset;
                let mut attempt = 0u32;
                loop {
                    attempt += 1;
                    match handler(record.clone()).await {
                        Ok(()) => {
                            report.processed += 1;
                            break;
                        }
                        Err(e) if attempt <= self.max_retries => {
                            report.retries += 1;
                            tracing::debug!(offset, attempt, "handler failed, retrying: {e}");
                            tokio::time::sleep(backoff(self.retry_backoff, attempt - 1)).await;
                        }
                        Err(e) if self.skip_failed => {
                            tracing::warn!(offset, "handler failed, skipping the record: {e}");
                            report.skipped.push((offset, e.to_string()));
                            break;
                        }
                        Err(e) => {
                            let message = e.to_string();
                            self.commit(done, &mut report).await?;
                            report.ack_errors.extend(self.consumer.flush_acks().await);
                            return Err(WorkerError::Handler {
                                offset,
                                attempts: attempt,
                                message,
                                report: Box::new(report),
                            });
                        }
                    }
                }
                done = Some(offset);
            }
            self.commit(done, &mut report).await?;
        }
        report.ack_errors.extend(self.consumer.flush_acks().await);
        Ok(report)
    }

    /// Commits up to `done`, in the foreground or background.
    async fn commit(
        &mut self,
        done: Option<u64>,
        report: &mut WorkerReport,
    ) -> Result<(), WorkerError> {
        let Some(offset) = done else { return Ok(()) };
        if self.async_acks {
            self.consumer.commit_async(offset);
            report.committed = Some(offset);
            return Ok(());
        }
        let mut attempt = 0;
        loop {
            match self.consumer.commit(offset).await {
                Ok(result) => {
                    report.committed = Some(result.acknowledged_offset);
                    return Ok(());
                }
                Err(e) if attempt < self.max_retries => {
                    tracing::warn!(
                        offset,
                        attempt = attempt + 1,
                        "commit failed, retrying: {e}"
                    );
                    tokio::time::sleep(backoff(self.retry_backoff, attempt)).await;
                    attempt += 1;
                }
                Err(error) => {
                    return Err(WorkerError::Consumer {
                        error,
                        report: Box::new(std::mem::take(report)),
                    });
                }
            }
        }
    }

    async fn consumer_error(&mut self, error: Error, mut report: WorkerReport) -> WorkerError {
        report.ack_errors.extend(self.consumer.flush_acks().await);
        WorkerError::Consumer {
            error,
            report: Box::new(report),
        }
    }
}
