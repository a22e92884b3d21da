//! Client → server messages (protocol 3.4) and the server → client frames (3.5).
//!
//! The client messages are parsed with serde exactly as the server does, so a frame that does not
//! parse yields the server's own error text (`unknown variant …`, ``missing field `protocol` ``,
//! `invalid type: string "…", expected i64`) for the 1011 close reason.

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// One client message, tagged by `type`. The variant order is the server's: it shows in the
/// `unknown variant` error text.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClientMessage {
    /// `{"type":"authenticate","method":"jwt","token":…,"protocol":{…}}`
    Authenticate {
        #[allow(dead_code)]
        method: AuthMethod,
        token: String,
        protocol: ProtocolOptions,
    },
    /// `{"type":"subscribe","subscription":{…}}`
    Subscribe { subscription: SubscriptionRequest },
    /// `{"type":"next_batch","subscription_id":…,"last_seq_id":…}`
    NextBatch {
        subscription_id: String,
        #[serde(default)]
        last_seq_id: Option<i64>,
    },
    /// `{"type":"unsubscribe","subscription_id":…}`
    Unsubscribe { subscription_id: String },
    /// `{"type":"ping"}`
    Ping,
}

/// `method` of `authenticate`: only JWTs go over the socket.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthMethod {
    /// A bearer JWT.
    Jwt,
}

/// The negotiated protocol (both fields required, no serde default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct ProtocolOptions {
    pub(crate) serialization: Serialization,
    pub(crate) compression: Compression,
}

/// Frame serialization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Serialization {
    /// JSON text.
    Json,
    /// MessagePack maps.
    Msgpack,
}

/// Announced compression (0.4.3 ignores it; only `compress=false` turns gzip off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Compression {
    /// No compression announced.
    None,
    /// Gzip announced.
    Gzip,
}

impl ProtocolOptions {
    /// The `protocol` object of `auth_success`.
    pub(crate) fn to_json(self) -> Value {
        json!({
            "serialization": match self.serialization {
                Serialization::Json => "json",
                Serialization::Msgpack => "msgpack",
            },
            "compression": match self.compression {
                Compression::None => "none",
                Compression::Gzip => "gzip",
            },
        })
    }
}

/// `subscription` of a `subscribe` message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SubscriptionRequest {
    pub(crate) id: String,
    pub(crate) sql: String,
    /// Absent or `null`: no initial data; an object: initial data.
    #[serde(default)]
    pub(crate) options: Option<SubscriptionOptions>,
}

/// `options` of a subscription (unknown keys are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SubscriptionOptions {
    #[serde(default)]
    pub(crate) batch_size: Option<usize>,
    #[serde(default)]
    pub(crate) last_rows: Option<u32>,
    #[serde(default, alias = "from_seq_id")]
    pub(crate) from: Option<i64>,
    /// Client-side only; accepted and ignored.
    #[serde(default, alias = "autoFetchBatches")]
    #[allow(dead_code)]
    pub(crate) auto_fetch_batches: Option<bool>,
}

/// `batch_control` of `subscription_ack` and `initial_data_batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchControl {
    pub(crate) batch_num: u32,
    pub(crate) has_more: bool,
    pub(crate) last_seq_id: Option<i64>,
}

impl BatchControl {
    /// The control of a subscription without initial data.
    pub(crate) const READY_EMPTY: BatchControl = BatchControl {
        batch_num: 0,
        has_more: false,
        last_seq_id: None,
    };

    /// `loading` for batch 0 with more to come, `loading_batch` for later ones, else `ready`.
    fn status(self) -> &'static str {
        match (self.has_more, self.batch_num) {
            (false, _) => "ready",
            (true, 0) => "loading",
            (true, _) => "loading_batch",
        }
    }

    pub(crate) fn to_json(self) -> Value {
        json!({
            "batch_num": self.batch_num,
            "has_more": self.has_more,
            "status": self.status(),
            "last_seq_id": self.last_seq_id,
        })
    }
}

/// `{"type":"auth_success",…}`
pub(crate) fn auth_success(user: &str, role: &str, protocol: ProtocolOptions) -> Value {
    json!({"type": "auth_success", "user": user, "role": role, "protocol": protocol.to_json()})
}

/// `{"type":"auth_error","message":…}`
pub(crate) fn auth_error(message: &str) -> Value {
    json!({"type": "auth_error", "message": message})
}

/// `{"type":"error",…}`
pub(crate) fn error(subscription_id: &str, code: &str, message: &str) -> Value {
    json!({"type": "error", "subscription_id": subscription_id, "code": code, "message": message})
}

/// `{"type":"subscription_ack",…}` (`total_rows` is always 0, as in 0.4.3).
pub(crate) fn ack(subscription_id: &str, bc: BatchControl, schema: Value) -> Value {
    json!({
        "type": "subscription_ack",
        "subscription_id": subscription_id,
        "total_rows": 0,
        "batch_control": bc.to_json(),
        "schema": schema,
    })
}

/// `{"type":"initial_data_batch",…}`
pub(crate) fn batch(
    subscription_id: &str,
    rows: Vec<Map<String, Value>>,
    bc: BatchControl,
) -> Value {
    json!({
        "type": "initial_data_batch",
        "subscription_id": subscription_id,
        "rows": rows,
        "batch_control": bc.to_json(),
    })
}

/// `{"type":"change",…}`: `rows` and `old_values` are left out when `None`.
pub(crate) fn change(
    subscription_id: &str,
    change_type: &str,
    rows: Option<Map<String, Value>>,
    old_values: Option<Map<String, Value>>,
) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "change".into());
    m.insert("subscription_id".into(), subscription_id.into());
    m.insert("change_type".into(), change_type.into());
    if let Some(r) = rows {
        m.insert("rows".into(), Value::Array(vec![Value::Object(r)]));
    }
    if let Some(o) = old_values {
        m.insert("old_values".into(), Value::Array(vec![Value::Object(o)]));
    }
    Value::Object(m)
}

/// Parses a client text frame; the error text is serde's, as the server reports it.
pub(crate) fn parse_text(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Parses a decoded MessagePack frame.
pub(crate) fn parse_value(v: Value) -> Result<ClientMessage, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_carry_serde_text() {
        assert_eq!(
            parse_text("hello").unwrap_err(),
            "expected value at line 1 column 1"
        );
        let e = parse_text(r#"{"type":"bogus"}"#).unwrap_err();
        assert!(
            e.starts_with(
                "unknown variant `bogus`, expected one of `authenticate`, `subscribe`, `next_batch`, `unsubscribe`, `ping`"
            ),
            "{e}"
        );
        let e = parse_text(r#"{"type":"authenticate","method":"jwt","token":"x"}"#).unwrap_err();
        assert_eq!(e, "missing field `protocol`");
        let e = parse_text(
            r#"{"type":"subscribe","subscription":{"id":"s","sql":"x","options":{"from":"12"}}}"#,
        )
        .unwrap_err();
        assert!(
            e.starts_with("invalid type: string \"12\", expected i64"),
            "{e}"
        );
    }

    #[test]
    fn options_forms() {
        let m = parse_text(
            r#"{"type":"subscribe","subscription":{"id":"s","sql":"x","options":null}}"#,
        )
        .unwrap();
        assert!(
            matches!(m, ClientMessage::Subscribe { subscription } if subscription.options.is_none())
        );
        let m = parse_text(
            r#"{"type":"subscribe","subscription":{"id":"s","sql":"x","options":{"from_seq_id":5,"whatever":1}}}"#,
        )
        .unwrap();
        assert!(
            matches!(m, ClientMessage::Subscribe { subscription } if subscription.options.as_ref().and_then(|o| o.from) == Some(5))
        );
    }

    #[test]
    fn batch_status() {
        let bc = |n, more| BatchControl {
            batch_num: n,
            has_more: more,
            last_seq_id: None,
        };
        assert_eq!(bc(0, true).status(), "loading");
        assert_eq!(bc(1, true).status(), "loading_batch");
        assert_eq!(bc(3, false).status(), "ready");
    }
}
