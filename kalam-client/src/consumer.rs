//! Topic consumers (feature `consumer`, protocol 5): consumer groups over
//! `POST /v1/api/topics/consume` and `/ack`, typed records, commits whose failures are
//! reported, and a [`Worker`] loop.
//!
//! A topic is fed by row changes of its source tables (`ALTER TOPIC … ADD SOURCE`). Every
//! partition has its own gap-free offsets starting at 0; a consumer reads one partition for
//! one group. The server hands each fetch a range nobody in the group holds yet and keeps
//! it claimed until it is acknowledged; an unacknowledged claim is handed out again after the
//! server's visibility timeout (60 s by default). A commit (`ack`) is inclusive and
//! monotonic, and a group with a commit always continues after it, whatever the consumer's
//! [`AutoOffsetReset`] says.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::client::KalamClient;
use crate::error::{Error, Result};

use crate::consumer_record as record;
pub use crate::consumer_record::{ParsedPayload, TopicOp, TopicPayload, TopicRecord};
pub use crate::consumer_worker::{Worker, WorkerError, WorkerReport};

/// Where a group starts reading a partition it has no commit for.
///
/// ```
/// use kalam_client::consumer::AutoOffsetReset;
/// assert_eq!(serde_json::to_string(&AutoOffsetReset::Earliest).unwrap(), r#""Earliest""#);
/// assert_eq!(serde_json::to_string(&AutoOffsetReset::Offset(7)).unwrap(), r#"{"Offset":7}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum AutoOffsetReset {
    /// From offset 0.
    Earliest,
    /// Only messages published from now on (the default, as in the official SDK).
    #[default]
    Latest,
    /// From this offset.
    Offset(u64),
}

impl<'de> Deserialize<'de> for AutoOffsetReset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match &value {
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("earliest") => {
                Ok(AutoOffsetReset::Earliest)
            }
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("latest") => {
                Ok(AutoOffsetReset::Latest)
            }
            serde_json::Value::Object(map) if map.len() == 1 => map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("offset"))
                .and_then(|(_, v)| v.as_u64())
                .map(AutoOffsetReset::Offset)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid offset reset {value}"))),
            _ => Err(serde::de::Error::custom(format!(
                "expected Earliest, Latest or {{\"Offset\": n}}, found {value}"
            ))),
        }
    }
}

/// The answer to a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitResult {
    /// Whether the server stored it.
    pub success: bool,
    /// The committed offset (inclusive).
    pub acknowledged_offset: u64,
}

/// A commit that failed, reported by [`Consumer::take_ack_errors`],
/// [`Consumer::flush_acks`] and the [`ConsumerBuilder::on_ack_error`] callback.
#[derive(Debug, thiserror::Error)]
#[error("commit of {topic} partition {partition} up to offset {upto_offset} failed: {error}")]
pub struct AckError {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The offset that was being committed.
    pub upto_offset: u64,
    /// Why it failed.
    #[source]
    pub error: Error,
}

type AckCallback = Arc<dyn Fn(&AckError) + Send + Sync>;

/// Configures a [`Consumer`]; get one from [`KalamClient::consumer`].
#[must_use]
pub struct ConsumerBuilder {
    client: KalamClient,
    group_id: Option<String>,
    topic: Option<String>,
    reset: AutoOffsetReset,
    partition: u32,
    max_poll_records: u32,
    poll_timeout: Duration,
    on_ack_error: Option<AckCallback>,
}

impl fmt::Debug for ConsumerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("group_id", &self.group_id)
            .field("topic", &self.topic)
            .field("auto_offset_reset", &self.reset)
            .field("partition_id", &self.partition)
            .field("max_poll_records", &self.max_poll_records)
            .finish_non_exhaustive()
    }
}

impl KalamClient {
    /// Starts configuring a topic consumer that uses this client's connection and
    /// credentials (the caller needs role `service`, `dba` or `system`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::consumer::{AutoOffsetReset, TopicOp};
    /// use kalam_client::{AuthProvider, KalamClient};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// for sql in [
    ///     "CREATE NAMESPACE IF NOT EXISTS app",
    ///     "CREATE TABLE app.jobs (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')",
    ///     "CREATE TOPIC app.job_events",
    ///     "ALTER TOPIC app.job_events ADD SOURCE app.jobs ON INSERT",
    ///     "INSERT INTO app.jobs (id, name) VALUES (1, 'build')",
    /// ] {
    ///     kalam_client::query(sql).execute(&client).await?;
    /// }
    /// let mut consumer = client
    ///     .consumer()
    ///     .group_id("workers")
    ///     .topic("app.job_events")
    ///     .auto_offset_reset(AutoOffsetReset::Earliest)
    ///     .build()?;
    /// let records = consumer.consume_batch().await?;
    /// assert_eq!(records.len(), 1);
    /// assert_eq!(records[0].op, TopicOp::Insert);
    /// let (id, name): (i64, String) = (records[0].get("id")?, records[0].get("name")?);
    /// assert_eq!((id, name.as_str()), (1, "build"));
    /// consumer.ack(&records[0]).await?;
    /// assert!(consumer.consume_batch().await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn consumer(&self) -> ConsumerBuilder {
        ConsumerBuilder {
            client: self.clone(),
            group_id: None,
            topic: None,
            reset: AutoOffsetReset::Latest,
            partition: 0,
            max_poll_records: 100,
            poll_timeout: Duration::from_secs(30),
            on_ack_error: None,
        }
    }
}

impl ConsumerBuilder {
    /// The consumer group (required).
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// The topic, `namespace.name` (required; the namespace goes through the client's
    /// [`map_namespace`](crate::KalamClientBuilder::map_namespace)).
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Where to start when the group has no commit on the partition (default `Latest`).
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.reset = reset;
        self
    }

    /// The partition to read (default 0).
    pub fn partition_id(mut self, partition: u32) -> Self {
        self.partition = partition;
        self
    }

    /// Most records per fetch (default 100).
    pub fn max_poll_records(mut self, n: u32) -> Self {
        self.max_poll_records = n;
        self
    }

    /// Sent as `timeout_seconds` (default 30 s). The 0.4.3 server answers at once anyway.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// Called (from a background task) for every failed background commit, in addition
    /// to the failure being kept for [`Consumer::take_ack_errors`].
    pub fn on_ack_error(mut self, callback: impl Fn(&AckError) + Send + Sync + 'static) -> Self {
        self.on_ack_error = Some(Arc::new(callback));
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Consumer> {
        let required = |value: Option<String>, what: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Error::Config(format!("consumer {what} is required")))
        };
        let group_id = required(self.group_id, "group_id")?;
        let topic = required(self.topic, "topic")?;
        let topic = self.client.inner.namespaces.qualified(&topic).into_owned();
        if self.max_poll_records == 0 {
            return Err(Error::Config(
                "max_poll_records must be at least 1".to_owned(),
            ));
        }
        Ok(Consumer {
            client: self.client,
            group_id,
            topic,
            reset: self.reset,
            partition: self.partition,
            max_poll_records: self.max_poll_records,
            poll_timeout: self.poll_timeout,
            on_ack_error: self.on_ack_error,
            position: None,
            committed: None,
            pending: Vec::new(),
            failed: Vec::new(),
        })
    }
}

/// Reads one partition of a topic for a consumer group.
///
/// Commits come in two kinds: [`ack`](Consumer::ack)/[`commit`](Consumer::commit) wait for
/// the server and return its answer; [`ack_async`](Consumer::ack_async)/
/// [`commit_async`](Consumer::commit_async) return at once and commit in the background,
/// and their failures are kept (see [`take_ack_errors`](Consumer::take_ack_errors) and
/// [`flush_acks`](Consumer::flush_acks)) and passed to
/// [`on_ack_error`](ConsumerBuilder::on_ack_error) — never dropped.
pub struct Consumer {
    client: KalamClient,
    group_id: String,
    topic: String,
    reset: AutoOffsetReset,
    partition: u32,
    max_poll_records: u32,
    poll_timeout: Duration,
    on_ack_error: Option<AckCallback>,
    /// The next offset to read, once a fetch told us.
    position: Option<u64>,
    /// The highest offset this consumer committed.
    committed: Option<u64>,
    /// Background commits: the offset and the task.
    pending: Vec<(u64, JoinHandle<std::result::Result<CommitResult, AckError>>)>,
    failed: Vec<AckError>,
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.group_id)
            .field("topic", &self.topic)
            .field("partition_id", &self.partition)
            .field("position", &self.position)
            .field("committed", &self.committed)
            .field("pending_acks", &self.pending.len())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct ConsumeRequest<'a> {
    topic_id: &'a str,
    group_id: &'a str,
    start: AutoOffsetReset,
    limit: u32,
    partition_id: u32,
    timeout_seconds: u64,
}

#[derive(Deserialize)]
struct ConsumeResponse {
    #[serde(default)]
    messages: Vec<record::WireMessage>,
    #[serde(default)]
    next_offset: Option<u64>,
}

#[derive(Serialize)]
struct AckRequest<'a> {
    topic_id: &'a str,
    group_id: &'a str,
    partition_id: u32,
    upto_offset: u64,
}

async fn send_ack(
    client: &KalamClient,
    topic: &str,
    group: &str,
    partition: u32,
    upto: u64,
) -> Result<CommitResult> {
    let body = AckRequest {
        topic_id: topic,
        group_id: group,
        partition_id: partition,
        upto_offset: upto,
    };
    let inner = &client.inner;
    inner
        .call_json(true, "topic ack", |base| {
            inner
                .http
                .post(format!("{base}/v1/api/topics/ack"))
                .json(&body)
        })
        .await
}

impl Consumer {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The consumer group.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The partition.
    pub fn partition_id(&self) -> u32 {
        self.partition
    }

    /// The next offset to read, once a fetch has told it.
    pub fn position(&self) -> Option<u64> {
        self.position
    }

    /// The highest offset this consumer committed successfully.
    pub fn committed(&self) -> Option<u64> {
        self.committed
    }

    /// Fetches the next records (at most `max_poll_records`; empty when there is nothing
    /// new). The records are claimed for this consumer until acknowledged or until the
    /// server's visibility timeout.
    pub async fn consume_batch(&mut self) -> Result<Vec<TopicRecord>> {
        let body = ConsumeRequest {
            topic_id: &self.topic,
            group_id: &self.group_id,
            start: self.position.map_or(self.reset, AutoOffsetReset::Offset),
            limit: self.max_poll_records,
            partition_id: self.partition,
            timeout_seconds: self.poll_timeout.as_secs(),
        };
        let inner = &self.client.inner;
        let raw = inner
            .call_bytes(true, "topic consume", |base| {
                inner
                    .http
                    .post(format!("{base}/v1/api/topics/consume"))
                    .json(&body)
            })
            .await?;
        // The SDK treats an empty 2xx body as "no messages"; so do we.
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let response: ConsumeResponse = serde_json::from_slice(&raw)
            .map_err(|e| Error::Protocol(format!("malformed topic consume response: {e}")))?;
        let records = response
            .messages
            .into_iter()
            .map(|m| m.into_record(&self.topic))
            .collect::<Result<Vec<_>>>()?;
        let next = records
            .last()
            .map(|r| r.offset + 1)
            .or(response.next_offset);
        if let Some(next) = next {
            self.position = Some(self.position.map_or(next, |p| p.max(next)));
        }
        Ok(records)
    }

    /// The official SDK's name for [`Consumer::consume_batch`].
    pub async fn poll(&mut self) -> Result<Vec<TopicRecord>> {
        self.consume_batch().await
    }

    /// Commits up to `record` (inclusive) on its partition and waits for the server.
    pub async fn ack(&mut self, record: &TopicRecord) -> Result<CommitResult> {
        self.commit(record.offset).await
    }

    /// Commits up to `offset` (inclusive) and waits for the server. Commits never move
    /// back: a lower offset leaves the group's commit where it is.
    pub async fn commit(&mut self, offset: u64) -> Result<CommitResult> {
        let result = send_ack(
            &self.client,
            &self.topic,
            &self.group_id,
            self.partition,
            offset,
        )
        .await?;
        self.note_commit(result.acknowledged_offset);
        Ok(result)
    }

    fn note_commit(&mut self, offset: u64) {
        self.committed = Some(self.committed.map_or(offset, |c| c.max(offset)));
    }

    /// Commits up to `record` in the background; see [`Consumer::commit_async`].
    pub fn ack_async(&mut self, record: &TopicRecord) {
        self.commit_async(record.offset);
    }

    /// Commits up to `offset` in the background and returns at once. A failure is kept
    /// for [`take_ack_errors`](Consumer::take_ack_errors)/[`flush_acks`](Consumer::flush_acks)
    /// and passed to the [`on_ack_error`](ConsumerBuilder::on_ack_error) callback.
    /// Outside a Tokio runtime the commit fails at once (and is reported the same way).
    /// Dropping the consumer does not cancel commits still running.
    pub fn commit_async(&mut self, offset: u64) {
        self.collect_finished();
        let client = self.client.clone();
        let topic = self.topic.clone();
        let group = self.group_id.clone();
        let partition = self.partition;
        let callback = self.on_ack_error.clone();
        let report = move |error: Error| {
            let failure = AckError {
                topic: topic.clone(),
                partition,
                upto_offset: offset,
                error,
            };
            if let Some(cb) = &callback {
                cb(&failure);
            }
            failure
        };
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => {
                let failure = report(Error::Config(format!(
                    "commit_async needs a Tokio runtime: {e}"
                )));
                self.failed.push(failure);
                return;
            }
        };
        let topic_name = self.topic.clone();
        let task = handle.spawn(async move {
            send_ack(&client, &topic_name, &group, partition, offset)
                .await
                .map_err(report)
        });
        self.pending.push((offset, task));
    }

    /// Moves finished background commits into `committed` / the failure list.
    fn collect_finished(&mut self) {
        let mut still = Vec::with_capacity(self.pending.len());
        for (offset, handle) in std::mem::take(&mut self.pending) {
            if handle.is_finished() {
                if let Some(done) = handle.now_or_never() {
                    self.settle(offset, done);
                }
            } else {
                still.push((offset, handle));
            }
        }
        self.pending = still;
    }

    fn settle(
        &mut self,
        offset: u64,
        done: std::result::Result<
            std::result::Result<CommitResult, AckError>,
            tokio::task::JoinError,
        >,
    ) {
        match done {
            Ok(Ok(result)) => self.note_commit(result.acknowledged_offset),
            Ok(Err(failure)) => self.failed.push(failure),
            Err(join) => self.failed.push(AckError {
                topic: self.topic.clone(),
                partition: self.partition,
                upto_offset: offset,
                error: Error::Protocol(format!("background commit task failed: {join}")),
            }),
        }
    }

    /// The background commits that failed so far (finished ones only); each failure is
    /// returned once.
    pub fn take_ack_errors(&mut self) -> Vec<AckError> {
        self.collect_finished();
        std::mem::take(&mut self.failed)
    }

    /// Background commits still running.
    pub fn pending_acks(&mut self) -> usize {
        self.collect_finished();
        self.pending.len()
    }

    /// Waits for every background commit and returns the failures not taken yet.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::{AuthProvider, ErrorCode, KalamClient};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// let mut consumer = client.consumer().group_id("g").topic("app.nowhere").build()?;
    /// consumer.commit_async(3); // the topic does not exist
    /// let failures = consumer.flush_acks().await;
    /// assert_eq!(failures.len(), 1);
    /// assert_eq!(failures[0].upto_offset, 3);
    /// assert_eq!(failures[0].error.code(), Some(&ErrorCode::NotFound));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn flush_acks(&mut self) -> Vec<AckError> {
        for (offset, handle) in std::mem::take(&mut self.pending) {
            let done = handle.await;
            self.settle(offset, done);
        }
        std::mem::take(&mut self.failed)
    }

    /// Runs this consumer in a [`Worker`] loop.
    pub fn worker(self) -> Worker {
        Worker::new(self)
    }
}
