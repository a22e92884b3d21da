//! The loopback HTTP test client shared by `tests/http.rs` and `tests/topics_files.rs`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kalam_emulator::Emulator;
use reqwest::multipart::Form;
use serde_json::{Value, json};

/// A plain reqwest client bound to one emulator.
pub(crate) struct Client {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
}

/// A response: status, headers, raw bytes, and the body parsed as JSON (or the text as a JSON
/// string when it is not JSON).
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) bytes: Vec<u8>,
    pub(crate) body: Value,
}

impl Client {
    pub(crate) fn new(emu: &Emulator) -> Client {
        Client {
            base: emu.url(),
            http: reqwest::Client::builder().build().unwrap(),
        }
    }

    /// Logs in and returns the access token.
    pub(crate) async fn login(&self, user: &str, pw: &str) -> String {
        let r = self
            .http
            .post(format!("{}/v1/api/auth/login", self.base))
            .json(&json!({"user": user, "password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {user}");
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Resp {
            status,
            headers,
            bytes,
            body,
        }
    }

    /// `POST /v1/api/sql` with a JSON body.
    pub(crate) async fn sql_with(&self, tok: &str, body: Value) -> Resp {
        self.send(
            self.http
                .post(format!("{}/v1/api/sql", self.base))
                .bearer_auth(tok)
                .json(&body),
        )
        .await
    }

    pub(crate) async fn sql(&self, tok: &str, sql: &str) -> Resp {
        self.sql_with(tok, json!({ "sql": sql })).await
    }

    /// Runs `sql` and asserts a 200 answer.
    pub(crate) async fn ok(&self, tok: &str, sql: &str) -> Value {
        let r = self.sql(tok, sql).await;
        assert_eq!(r.status, 200, "{sql}: {}", r.body);
        r.body
    }

    /// The rows of the first result of `sql` (asserting a 200 answer).
    pub(crate) async fn rows(&self, tok: &str, sql: &str) -> Value {
        self.ok(tok, sql).await["results"][0]["rows"].clone()
    }

    pub(crate) async fn post(&self, tok: Option<&str>, path: &str, body: Value) -> Resp {
        let mut rb = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = tok {
            rb = rb.bearer_auth(t);
        }
        self.send(rb).await
    }

    pub(crate) async fn get(&self, tok: Option<&str>, path: &str) -> Resp {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = tok {
            rb = rb.bearer_auth(t);
        }
        self.send(rb).await
    }

    pub(crate) async fn multipart(&self, tok: &str, form: Form) -> Resp {
        self.send(
            self.http
                .post(format!("{}/v1/api/sql", self.base))
                .bearer_auth(tok)
                .multipart(form),
        )
        .await
    }

    pub(crate) async fn consume(&self, tok: &str, body: Value) -> Resp {
        self.post(Some(tok), "/v1/api/topics/consume", body).await
    }

    /// Acks and asserts a 200 answer; returns its body.
    pub(crate) async fn ack(
        &self,
        tok: &str,
        topic: &str,
        group: &str,
        partition: u32,
        upto: u64,
    ) -> Value {
        let r = self
            .post(
                Some(tok),
                "/v1/api/topics/ack",
                json!({"topic_id": topic, "group_id": group, "partition_id": partition,
                       "upto_offset": upto}),
            )
            .await;
        assert_eq!(r.status, 200, "ack: {}", r.body);
        r.body
    }
}

/// Checks `took` (a non-negative number) and removes it, so bodies compare exactly.
pub(crate) fn strip_took(mut v: Value) -> Value {
    let took = v.as_object_mut().and_then(|o| o.remove("took"));
    assert!(
        took.as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|t| t >= 0.0),
        "took: {took:?}"
    );
    v
}
