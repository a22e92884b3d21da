//! [`LiveEvents`]: the raw event stream of one subscription.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use kalam_schema::SqlType;
use tokio::sync::mpsc;

use super::connection::{self, Connection};
use super::protocol::{Command, Incoming, ServerFrame};
use super::{BatchControl, LiveEvent, LiveRow, SubscriptionOptions, new_subscription_id};
use crate::client::KalamClient;
use crate::error::{Error, ErrorCode, Result};
use crate::wire::SchemaField;

/// How long a subscription may wait for its `subscription_ack` (the SDK's default).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The raw events of one subscription, as a [`Stream`] of [`LiveEvent`].
///
/// The first item is the [`LiveEvent::Ack`]. Further initial batches are requested
/// automatically while `has_more` is set. Dropping the stream sends `unsubscribe`; the shared
/// socket closes when its last subscription is gone.
#[derive(Debug)]
#[must_use = "a subscription does nothing unless its stream is polled"]
pub struct LiveEvents {
    id: String,
    conn: Arc<Connection>,
    rx: mpsc::UnboundedReceiver<Incoming>,
    schema: Arc<[SchemaField]>,
    ack: Option<LiveEvent>,
    done: bool,
}

impl LiveEvents {
    /// Subscribes and waits for the server's answer.
    pub(crate) async fn subscribe(
        client: &KalamClient,
        prefix: &str,
        sql: &str,
        options: &SubscriptionOptions,
        resync: bool,
    ) -> Result<LiveEvents> {
        let conn = connection::shared(client).await?;
        let id = new_subscription_id(prefix);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sent = conn.send(Command::Subscribe {
            id: id.clone(),
            sql: sql.to_owned(),
            options: options.to_wire(),
            events: tx,
            resync,
        });
        if !sent {
            return Err(Error::Protocol("the live connection has ended".to_owned()));
        }
        let wait = async {
            loop {
                match rx.recv().await {
                    Some(Incoming::Frame(frame)) => return Ok(*frame),
                    // The task reconnects and sends the subscription again.
                    Some(Incoming::Disconnected(_) | Incoming::Resumed(_)) => {}
                    Some(Incoming::Closed(reason)) => {
                        return Err(Error::Protocol(format!(
                            "the live connection closed before the subscription was acknowledged: {reason}"
                        )));
                    }
                    None => {
                        return Err(Error::Protocol("the live connection has ended".to_owned()));
                    }
                }
            }
        };
        let frame = crate::transport::timeout(ACK_TIMEOUT, wait)
            .await
            .map_err(|_| Error::Timeout {
                operation: format!("subscription_ack for `{sql}`"),
                after: ACK_TIMEOUT,
            })??;
        match frame.kind.as_str() {
            "subscription_ack" => {
                let schema = result_schema(frame.schema.unwrap_or_default());
                let batch_control = frame.batch_control.unwrap_or_else(ready_control);
                Ok(LiveEvents {
                    ack: Some(LiveEvent::Ack {
                        schema: Arc::clone(&schema),
                        batch_control,
                    }),
                    id,
                    conn,
                    rx,
                    schema,
                    done: false,
                })
            }
            "error" => Err(Error::Sql {
                code: ErrorCode::parse(frame.code.as_deref().unwrap_or("SUBSCRIPTION_FAILED")),
                message: frame.message.unwrap_or_default(),
                details: Some(sql.to_owned()),
            }),
            other => Err(Error::Protocol(format!(
                "expected subscription_ack, got `{other}`"
            ))),
        }
    }

    /// The subscription id sent to the server.
    pub fn subscription_id(&self) -> &str {
        &self.id
    }

    /// The result columns from the ack (with `_seq`).
    pub fn schema(&self) -> &Arc<[SchemaField]> {
        &self.schema
    }

    /// Turns a frame into an event; `None` for frames of no interest. Asks for the next
    /// initial batch while `has_more` is set.
    fn event(&mut self, frame: Box<ServerFrame>) -> Option<LiveEvent> {
        let event = frame_event(*frame, &self.schema)?;
        if let LiveEvent::InitialBatch { batch_control, .. } = &event
            && batch_control.has_more
        {
            self.conn.send(Command::NextBatch {
                id: self.id.clone(),
                last_seq_id: batch_control.last_seq_id,
            });
        }
        Some(event)
    }
}

fn live_rows(rows: Option<Vec<super::Cells>>, schema: &Arc<[SchemaField]>) -> Vec<LiveRow> {
    rows.unwrap_or_default()
        .into_iter()
        .map(|cells| LiveRow::new(cells, Arc::clone(schema)))
        .collect()
}

/// A decoded server frame as an event of a subscription with this result schema.
pub(crate) fn frame_event(frame: ServerFrame, schema: &Arc<[SchemaField]>) -> Option<LiveEvent> {
    match frame.kind.as_str() {
        "initial_data_batch" => Some(LiveEvent::InitialBatch {
            rows: live_rows(frame.rows, schema),
            batch_control: frame.batch_control.unwrap_or_else(ready_control),
        }),
        "change" => match frame.change_type.as_deref() {
            Some("insert") => Some(LiveEvent::Insert {
                rows: live_rows(frame.rows, schema),
            }),
            Some("update") => Some(LiveEvent::Update {
                rows: live_rows(frame.rows, schema),
                old_values: live_rows(frame.old_values, schema),
            }),
            Some("delete") => Some(LiveEvent::Delete {
                old_values: live_rows(frame.old_values, schema),
            }),
            other => {
                tracing::debug!(?other, "skipping unknown change type");
                None
            }
        },
        "error" => Some(LiveEvent::Error {
            code: frame.code.unwrap_or_default(),
            message: frame.message.unwrap_or_default(),
        }),
        "subscription_ack" => Some(LiveEvent::Ack {
            schema: Arc::clone(schema),
            batch_control: frame.batch_control.unwrap_or_else(ready_control),
        }),
        other => {
            tracing::debug!(other, "skipping unknown live frame");
            None
        }
    }
}

impl Stream for LiveEvents {
    type Item = LiveEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LiveEvent>> {
        let this = self.get_mut();
        if let Some(ack) = this.ack.take() {
            return Poll::Ready(Some(ack));
        }
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                }
                Poll::Ready(Some(Incoming::Closed(reason))) => {
                    this.done = true;
                    return Poll::Ready(Some(LiveEvent::Error {
                        code: "CONNECTION_CLOSED".to_owned(),
                        message: reason,
                    }));
                }
                Poll::Ready(Some(Incoming::Disconnected(reason))) => {
                    return Poll::Ready(Some(LiveEvent::Disconnected { reason }));
                }
                Poll::Ready(Some(Incoming::Resumed(from))) => {
                    return Poll::Ready(Some(LiveEvent::Resumed { from }));
                }
                Poll::Ready(Some(Incoming::Frame(frame))) => {
                    if let Some(event) = this.event(frame) {
                        return Poll::Ready(Some(event));
                    }
                }
            }
        }
    }
}

impl Drop for LiveEvents {
    fn drop(&mut self) {
        self.conn.send(Command::Unsubscribe {
            id: self.id.clone(),
        });
    }
}

pub(crate) fn ready_control() -> BatchControl {
    BatchControl {
        batch_num: 0,
        has_more: false,
        status: "ready".to_owned(),
        last_seq_id: None,
    }
}

/// The ack schema plus `_seq` (every row carries it, projections do not list it).
pub(crate) fn result_schema(mut fields: Vec<SchemaField>) -> Arc<[SchemaField]> {
    if !fields.iter().any(|f| f.name == "_seq") {
        fields.push(SchemaField {
            name: "_seq".to_owned(),
            data_type: SqlType::BigInt,
            index: fields.len(),
            flags: Vec::new(),
        });
    }
    fields.into()
}

impl KalamClient {
    /// Subscribes to `SELECT … FROM ns.table [WHERE …]` with initial data and returns its
    /// raw events. Opens the shared WebSocket on first use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use futures_util::StreamExt;
    /// use kalam_client::{AuthProvider, KalamClient, live::LiveEvent};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS doc").execute(&client).await?;
    /// kalam_client::query("CREATE SHARED TABLE doc.notes (id BIGINT PRIMARY KEY, body TEXT)").execute(&client).await?;
    /// let mut events = client.live_events("SELECT * FROM doc.notes").await?;
    /// assert!(matches!(events.next().await, Some(LiveEvent::Ack { .. })));
    /// assert!(matches!(events.next().await, Some(LiveEvent::InitialBatch { .. })));
    /// kalam_client::query("INSERT INTO doc.notes (id, body) VALUES (1, 'hi')").execute(&client).await?;
    /// let Some(LiveEvent::Insert { rows }) = events.next().await else { panic!() };
    /// assert_eq!(rows[0].try_get::<String>("body")?, "hi");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn live_events(&self, sql: &str) -> Result<LiveEvents> {
        self.live_events_with_config(sql, SubscriptionOptions::new())
            .await
    }

    /// [`KalamClient::live_events`] with explicit [`SubscriptionOptions`].
    pub async fn live_events_with_config(
        &self,
        sql: &str,
        options: SubscriptionOptions,
    ) -> Result<LiveEvents> {
        LiveEvents::subscribe(self, "sub", sql, &options, false).await
    }
}
