//! The live protocol as a state machine that does no IO: messages in, subscriber events and
//! messages to send out.
//!
//! [`Protocol`] knows the subscriptions of one connection: it turns a subscription's
//! [`Command`] into the client message to send, reads what the server sends (envelope
//! decoding, gzip'd frames, routing by subscription id), drops rows replayed after a resume,
//! keeps each subscription's resume point, decides when a silent socket is half-open, and
//! says what to send again on a new socket. It never touches a socket, a timer or a task:
//! the driver in `connection.rs` owns those (tokio and tungstenite natively, the page's event
//! loop and WebSocket in a browser; see `crate::transport`) and only moves data between them
//! and this machine, as quinn-proto and h2 keep their protocol state apart from their IO.
//!
//! The rest of the live core is IO-free too: [`frame_event`](super::events::frame_event)
//! turns a frame into a raw [`LiveEvent`](super::LiveEvent), and the materializer in
//! `rows.rs`/`store.rs` turns frames into typed row sets.

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::{Error, ErrorCode, Result};

/// What a subscription receives from its connection.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A server frame addressed to this subscription.
    Frame(Box<ServerFrame>),
    /// The socket was lost; the connection is reconnecting.
    Disconnected(String),
    /// A new socket is up and the subscription was sent again, resuming after `from`.
    Resumed(Option<i64>),
    /// The connection ended; no more frames will come.
    Closed(String),
}

/// A decoded server frame (the fields of every message type, most optional).
#[derive(Debug, Deserialize)]
pub(crate) struct ServerFrame {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) subscription_id: Option<String>,
    #[serde(default)]
    pub(crate) change_type: Option<String>,
    #[serde(default)]
    pub(crate) rows: Option<Vec<super::Cells>>,
    #[serde(default)]
    pub(crate) old_values: Option<Vec<super::Cells>>,
    #[serde(default)]
    pub(crate) batch_control: Option<super::BatchControl>,
    #[serde(default)]
    pub(crate) schema: Option<Vec<crate::wire::SchemaField>>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// Where a subscription's events go. The machine only hands events over; whether that is a
/// channel to a stream (as in the client) or a list (as in its tests) is the caller's.
pub(crate) trait Subscriber {
    /// Hands an event over; false when nobody receives them any more.
    fn deliver(&self, event: Incoming) -> bool;
    /// Whether nobody receives the events any more.
    fn is_gone(&self) -> bool;
}

impl Subscriber for mpsc::UnboundedSender<Incoming> {
    fn deliver(&self, event: Incoming) -> bool {
        self.send(event).is_ok()
    }

    fn is_gone(&self) -> bool {
        self.is_closed()
    }
}

/// What a subscription asks of its connection. Each becomes exactly one known client message.
#[derive(Debug)]
pub(crate) enum Command<S = mpsc::UnboundedSender<Incoming>> {
    Subscribe {
        id: String,
        sql: String,
        options: Option<serde_json::Value>,
        events: S,
        /// The subscriber reloads its rows itself after a reconnect: resubscribe with the
        /// original options instead of resuming from the last `_seq`.
        resync: bool,
    },
    NextBatch {
        id: String,
        last_seq_id: Option<i64>,
    },
    Unsubscribe {
        id: String,
    },
}

/// One WebSocket message as the machine reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inbound<'a> {
    /// A text message: JSON.
    Text(&'a str),
    /// A binary message: gzip'd JSON (3.3).
    Binary(&'a [u8]),
    /// A control frame (ping, pong): proof of life, nothing to read.
    Control,
}

/// What the keepalive timer's tick asks of the driver.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Tick {
    /// Send a Ping frame and a `{"type":"ping"}` message.
    Ping,
    /// Nothing arrived for a whole period, not even the Pong: give the socket up.
    HalfOpen,
}

/// Why a socket has to be given up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lost(pub(crate) String);

/// The keepalive message that asks the server for a JSON `pong`.
pub(crate) const PING: &str = r#"{"type":"ping"}"#;

/// The live protocol state of one connection (see the module docs).
#[derive(Debug)]
pub(crate) struct Protocol<S = mpsc::UnboundedSender<Incoming>> {
    subs: HashMap<String, Sub<S>>,
    /// The bound on an inflated binary frame.
    limit: u64,
    /// Whether the socket answers Ping frames (so silence means half-open).
    pongs: bool,
    /// Something arrived since the last keepalive tick.
    heard: bool,
}

/// What the machine remembers about a subscription, to route frames and to resubscribe.
#[derive(Debug)]
struct Sub<S> {
    sql: String,
    options: Option<serde_json::Value>,
    events: S,
    /// Largest `_seq` delivered: the resume point.
    applied: Option<i64>,
    /// Rows at or below this `_seq` are replays after a resume and are dropped.
    floor: Option<i64>,
    /// Resubscribe with the original options (the subscriber reloads its rows itself).
    resync: bool,
}

impl<S: Subscriber> Protocol<S> {
    /// A connection with no subscriptions. `limit` bounds an inflated binary frame; `pongs`
    /// says whether the socket can prove itself alive by answering Ping frames.
    pub(crate) fn new(limit: u64, pongs: bool) -> Self {
        Self {
            subs: HashMap::new(),
            limit,
            pongs,
            heard: true,
        }
    }

    /// Takes a subscription's command; returns the client message to send for it.
    pub(crate) fn command(&mut self, command: Command<S>) -> String {
        match command {
            Command::Subscribe {
                id,
                sql,
                options,
                events,
                resync,
            } => {
                let text = subscribe_message(&id, &sql, options.as_ref());
                let sub = Sub {
                    sql,
                    options,
                    events,
                    applied: None,
                    floor: None,
                    resync,
                };
                self.subs.insert(id, sub);
                text
            }
            Command::NextBatch { id, last_seq_id } => serde_json::json!({
                "type": "next_batch", "subscription_id": id, "last_seq_id": last_seq_id,
            })
            .to_string(),
            Command::Unsubscribe { id } => {
                self.subs.remove(&id);
                serde_json::json!({"type": "unsubscribe", "subscription_id": id}).to_string()
            }
        }
    }

    /// Reads one message from the socket and hands its rows to their subscription.
    ///
    /// A message that cannot be read may be a change: skipping it would leave the live sets
    /// short, so it gives the socket up ([`Lost`]); the subscriptions then resume after what
    /// they received.
    pub(crate) fn receive(&mut self, message: Inbound<'_>) -> std::result::Result<(), Lost> {
        self.heard = true;
        let mut frame = match decode_frame(message, self.limit) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(e) => return Err(Lost(format!("unreadable frame: {e}"))),
        };
        let id = frame.subscription_id.as_deref().unwrap_or_default();
        match route(&mut self.subs, id) {
            Some(sub) => {
                if sub.accept(&mut frame) {
                    // A dropped subscription unsubscribes itself; ignore the race.
                    sub.events.deliver(Incoming::Frame(Box::new(frame)));
                }
            }
            None => tracing::debug!(kind = %frame.kind, id, "live frame for no subscription"),
        }
        Ok(())
    }

    /// The keepalive timer ticked: ping again, or give up a socket silent for a whole period.
    /// A socket that cannot send Ping frames (a page's) is never judged by its silence.
    pub(crate) fn tick(&mut self) -> Tick {
        if !self.heard && self.pongs {
            return Tick::HalfOpen;
        }
        self.heard = false;
        Tick::Ping
    }

    /// The socket was lost: every subscription hears why.
    pub(crate) fn lost(&mut self, reason: &str) {
        for sub in self.subs.values() {
            sub.events
                .deliver(Incoming::Disconnected(reason.to_owned()));
        }
    }

    /// Whether a new socket is worth opening: some subscription still listens, or new ones can
    /// still come (`open`: some handle to the connection is left).
    pub(crate) fn wanted(&mut self, open: bool) -> bool {
        self.subs.retain(|_, sub| !sub.events.is_gone());
        open || !self.subs.is_empty()
    }

    /// A new socket is up: every subscription hears that it resumes (and from where), and the
    /// returned messages subscribe them again, resuming after what each received.
    pub(crate) fn resubscribe(&mut self) -> Vec<String> {
        self.heard = true;
        self.subs
            .iter_mut()
            .map(|(id, sub)| {
                let options = sub.resume_options();
                sub.floor = if sub.resync { None } else { sub.applied };
                sub.events.deliver(Incoming::Resumed(sub.applied));
                subscribe_message(id, &sub.sql, options.as_ref())
            })
            .collect()
    }

    /// The connection ends: every subscription hears why, and is forgotten.
    pub(crate) fn close(&mut self, reason: &str) {
        for (_, sub) in self.subs.drain() {
            sub.events.deliver(Incoming::Closed(reason.to_owned()));
        }
    }

    /// How many subscriptions the connection carries.
    pub(crate) fn len(&self) -> usize {
        self.subs.len()
    }
}

impl<S> Sub<S> {
    /// The `options` to resubscribe with: the original ones, resuming after `applied`.
    fn resume_options(&self) -> Option<serde_json::Value> {
        if self.resync {
            return self.options.clone();
        }
        let Some(from) = self.applied else {
            return self.options.clone();
        };
        let mut map = match &self.options {
            Some(serde_json::Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        map.remove("last_rows");
        map.insert("from".to_owned(), from.into());
        Some(serde_json::Value::Object(map))
    }

    /// Drops replayed rows, advances the resume point; false when nothing is left to deliver.
    fn accept(&mut self, frame: &mut ServerFrame) -> bool {
        let floor = self.floor;
        let mut had_rows = false;
        let mut max = self.applied;
        for rows in [&mut frame.rows, &mut frame.old_values]
            .into_iter()
            .flatten()
        {
            had_rows |= !rows.is_empty();
            rows.retain(|row| match (super::seq_of(row), floor) {
                (Some(seq), Some(floor)) => seq > floor,
                _ => true,
            });
            for seq in rows.iter().filter_map(super::seq_of) {
                max = Some(max.map_or(seq, |m| m.max(seq)));
            }
        }
        self.applied = max;
        let empty = frame.rows.as_ref().is_none_or(Vec::is_empty)
            && frame.old_values.as_ref().is_none_or(Vec::is_empty);
        !(frame.kind == "change" && had_rows && empty)
    }
}

/// Routes a frame to its subscription: exact id, else a unique suffix match (3.11).
fn route<'a, S>(subs: &'a mut HashMap<String, Sub<S>>, id: &str) -> Option<&'a mut Sub<S>> {
    if subs.contains_key(id) {
        return subs.get_mut(id);
    }
    let mut hits = subs.iter_mut().filter(|(k, _)| id.ends_with(k.as_str()));
    match (hits.next(), hits.next()) {
        (Some((_, sub)), None) => Some(sub),
        _ => None,
    }
}

fn subscribe_message(id: &str, sql: &str, options: Option<&serde_json::Value>) -> String {
    serde_json::json!({
        "type": "subscribe",
        "subscription": {"id": id, "sql": sql, "options": options},
    })
    .to_string()
}

/// Parses one WebSocket message: text is JSON, binary is gzip'd JSON (3.3), inflated to at
/// most `limit` bytes. `None` for control frames.
pub(crate) fn decode_frame(message: Inbound<'_>, limit: u64) -> Result<Option<ServerFrame>> {
    let parsed = match message {
        Inbound::Text(text) => serde_json::from_str(text),
        Inbound::Binary(bytes) => {
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .take(limit.saturating_add(1))
                .read_to_end(&mut json)
                .map_err(|e| crate::transport::ws_error("gzip frame", e))?;
            if u64::try_from(json.len()).unwrap_or(u64::MAX) > limit {
                return Err(Error::TooLarge {
                    what: "an inflated WebSocket frame".to_owned(),
                    limit,
                });
            }
            serde_json::from_slice(&json)
        }
        Inbound::Control => return Ok(None),
    };
    parsed
        .map(Some)
        .map_err(|e| Error::Protocol(format!("malformed WebSocket frame: {e}")))
}

/// The verdict on the first frame of a new socket, which must be `auth_success` (3.2).
pub(crate) fn authenticated(first: Option<ServerFrame>) -> Result<()> {
    match first {
        Some(f) if f.kind == "auth_success" => Ok(()),
        Some(f) if f.kind == "auth_error" => Err(Error::Auth {
            code: ErrorCode::parse("AUTH_ERROR"),
            message: f.message.unwrap_or_default(),
        }),
        other => Err(Error::Protocol(format!(
            "expected auth_success as the first WebSocket frame, got {:?}",
            other.map(|f| f.kind)
        ))),
    }
}

/// Reconnect delay after `attempt` failed attempts: none for the first retry (a dropped
/// socket often reconnects at once), then 1 s × 2^(attempt − 1), at most 30 s, plus up to
/// 25 % random jitter.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let Some(exponent) = attempt.checked_sub(1) else {
        return Duration::ZERO;
    };
    let base = RECONNECT_BASE
        .saturating_mul(1u32 << exponent.min(16))
        .min(RECONNECT_MAX);
    let jitter_ms = rand::random_range(0..=base.as_millis() / 4);
    base + Duration::from_millis(u64::try_from(jitter_ms).unwrap_or(0))
}

/// First reconnect delay after the immediate retry.
const RECONNECT_BASE: Duration = Duration::from_millis(1000);
/// Longest reconnect delay.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// A subscriber that records what it is handed, as a stream would receive it.
    #[derive(Clone, Default)]
    struct Recorder {
        events: Rc<RefCell<Vec<Incoming>>>,
        gone: Rc<RefCell<bool>>,
    }

    impl Subscriber for Recorder {
        fn deliver(&self, event: Incoming) -> bool {
            self.events.borrow_mut().push(event);
            !*self.gone.borrow()
        }

        fn is_gone(&self) -> bool {
            *self.gone.borrow()
        }
    }

    impl Recorder {
        /// What arrived since the last call, in a short form.
        fn take(&self) -> Vec<String> {
            self.events
                .borrow_mut()
                .drain(..)
                .map(|event| match event {
                    Incoming::Frame(frame) => {
                        let seqs: Vec<i64> = frame
                            .rows
                            .iter()
                            .flatten()
                            .filter_map(crate::live::seq_of)
                            .collect();
                        format!("{} {seqs:?}", frame.kind)
                    }
                    Incoming::Disconnected(reason) => format!("disconnected: {reason}"),
                    Incoming::Resumed(from) => format!("resumed from {from:?}"),
                    Incoming::Closed(reason) => format!("closed: {reason}"),
                })
                .collect()
        }
    }

    fn subscribe(id: &str, options: serde_json::Value, events: &Recorder) -> Command<Recorder> {
        Command::Subscribe {
            id: id.to_owned(),
            sql: "SELECT * FROM app.messages".to_owned(),
            options: Some(options),
            events: events.clone(),
            resync: false,
        }
    }

    fn insert(id: &str, seq: i64) -> String {
        format!(
            r#"{{"type":"change","subscription_id":"{id}","change_type":"insert","rows":[{{"id":"{seq}","_seq":"{seq}"}}]}}"#
        )
    }

    /// A whole connection's life with no socket: subscribe, rows in, a lost socket, the
    /// resubscription from the resume point, replays dropped, the end.
    #[test]
    fn frames_in_events_out_through_a_reconnect() {
        let mut protocol = Protocol::<Recorder>::new(1 << 20, true);
        let (a, b) = (Recorder::default(), Recorder::default());
        let sent = protocol.command(subscribe("a", serde_json::json!({"last_rows": 5}), &a));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&sent).unwrap(),
            serde_json::json!({"type": "subscribe", "subscription":
                {"id": "a", "sql": "SELECT * FROM app.messages", "options": {"last_rows": 5}}})
        );
        protocol.command(subscribe("b", serde_json::json!({}), &b));
        assert_eq!(protocol.len(), 2);

        protocol
            .receive(Inbound::Text(
                r#"{"type":"initial_data_batch","subscription_id":"a","rows":[{"_seq":"3"},{"_seq":"5"}]}"#,
            ))
            .unwrap();
        protocol.receive(Inbound::Text(&insert("a", 7))).unwrap();
        // The server may prefix the id (3.11): a unique suffix routes it.
        protocol
            .receive(Inbound::Text(&insert("user-1-b", 4)))
            .unwrap();
        assert_eq!(a.take(), ["initial_data_batch [3, 5]", "change [7]"]);
        assert_eq!(b.take(), ["change [4]"]);

        protocol.lost("read failed");
        assert!(protocol.wanted(false));
        let again: Vec<serde_json::Value> = protocol
            .resubscribe()
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        let options_of = |id: &str| {
            again
                .iter()
                .find(|m| m["subscription"]["id"] == id)
                .map(|m| m["subscription"]["options"].clone())
        };
        // Resumed after the largest `_seq` received; `last_rows` would replay older rows.
        assert_eq!(options_of("a"), Some(serde_json::json!({"from": 7})));
        assert_eq!(options_of("b"), Some(serde_json::json!({"from": 4})));
        assert_eq!(
            a.take(),
            ["disconnected: read failed", "resumed from Some(7)"]
        );

        // Rows at or below the resume point are replays: dropped, and a change left empty is
        // not delivered at all.
        protocol.receive(Inbound::Text(&insert("a", 6))).unwrap();
        protocol.receive(Inbound::Text(&insert("a", 8))).unwrap();
        assert_eq!(a.take(), ["change [8]"]);

        protocol.close("client dropped");
        assert_eq!(a.take(), ["closed: client dropped"]);
        assert_eq!(protocol.len(), 0);
    }

    #[test]
    fn unreadable_frames_give_the_socket_up_and_unknown_ids_are_ignored() {
        let mut protocol = Protocol::<Recorder>::new(1 << 20, true);
        let a = Recorder::default();
        protocol.command(subscribe("a", serde_json::json!({}), &a));
        let lost = protocol.receive(Inbound::Text("{not json")).unwrap_err();
        assert!(lost.0.starts_with("unreadable frame"), "{lost:?}");
        assert!(protocol.receive(Inbound::Binary(&[1, 2, 3])).is_err());
        protocol.receive(Inbound::Text(&insert("zzz", 1))).unwrap();
        protocol.receive(Inbound::Control).unwrap();
        assert!(a.take().is_empty());

        // Unsubscribing forgets the subscription: its frames go nowhere.
        let sent = protocol.command(Command::Unsubscribe { id: "a".into() });
        assert_eq!(sent, r#"{"subscription_id":"a","type":"unsubscribe"}"#);
        protocol.receive(Inbound::Text(&insert("a", 2))).unwrap();
        assert!(a.take().is_empty());
    }

    #[test]
    fn subscribers_that_are_gone_are_not_reconnected_for() {
        let mut protocol = Protocol::<Recorder>::new(1 << 20, true);
        let a = Recorder::default();
        protocol.command(subscribe("a", serde_json::json!({}), &a));
        assert!(protocol.wanted(false));
        *a.gone.borrow_mut() = true;
        assert!(protocol.wanted(true), "new subscriptions can still come");
        assert!(!protocol.wanted(false));
        assert_eq!(protocol.len(), 0);
    }

    #[test]
    fn silence_for_a_whole_period_is_half_open_only_where_pongs_prove_life() {
        let mut native = Protocol::<Recorder>::new(1 << 20, true);
        assert_eq!(native.tick(), Tick::Ping);
        native.receive(Inbound::Control).unwrap();
        assert_eq!(native.tick(), Tick::Ping);
        assert_eq!(native.tick(), Tick::HalfOpen);
        // A new socket starts heard.
        native.resubscribe();
        assert_eq!(native.tick(), Tick::Ping);

        let mut page = Protocol::<Recorder>::new(1 << 20, false);
        for _ in 0..5 {
            assert_eq!(page.tick(), Tick::Ping);
        }
    }

    #[test]
    fn backoff_starts_at_once_then_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(0), Duration::ZERO);
        for (attempt, base) in [(1, 1), (2, 2), (3, 4), (6, 30), (40, 30)] {
            let delay = backoff(attempt);
            let base = Duration::from_secs(base);
            assert!(
                delay >= base && delay <= base + base / 4,
                "{attempt}: {delay:?}"
            );
        }
    }

    #[test]
    fn the_first_frame_must_be_auth_success() {
        let frame = |json: &str| serde_json::from_str::<ServerFrame>(json).ok();
        authenticated(frame(r#"{"type":"auth_success"}"#)).unwrap();
        assert!(matches!(
            authenticated(frame(r#"{"type":"auth_error","message":"bad token"}"#)),
            Err(Error::Auth { message, .. }) if message == "bad token"
        ));
        assert!(matches!(
            authenticated(frame(r#"{"type":"pong"}"#)),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(authenticated(None), Err(Error::Protocol(_))));
    }

    #[test]
    fn binary_frames_are_inflated_within_the_limit() {
        use std::io::Write;
        let json = format!(
            r#"{{"type":"initial_data_batch","subscription_id":"s","rows":[{{"t":"{}"}}]}}"#,
            "x".repeat(600)
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(json.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        assert!(bytes.len() < json.len());
        let frame = decode_frame(Inbound::Binary(&bytes), 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(frame.kind, "initial_data_batch");
        assert_eq!(frame.rows.unwrap()[0].get("t").unwrap().get().len(), 602);
        assert!(decode_frame(Inbound::Binary(&[1, 2, 3]), 1 << 20).is_err());
        assert!(decode_frame(Inbound::Control, 1 << 20).unwrap().is_none());
        // Inflated beyond the limit: refused, not truncated.
        assert!(matches!(
            decode_frame(Inbound::Binary(&bytes), 100),
            Err(Error::TooLarge { limit: 100, .. })
        ));
    }

    #[test]
    fn next_batch_messages_have_the_known_shape() {
        let mut protocol = Protocol::<Recorder>::new(1 << 20, true);
        let text = protocol.command(Command::NextBatch {
            id: "s".into(),
            last_seq_id: Some(7),
        });
        assert_eq!(
            text,
            r#"{"last_seq_id":7,"subscription_id":"s","type":"next_batch"}"#
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_config(128)
        }

        fn gzip(bytes: &[u8]) -> Vec<u8> {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(bytes).unwrap();
            gz.finish().unwrap()
        }

        proptest! {
            #![proptest_config(config())]

            /// Any text or binary message, and any gzip'd bytes: a frame or an error, never a
            /// panic, and never more than the limit inflated.
            #[test]
            fn arbitrary_messages_never_panic(text in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = decode_frame(Inbound::Text(&text), 1 << 16);
                let _ = decode_frame(Inbound::Binary(&bytes), 1 << 16);
                let _ = decode_frame(Inbound::Binary(&gzip(&bytes)), 1 << 16);
                let _ = decode_frame(Inbound::Binary(&gzip(text.as_bytes())), 16);
            }

            /// A change frame, as text or gzip'd, decodes with its id and rows intact.
            #[test]
            fn change_frames_round_trip(
                id in "[a-z0-9_]{1,16}",
                ids in prop::collection::vec(any::<i64>(), 0..10),
                compress in any::<bool>(),
            ) {
                let rows: Vec<String> = ids.iter().map(|i| format!(r#"{{"id":"{i}","_seq":"1"}}"#)).collect();
                let json = format!(
                    r#"{{"type":"change","subscription_id":"{id}","change_type":"insert","rows":[{}]}}"#,
                    rows.join(",")
                );
                let zipped = gzip(json.as_bytes());
                let message = if compress { Inbound::Binary(&zipped) } else { Inbound::Text(&json) };
                let frame = decode_frame(message, 1 << 20).unwrap().unwrap();
                prop_assert_eq!(frame.kind.as_str(), "change");
                prop_assert_eq!(frame.subscription_id.as_deref(), Some(id.as_str()));
                let decoded: Vec<String> = frame
                    .rows
                    .unwrap_or_default()
                    .iter()
                    .map(|r| r.get("id").unwrap().get().trim_matches('"').to_owned())
                    .collect();
                prop_assert_eq!(decoded, ids.iter().map(i64::to_string).collect::<Vec<_>>());
            }
        }
    }
}
