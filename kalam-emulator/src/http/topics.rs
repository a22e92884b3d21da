//! `POST /v1/api/topics/consume` and `POST /v1/api/topics/ack` (protocol 5.3, 5.4).

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;

use super::{App, auth_failure, json_value, text};
use crate::role::Role;
use crate::topics::Start;

#[derive(Debug, Deserialize)]
struct ConsumeBody {
    topic_id: String,
    group_id: String,
    #[serde(default)]
    start: Option<StartSpec>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    partition_id: Option<u32>,
    /// Accepted and ignored: 0.4.3 answers at once.
    #[serde(default)]
    #[allow(dead_code)]
    timeout_seconds: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct AckBody {
    topic_id: String,
    group_id: String,
    #[serde(default)]
    partition_id: Option<u32>,
    upto_offset: u64,
}

/// `"Latest"` / `"Earliest"` (any case) or `{"Offset": n}` / `{"offset": n}`.
#[derive(Debug)]
struct StartSpec(Start);

impl<'de> Deserialize<'de> for StartSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        let start = match &v {
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("latest") => Start::Latest,
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("earliest") => Start::Earliest,
            serde_json::Value::Object(m) if m.len() == 1 => {
                let n = m
                    .get("Offset")
                    .or_else(|| m.get("offset"))
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| D::Error::custom(format!("invalid start position: {v}")))?;
                Start::Offset(n)
            }
            _ => {
                return Err(D::Error::custom(format!(
                    "unknown variant {v}, expected one of `Latest`, `Earliest`, `Offset`"
                )));
            }
        };
        Ok(StartSpec(start))
    }
}

fn error(status: StatusCode, message: &str, code: &str) -> Response {
    json_value(status, &serde_json::json!({"error": message, "code": code}))
}

/// Bearer and role check shared by both endpoints.
fn authorize(app: &App, headers: &HeaderMap, started: Instant) -> Result<(), Box<Response>> {
    let (_, role) = app
        .bearer(headers)
        .map_err(|f| Box::new(auth_failure(f, started)))?;
    if !matches!(role, Role::Service | Role::Dba | Role::System) {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "Topic consumption requires service, dba, or system role",
            "FORBIDDEN",
        )));
    }
    Ok(())
}

async fn parse<T: serde::de::DeserializeOwned>(app: &App, body: Body) -> Result<T, Box<Response>> {
    let bytes = axum::body::to_bytes(body, app.settings.max_body_bytes)
        .await
        .map_err(|_| {
            Box::new(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Json payload size is bigger than allowed".into(),
            ))
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Box::new(text(
            StatusCode::BAD_REQUEST,
            format!("Json deserialize error: {e}"),
        ))
    })
}

/// `(namespace, name)` of an existing topic, else the 404 answer.
fn topic_of(app: &App, topic_id: &str) -> Result<(String, String), Box<Response>> {
    let st = app.engine.store.read();
    topic_id
        .split_once('.')
        .filter(|(ns, t)| st.catalog.topic(ns, t).is_some())
        .map(|(ns, t)| (ns.to_owned(), t.to_owned()))
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::NOT_FOUND,
                &format!("Topic '{topic_id}' does not exist"),
                "NOT_FOUND",
            ))
        })
}

pub(super) async fn consume(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    if let Err(r) = authorize(&app, &headers, started) {
        return *r;
    }
    let req: ConsumeBody = match parse(&app, body).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (ns, name) = match topic_of(&app, &req.topic_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let partition = req.partition_id.unwrap_or(0);
    let limit = req.limit.unwrap_or(100);
    let fetched = {
        let st = app.engine.store.read();
        app.engine.store.topics.fetch(
            &st.catalog,
            (&ns, &name),
            &req.group_id,
            partition,
            req.start.map_or(Start::Latest, |s| s.0),
            limit,
        )
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let messages: Vec<serde_json::Value> = fetched
        .messages
        .iter()
        .map(|m| {
            let mut o = serde_json::json!({
                "topic_id": req.topic_id,
                "partition_id": partition,
                "offset": m.offset,
                "payload": b64.encode(&m.payload),
                "key": m.key,
                "timestamp_ms": m.timestamp_ms,
                "op": m.op.as_str(),
            });
            if let (Some(u), Some(map)) = (&m.user, o.as_object_mut()) {
                map.insert("user".into(), serde_json::Value::String(u.clone()));
            }
            o
        })
        .collect();
    let has_more = messages.len() as u64 == limit;
    json_value(
        StatusCode::OK,
        &serde_json::json!({
            "messages": messages,
            "next_offset": fetched.next_offset,
            "has_more": has_more,
        }),
    )
}

pub(super) async fn ack(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    if let Err(r) = authorize(&app, &headers, started) {
        return *r;
    }
    let req: AckBody = match parse(&app, body).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let (ns, name) = match topic_of(&app, &req.topic_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    app.engine.store.topics.ack(
        (&ns, &name),
        &req.group_id,
        req.partition_id.unwrap_or(0),
        req.upto_offset,
    );
    json_value(
        StatusCode::OK,
        &serde_json::json!({"success": true, "acknowledged_offset": req.upto_offset}),
    )
}
