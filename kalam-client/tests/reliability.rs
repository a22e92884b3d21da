//! Reliability and security: bad input from the caller and from the server, faults, secrets.
//! Each test is one line of `RELIABILITY.md` at the repository root.
//!
//! Server-backed tests go through the `kalam-tests` harness (the emulator, or a real KalamDB
//! with `KALAMDB_SERVER_URL`); tests named `emulator_…` need its fault controls. Inputs no
//! KalamDB sends (broken JSON, endless bodies, gzip bombs) come from [`Scripted`], a fake
//! server that answers every HTTP request with one fixed reply.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kalam_client::live::{LiveChange, LoadState};
use kalam_client::{
    AuthProvider, Error, ErrorCode, ErrorKind, KalamClient, KalamRow, QueryParam, live,
};
use kalam_tests::server_or_skip;
use support::{Capture, admin_client, schema_client};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What [`Scripted`] answers.
#[derive(Clone)]
enum Reply {
    /// These bytes, then the connection closes.
    Bytes(Arc<[u8]>),
    /// A chunked `200` whose body never ends: `chunk` again and again, `pause` apart.
    Endless { chunk: Arc<[u8]>, pause: Duration },
    /// No answer at all; the connection stays open.
    Silent,
}

/// A fake HTTP server for what no KalamDB sends: reads each request head and answers with its
/// [`Reply`], counting the requests it saw.
struct Scripted {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(reply: Reply) -> Scripted {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let seen = seen.clone();
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                    match reply {
                        Reply::Silent => {
                            let _ = sock.read(&mut buf).await;
                            return;
                        }
                        Reply::Bytes(bytes) => {
                            let _ = sock.write_all(&bytes).await;
                        }
                        Reply::Endless { chunk, pause } => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                        transfer-encoding: chunked\r\n\r\n";
                            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                            framed.extend_from_slice(&chunk);
                            framed.extend_from_slice(b"\r\n");
                            if sock.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            while sock.write_all(&framed).await.is_ok() {
                                tokio::time::sleep(pause).await;
                            }
                        }
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        Scripted { url, requests }
    }

    /// A server that answers every request with `status`, the given headers and `body`.
    async fn http(status: u16, headers: &str, body: &[u8]) -> Scripted {
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}connection: close\r\n\r\n"
        );
        Scripted::start(Reply::Bytes([head.as_bytes(), body].concat().into())).await
    }

    /// A server that answers every request with `status` and a JSON `body`.
    async fn json(status: u16, body: &str) -> Scripted {
        let length = format!("content-length: {}\r\n", body.len());
        Scripted::http(status, &length, body.as_bytes()).await
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn builder(&self) -> kalam_client::KalamClientBuilder {
        KalamClient::builder()
            .base_url(&self.url)
            .jwt_token("x.y.z")
            .max_retries(0)
            .timeout(Duration::from_secs(5))
    }

    fn client(&self) -> KalamClient {
        self.builder().build().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input from the caller
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_base_urls_are_config_errors_naming_the_url() {
    for bad in [
        "",
        "   ",
        "localhost:2900",
        "http://",
        "http://[::1",
        "http://exa mple.com",
        "ftp://example.com",
        "ws://example.com",
        "http://example.com/?a=1",
        "http://example.com/#top",
    ] {
        match KalamClient::builder().base_url(bad).build() {
            Err(Error::Config(message)) => {
                assert!(!message.is_empty(), "{bad:?}");
            }
            other => panic!("{bad:?}: expected Error::Config, got {other:?}"),
        }
    }
    assert!(matches!(
        KalamClient::builder().build(),
        Err(Error::Config(m)) if m.contains("base_url")
    ));
}

#[tokio::test]
async fn an_empty_user_name_is_refused_before_anything_is_sent() {
    let server = Scripted::json(200, "{}").await;
    for (user, password) in [("", "secret"), ("", "")] {
        let client = KalamClient::builder()
            .base_url(&server.url)
            .auth(AuthProvider::basic_auth(user, password))
            .build()
            .unwrap();
        match kalam_client::query_as::<()>("SELECT 1")
            .execute(&client)
            .await
        {
            Err(Error::Auth { code, message }) => {
                assert_eq!(code, ErrorCode::InvalidCredentials);
                assert!(message.contains("user name is empty"), "{message}");
            }
            other => panic!("{user:?}: expected Error::Auth, got {other:?}"),
        }
        let anonymous = KalamClient::builder()
            .base_url(&server.url)
            .build()
            .unwrap();
        assert!(matches!(
            anonymous.login(user, password).await,
            Err(Error::Auth { .. })
        ));
    }
    assert_eq!(server.requests(), 0, "nothing reaches the server");
}

#[tokio::test]
async fn an_empty_password_is_refused_by_the_server_as_an_auth_error() {
    let server = server_or_skip!();
    let alice = server.create_user("alice", "user").await;
    let client = KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(alice.id.clone(), ""))
        .build()
        .unwrap();
    let err = kalam_client::query_as::<()>("SELECT 1")
        .execute(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err:?}");
}

#[tokio::test]
async fn an_unterminated_string_is_a_typed_sql_error() {
    let server = server_or_skip!();
    let client = admin_client(&server);
    for sql in ["SELECT 'abc", "SELECT 'it''s", "SELECT \"abc FROM x"] {
        let err = kalam_client::query_as::<()>(sql)
            .execute(&client)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSql, "{sql}: {err:?}");
        // The typed verbs (which may rewrite the query) report the same.
        let err = kalam_client::query_as::<(String,)>(sql)
            .fetch_all(&client)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSql, "{sql}: {err:?}");
    }
    // In a batch the server's statement splitter finds it first (protocol 1.10).
    let err = kalam_client::query_as::<()>("SELECT 'abc; SELECT 2")
        .execute(&client)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::BatchParseError), "{err:?}");
}

#[tokio::test]
async fn parameter_count_mismatches_are_refused_before_anything_is_sent() {
    let server = Scripted::json(200, "{}").await;
    let client = server.client();
    let cases: [(&str, usize, usize); 5] = [
        ("SELECT $1, $2", 1, 2),
        ("SELECT $1", 2, 1),
        ("SELECT 1", 1, 0),
        ("SELECT $3", 3, 3),
        ("SELECT $2 -- $9\n, '$5'", 1, 2),
    ];
    for (sql, bound, expected) in cases {
        let mut query = kalam_client::query_as::<()>(sql);
        for i in 0..bound {
            query = query.bind(i64::try_from(i).unwrap());
        }
        let result = query.execute(&client).await;
        if bound == expected {
            // `$3` with three values is fine: it reaches the fake server.
            assert!(
                !matches!(result, Err(Error::Param { .. })),
                "{sql}: {result:?}"
            );
            continue;
        }
        match result {
            Err(Error::Param { index, message }) => {
                // The first missing parameter, or the first one too many.
                assert_eq!(index, bound.min(expected) + 1, "{sql}");
                let placeholders = if expected == 0 {
                    "no `$n` placeholder".to_owned()
                } else {
                    format!("up to ${expected}")
                };
                assert!(
                    message.contains(&format!("{bound} parameter"))
                        && message.contains(&placeholders),
                    "{sql}: {message}"
                );
            }
            other => panic!("{sql}: expected Error::Param, got {other:?}"),
        }
    }
    assert_eq!(server.requests(), 1, "only the matching query was sent");
}

#[tokio::test]
async fn parameter_count_mismatches_are_typed_errors_on_every_path() {
    let server = server_or_skip!();
    let client = admin_client(&server);
    let too_few = kalam_client::query_as::<(i64, i64)>("SELECT $1, $2")
        .bind(1)
        .fetch_all(&client)
        .await;
    assert!(matches!(too_few, Err(Error::Param { .. })), "{too_few:?}");
    let too_many = client
        .execute_query("SELECT $1 AS a", Some(vec![1.into(), 2.into()]), None)
        .await;
    assert!(matches!(too_many, Err(Error::Param { .. })), "{too_many:?}");
    // A `$n` inside a string literal is text, not a placeholder.
    let (text,): (String,) = kalam_client::query_as("SELECT '$1 and $2' AS t")
        .fetch_one(&client)
        .await
        .unwrap();
    assert_eq!(text, "$1 and $2");
}

#[tokio::test]
async fn non_finite_floats_are_refused_before_anything_is_sent() {
    let server = Scripted::json(200, "{}").await;
    let client = server.client();
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = kalam_client::query_as::<(f64,)>("SELECT $1")
            .bind(value)
            .fetch_all(&client)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Param { index: 1, .. }), "{err:?}");
        let err = client
            .execute_query("SELECT $1", Some(vec![QueryParam::Float(value)]), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Param { index: 1, .. }), "{err:?}");
    }
    assert_eq!(server.requests(), 0);
}

#[derive(Debug, KalamRow, PartialEq)]
#[kalam(table = "support.messages")]
struct RoomMessage {
    id: i64,
    room: String,
    body: String,
}

/// Room names that a literal built by pasting text would confuse with `o'hara`.
const LOOKALIKE_ROOMS: [&str; 6] = [
    "o",
    "ohara",
    "o''hara",
    "O'HARA",
    "o'hara' OR '1'='1",
    "o\\'hara",
];

#[tokio::test]
async fn a_live_filter_hole_with_a_quote_matches_exactly_that_value() {
    let server = server_or_skip!();
    let client = schema_client(&server, &["support"]).await;
    let insert = |id: i64, room: &'static str| {
        let client = client.clone();
        async move {
            kalam_client::query!(
                "INSERT INTO support.messages (id, room, role, body) VALUES ($1, $2, 'user', $3)",
                id,
                room,
                format!("in {room}")
            )
            .execute(&client)
            .await
            .unwrap();
        }
    };
    insert(1, "o'hara").await;
    for (i, room) in (10..).zip(LOOKALIKE_ROOMS) {
        insert(i, room).await;
    }

    let name = "o'hara";
    let mut live = live!(
        client,
        RoomMessage,
        "SELECT id, room, body FROM support.messages WHERE room = {name}"
    )
    .await
    .unwrap();
    while live.state() != LoadState::Ready {
        tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("initial load")
            .unwrap()
            .unwrap();
    }
    assert_eq!(live.rows().map(|m| m.id).collect::<Vec<_>>(), [1]);

    // Changes: the look-alikes first, then one more `o'hara` row; the next change must be it.
    for (i, room) in (20..).zip(LOOKALIKE_ROOMS) {
        insert(i, room).await;
    }
    insert(2, "o'hara").await;
    let event = tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("a change")
        .unwrap()
        .unwrap();
    match event.change {
        LiveChange::Inserted(row) => assert_eq!(
            *row,
            RoomMessage {
                id: 2,
                room: "o'hara".into(),
                body: "in o'hara".into()
            }
        ),
        other => panic!("expected the o'hara insert, got {other:?}"),
    }
    // The live set equals a fresh SELECT with the value bound as a parameter.
    let fresh: Vec<i64> = kalam_client::query!(
        "SELECT id FROM support.messages WHERE room = $1 ORDER BY id",
        name
    )
    .fetch_all(&client)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.id)
    .collect();
    assert_eq!(fresh, [1, 2]);
    assert_eq!(live.rows().map(|m| m.id).collect::<Vec<_>>(), fresh);
    // And every look-alike row exists (so it could have been matched, and was not).
    let all: i64 = kalam_client::query_scalar!("SELECT COUNT(*) AS n FROM support.messages")
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(all, 2 + 2 * 6);
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

/// A full session, with every secret it handles: logins (failed and not), a password set and
/// changed by SQL (also in a failing statement), token refresh (accepted and refused), a live
/// subscription (the socket authenticates with the token) and a statement cut off by the
/// network. No secret may appear in the logs at any level, nor in any `Debug` or `Display`.
#[tokio::test]
async fn secrets_never_reach_logs_errors_or_debug_output() {
    let capture = Capture::install();
    let server = server_or_skip!();
    let admin = admin_client(&server);
    let user = format!("sec_{}", kalam_tests::unique_suffix());
    let first = format!("First_{}!", kalam_tests::unique_suffix());
    let second = format!("Second_{}!", kalam_tests::unique_suffix());
    let wrong = format!("Wrong_{}!", kalam_tests::unique_suffix());
    let mut shown: Vec<String> = Vec::new();

    let create = format!("CREATE USER '{user}' WITH PASSWORD '{first}' ROLE user");
    shown.push(format!(
        "{:?}",
        kalam_client::query_as::<()>(create.clone())
    ));
    kalam_client::query_as::<()>(create.clone())
        .execute(&admin)
        .await
        .unwrap();
    // Again: the server refuses it, and an admin gets the statement back in `details`.
    let err = kalam_client::query_as::<()>(create)
        .execute(&admin)
        .await
        .unwrap_err();
    shown.extend([format!("{err}"), format!("{err:?}")]);
    let alter = format!("ALTER USER '{user}' SET PASSWORD '{second}'");
    kalam_client::query_as::<()>(alter)
        .execute(&admin)
        .await
        .unwrap();

    // A failed login, through the provider and directly.
    let refused = KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(user.clone(), wrong.clone()))
        .build()
        .unwrap();
    shown.push(format!("{refused:?}"));
    let err = kalam_client::query_as::<()>("SELECT 1")
        .execute(&refused)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    shown.extend([format!("{err}"), format!("{err:?}")]);
    let err = refused.login(&user, &first).await.unwrap_err();
    shown.extend([format!("{err}"), format!("{err:?}")]);

    // A working session: SQL, a live subscription, a login and two refreshes.
    let builder = KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::basic_auth(user.clone(), second.clone()));
    shown.push(format!("{builder:?}"));
    let client = builder.build().unwrap();
    let me: String = kalam_client::query_as("SELECT CURRENT_USER()")
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(me, user);
    let ns = server.fresh_namespace("sec").await;
    server
        .admin_sql(&format!(
            "CREATE USER TABLE {ns}.notes (id BIGINT PRIMARY KEY)"
        ))
        .await;
    let mut events = client
        .live_events(&format!("SELECT * FROM {ns}.notes"))
        .await
        .unwrap();
    let first_event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the subscription is acknowledged");
    shown.push(format!("{first_event:?} {events:?}"));
    drop(events);
    let login = client.login(&user, &second).await.unwrap();
    shown.push(format!("{login:?}"));
    let refresh = login.refresh_token.clone().expect("a refresh token");
    let renewed = client.refresh_access_token(&refresh).await.unwrap();
    shown.push(format!("{renewed:?}"));
    // An access token is not a refresh token: refused, and not echoed.
    let err = client
        .refresh_access_token(&login.access_token)
        .await
        .unwrap_err();
    shown.extend([format!("{err}"), format!("{err:?}")]);

    // A statement with a password, cut off by the network.
    let hang_up = Scripted::start(Reply::Bytes(Arc::from(&[][..]))).await;
    let err = kalam_client::query_as::<()>(format!("ALTER USER '{user}' SET PASSWORD '{first}'"))
        .execute(&hang_up.client())
        .await
        .unwrap_err();
    shown.extend([format!("{err}"), format!("{err:?}")]);

    let logs = capture.finish();
    assert!(logs.contains("sending SQL"), "debug logs were captured");
    assert!(
        logs.contains("tungstenite"),
        "the `log` crate's records (tungstenite's frames at TRACE) were captured too"
    );
    assert!(
        logs.contains("PASSWORD '<redacted>'"),
        "statements are logged, redacted"
    );
    let secrets = [
        ("the first password", first.as_str()),
        ("the second password", second.as_str()),
        ("the wrong password", wrong.as_str()),
        ("the access token", login.access_token.as_str()),
        ("the refresh token", refresh.as_str()),
        ("the renewed access token", renewed.access_token.as_str()),
        (
            "the renewed refresh token",
            renewed.refresh_token.as_deref().unwrap_or("unused"),
        ),
    ];
    for (what, secret) in secrets {
        if let Some(at) = logs.find(secret) {
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!(
                "{what} leaked into the logs: {}",
                &logs[line_start..line_end].replace(secret, "<SECRET>")
            );
        }
        for text in &shown {
            assert!(!text.contains(secret), "{what} leaked into {text}");
        }
    }
    assert!(!logs.contains("eyJ"), "no JWT in the logs");
}

// ---------------------------------------------------------------------------------------------
// Bad input from the server (HTTP)
// ---------------------------------------------------------------------------------------------

/// A streamed SELECT answer (protocol 1.4) with columns `id BIGINT` (the key) and `n INT`,
/// and the given rows (JSON text of the `rows` array).
fn select_answer(rows: &str) -> String {
    format!(
        r#"{{"status":"success","results":[{{"schema":[{{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]}},{{"name":"n","data_type":"Int","index":1}}],"rows":{rows},"row_count":1}}],"took":0.1,"error":null}}"#
    )
}

async fn fetch_pairs(server: &Scripted) -> kalam_client::Result<Vec<(i64, Option<i32>)>> {
    kalam_client::query_as("SELECT id, n FROM app.t")
        .fetch_all(&server.client())
        .await
}

#[tokio::test]
async fn a_well_formed_scripted_answer_decodes() {
    // The baseline for the tests below: the same answer with good cells decodes.
    let server = Scripted::json(200, &select_answer(r#"[["7",1],["8",null]]"#)).await;
    assert_eq!(
        fetch_pairs(&server).await.unwrap(),
        [(7, Some(1)), (8, None)]
    );
}

#[tokio::test]
async fn malformed_json_answers_are_protocol_errors() {
    for body in [
        "{\"status\":\"success\",\"results\":[",
        "not json",
        "",
        "{\"status\":\"success\",\"results\":[{\"rows\":[[1,2]],}]}",
    ] {
        let server = Scripted::json(200, body).await;
        let err = fetch_pairs(&server).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{body:?}: {err:?}");
        let err = server
            .client()
            .execute_query("SELECT 1", None, None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{body:?}: {err:?}");
    }
}

#[tokio::test]
async fn cells_of_the_wrong_type_or_range_are_decode_errors_naming_the_column() {
    for (rows, column) in [
        (r#"[["7",true]]"#, "n"),
        (r#"[[true,1]]"#, "id"),
        (r#"[["seven",1]]"#, "id"),
        (r#"[[null,1]]"#, "id"),
        // BIGINT beyond i64, as a string and as a number; INT beyond i32.
        (r#"[["9223372036854775808",1]]"#, "id"),
        (r#"[[18446744073709551616,1]]"#, "id"),
        (r#"[["7",2147483648]]"#, "n"),
        (r#"[["7",1.5]]"#, "n"),
    ] {
        let server = Scripted::json(200, &select_answer(rows)).await;
        match fetch_pairs(&server).await {
            Err(Error::Decode { column: c, .. }) => assert_eq!(c, column, "{rows}"),
            other => panic!("{rows}: expected Error::Decode, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn invalid_utf8_in_an_answer_is_a_protocol_error() {
    let mut body = select_answer(r#"[["7",1]]"#).into_bytes();
    // A row whose text cell holds bytes that are not UTF-8.
    let text = br#"{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0,"flags":["pk"]},{"name":"t","data_type":"Text","index":1}],"rows":[["7","a"#;
    body.clear();
    body.extend_from_slice(text);
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#""]],"row_count":1}],"took":0.1,"error":null}"#);
    let length = format!("content-length: {}\r\n", body.len());
    let server = Scripted::http(200, &length, &body).await;
    let err = kalam_client::query_as::<(i64, String)>("SELECT id, t FROM app.t")
        .fetch_all(&server.client())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
}

#[tokio::test]
async fn an_announced_oversized_body_is_refused_before_it_is_read() {
    // 100 MiB announced; the server sends only the head, so reading it would hang.
    let server = Scripted::start(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 104857600\r\n\r\n{"
            .as_slice()
            .into(),
    ))
    .await;
    let client = server.builder().max_response_size(1 << 20).build().unwrap();
    let err = kalam_client::query_as::<(i64,)>("SELECT id FROM app.t")
        .fetch_all(&client)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[tokio::test]
async fn a_never_ending_body_stops_at_the_size_limit() {
    let server = Scripted::start(Reply::Endless {
        chunk: vec![b' '; 64 * 1024].into(),
        pause: Duration::ZERO,
    })
    .await;
    let client = server.builder().max_response_size(4 << 20).build().unwrap();
    let err = kalam_client::query_as::<()>("SELECT 1")
        .execute(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    // The untyped call is bounded the same way.
    let err = client
        .execute_query("SELECT 1", None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_never_ending_trickle_times_out() {
    let server = Scripted::start(Reply::Endless {
        chunk: b" ".as_slice().into(),
        pause: Duration::from_millis(20),
    })
    .await;
    let client = server
        .builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = kalam_client::query_as::<()>("SELECT 1")
        .execute(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn login_answers_are_bounded_and_checked() {
    // A login answer that is not JSON, then one that never ends.
    let server = Scripted::json(200, "{\"access_token\":").await;
    let client = KalamClient::builder()
        .base_url(&server.url)
        .build()
        .unwrap();
    let err = client.login("alice", "pw").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    let endless = Scripted::start(Reply::Endless {
        chunk: vec![b' '; 64 * 1024].into(),
        pause: Duration::ZERO,
    })
    .await;
    let client = KalamClient::builder()
        .base_url(&endless.url)
        .auth(AuthProvider::basic_auth("alice", "pw"))
        .max_response_size(1 << 20)
        .build()
        .unwrap();
    let err = kalam_client::query_as::<()>("SELECT 1")
        .execute(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Bad input from the server (WebSocket)
// ---------------------------------------------------------------------------------------------

/// What [`ScriptedWs`] sends after acknowledging the subscription (`{id}` in text frames is
/// replaced by the subscription's id).
#[derive(Clone)]
enum WsStep {
    Text(String),
    Binary(Vec<u8>),
    /// The head of a 100-byte text frame and 10 bytes of it, then the TCP connection closes.
    CutFrame,
}

/// A fake live-query server: accepts any WebSocket, authenticates it, acknowledges the first
/// subscription with an empty ready snapshot of one `id BIGINT` column, plays the script,
/// then keeps the socket open (answering pings). Counts the sockets it accepted.
struct ScriptedWs {
    url: String,
    sockets: Arc<AtomicUsize>,
}

impl ScriptedWs {
    async fn start(script: Vec<WsStep>) -> ScriptedWs {
        use futures_util::SinkExt as _;
        use tokio_tungstenite::tungstenite::Message;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sockets = Arc::new(AtomicUsize::new(0));
        let seen = sockets.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let auth = r#"{"type":"auth_success","user":"alice","role":"user"}"#;
                    if ws.send(Message::text(auth)).await.is_err() {
                        return;
                    }
                    let id = loop {
                        match ws.next().await {
                            Some(Ok(Message::Text(t))) => {
                                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                                if v["type"] == "subscribe" {
                                    break v["subscription"]["id"].as_str().unwrap().to_owned();
                                }
                            }
                            Some(Ok(_)) => {}
                            _ => return,
                        }
                    };
                    let ready =
                        r#"{"batch_num":0,"has_more":false,"status":"ready","last_seq_id":null}"#;
                    let ack = format!(
                        r#"{{"type":"subscription_ack","subscription_id":"{id}","total_rows":0,"batch_control":{ready},"schema":[{{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]}}]}}"#
                    );
                    let batch = format!(
                        r#"{{"type":"initial_data_batch","subscription_id":"{id}","rows":[],"batch_control":{ready}}}"#
                    );
                    for text in [ack, batch] {
                        if ws.send(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                    for step in script {
                        let sent = match step {
                            WsStep::Text(t) => ws.send(Message::text(t.replace("{id}", &id))).await,
                            WsStep::Binary(b) => ws.send(Message::binary(b)).await,
                            WsStep::CutFrame => {
                                let tcp = ws.get_mut();
                                let mut head = vec![0x81, 100];
                                head.extend_from_slice(b"{\"type\":\"c");
                                let _ = tcp.write_all(&head).await;
                                let _ = tcp.shutdown().await;
                                return;
                            }
                        };
                        if sent.is_err() {
                            return;
                        }
                    }
                    // Keep reading (tungstenite answers pings) until the client goes.
                    while let Some(Ok(_)) = ws.next().await {}
                });
            }
        });
        ScriptedWs { url, sockets }
    }

    fn client(&self, max_response_size: u64) -> KalamClient {
        KalamClient::builder()
            .base_url(&self.url)
            .jwt_token("x.y.z")
            .max_response_size(max_response_size)
            .build()
            .unwrap()
    }
}

/// Change frames for the id column: an insert of `id` with `_seq` = `seq`.
fn insert_frame(id: i64, seq: i64) -> WsStep {
    WsStep::Text(format!(
        r#"{{"type":"change","subscription_id":"{{id}}","change_type":"insert","rows":[{{"id":"{id}","_seq":"{seq}"}}]}}"#
    ))
}

/// The events after the initial load, up to and including the first one `stop` accepts.
async fn live_events_until(
    events: &mut kalam_client::live::LiveEvents,
    stop: impl Fn(&kalam_client::live::LiveEvent) -> bool,
) -> Vec<kalam_client::live::LiveEvent> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a live event within 10 s")
            .expect("the stream goes on");
        let done = stop(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn inserted_ids(events: &[kalam_client::live::LiveEvent]) -> Vec<i64> {
    use kalam_client::live::LiveEvent;
    events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Insert { rows } => Some(rows),
            _ => None,
        })
        .flatten()
        .map(|row| row.try_get::<i64>("id").unwrap())
        .collect()
}

#[tokio::test]
async fn unknown_frames_and_changes_for_unknown_subscriptions_are_ignored() {
    use kalam_client::live::LiveEvent;
    let server = ScriptedWs::start(vec![
        WsStep::Text(r#"{"type":"something_newer","subscription_id":"{id}","x":1}"#.into()),
        WsStep::Text(r#"{"type":"change","subscription_id":"{id}","change_type":"merge","rows":[]}"#.into()),
        WsStep::Text(
            r#"{"type":"change","subscription_id":"sub_nobody","change_type":"insert","rows":[{"id":"6","_seq":"5"}]}"#
                .into(),
        ),
        insert_frame(7, 10),
    ])
    .await;
    let client = server.client(1 << 20);
    let mut events = client.live_events("SELECT * FROM app.t").await.unwrap();
    let seen = live_events_until(&mut events, |e| matches!(e, LiveEvent::Insert { .. })).await;
    assert_eq!(inserted_ids(&seen), [7], "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, LiveEvent::Disconnected { .. })),
        "{seen:?}"
    );
    assert_eq!(server.sockets.load(Ordering::SeqCst), 1);
}

/// A live subscription to a server playing `script`: the reason of the first
/// `Disconnected` event.
async fn disconnect_reason(script: Vec<WsStep>, max_response_size: u64) -> String {
    use kalam_client::live::LiveEvent;
    let server = ScriptedWs::start(script).await;
    let client = server.client(max_response_size);
    let mut events = client.live_events("SELECT * FROM app.t").await.unwrap();
    let seen =
        live_events_until(&mut events, |e| matches!(e, LiveEvent::Disconnected { .. })).await;
    // Nothing before the disconnection was invented from the bad frame.
    assert_eq!(inserted_ids(&seen), [1], "{seen:?}");
    match seen.last() {
        Some(LiveEvent::Disconnected { reason }) => reason.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_frame_drops_the_socket_instead_of_a_change() {
    let reason = disconnect_reason(
        vec![
            insert_frame(1, 10),
            WsStep::Text(r#"{"type":"change","subscription_id":"{id}","rows":[{"id":"#.into()),
        ],
        1 << 20,
    )
    .await;
    assert!(reason.contains("unreadable frame"), "{reason}");
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_at_the_size_limit() {
    use std::io::Write as _;
    // 64 MiB of blanks compress to about 64 KiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let blanks = vec![b' '; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&blanks).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let reason = disconnect_reason(vec![insert_frame(1, 10), WsStep::Binary(bomb)], 1 << 20).await;
    assert!(reason.contains("larger than the maximum"), "{reason}");
}

#[tokio::test]
async fn an_oversized_frame_is_refused_at_the_size_limit() {
    let huge = format!(
        r#"{{"type":"change","subscription_id":"{{id}}","change_type":"insert","rows":[{{"id":"2","pad":"{}"}}]}}"#,
        "x".repeat(2 << 20)
    );
    let reason = disconnect_reason(vec![insert_frame(1, 10), WsStep::Text(huge)], 1 << 20).await;
    assert!(
        reason.to_lowercase().contains("too long") || reason.contains("limit"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_frame_cut_in_half_is_a_lost_connection() {
    let reason = disconnect_reason(vec![insert_frame(1, 10), WsStep::CutFrame], 1 << 20).await;
    assert!(!reason.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Faults (the emulator's fault controls)
// ---------------------------------------------------------------------------------------------

/// A fresh USER table `<ns>.items (id BIGINT PRIMARY KEY)` and a user.
async fn items_fixture(server: &kalam_tests::TestServer) -> (String, kalam_tests::TestUser) {
    let ns = server.fresh_namespace("rel").await;
    let table = format!("{ns}.items");
    server
        .admin_sql(&format!(
            "CREATE USER TABLE {table} (id BIGINT PRIMARY KEY)"
        ))
        .await;
    let user = server.create_user("rel", "user").await;
    (table, user)
}

/// Inserts ids `ids`, one statement each.
async fn insert_ids(client: &KalamClient, table: &str, ids: std::ops::RangeInclusive<i64>) {
    for id in ids {
        kalam_client::query_as::<()>(format!("INSERT INTO {table} (id) VALUES ({id})"))
            .execute(client)
            .await
            .unwrap();
    }
}

/// The ids of `table` as the client's user sees them.
async fn select_ids(client: &KalamClient, table: &str) -> std::collections::BTreeSet<i64> {
    let rows: Vec<(i64,)> = kalam_client::query_as(format!("SELECT id FROM {table}"))
        .fetch_all(client)
        .await
        .unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

/// Reads live events until every id of `expected` arrived (as an insert or in a snapshot
/// batch), counting each arrival, and the disconnections.
async fn count_inserts_until(
    events: &mut kalam_client::live::LiveEvents,
    expected: &std::collections::BTreeSet<i64>,
) -> (std::collections::BTreeMap<i64, usize>, Vec<String>) {
    use kalam_client::live::LiveEvent;
    let mut counts = std::collections::BTreeMap::new();
    let mut disconnects = Vec::new();
    while !expected.iter().all(|id| counts.contains_key(id)) {
        let event = tokio::time::timeout(Duration::from_secs(20), events.next())
            .await
            .expect("a live event within 20 s")
            .expect("the stream goes on");
        match &event {
            // After a resume, rows written meanwhile come in the new initial batch.
            LiveEvent::Insert { rows } | LiveEvent::InitialBatch { rows, .. } => {
                for row in rows {
                    let id: i64 = row.try_get("id").unwrap();
                    *counts.entry(id).or_insert(0) += 1;
                }
            }
            LiveEvent::Disconnected { reason } => disconnects.push(reason.clone()),
            LiveEvent::Error { .. } => panic!("{event:?}"),
            _ => {}
        }
    }
    (counts, disconnects)
}

/// Reads live events up to the next `Disconnected` (within 10 s; no insert may come first)
/// and returns its reason.
async fn next_disconnect(events: &mut kalam_client::live::LiveEvents) -> String {
    use kalam_client::live::LiveEvent;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a disconnection within 10 s")
            .expect("the stream goes on");
        match event {
            LiveEvent::Disconnected { reason } => return reason,
            LiveEvent::Insert { .. } | LiveEvent::Error { .. } => panic!("{event:?}"),
            _ => {}
        }
    }
}

/// Every id of `ids` was seen exactly once.
fn assert_once(
    counts: &std::collections::BTreeMap<i64, usize>,
    ids: &std::collections::BTreeSet<i64>,
) {
    let seen: std::collections::BTreeSet<i64> = counts.keys().copied().collect();
    assert_eq!(&seen, ids, "inserts seen");
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "inserts seen twice: {doubled:?}");
}

#[tokio::test]
async fn emulator_a_half_open_socket_is_noticed_by_the_keepalive() {
    let server = kalam_tests::emulator_or_skip!();
    let faults = server.emulator().unwrap().faults().clone();
    let (table, user) = items_fixture(&server).await;
    let client = support::user_builder(&server, &user)
        .live_keepalive(Duration::from_millis(300))
        .build()
        .unwrap();
    insert_ids(&client, &table, 1..=3).await;
    let mut events = client
        .live_events(&format!("SELECT * FROM {table}"))
        .await
        .unwrap();
    let ids = |r: std::ops::RangeInclusive<i64>| r.collect::<std::collections::BTreeSet<i64>>();

    // The server goes silent on every open connection but keeps them: no FIN, no RST.
    assert!(faults.freeze_connections() >= 1);
    let reason = next_disconnect(&mut events).await;
    assert!(reason.contains("half-open"), "{reason}");

    // A new socket (new connections are served) resumes; rows written meanwhile arrive once.
    // (The client's pooled HTTP connection is frozen too: write with a new client.)
    let fresh = support::user_client(&server, &user);
    insert_ids(&fresh, &table, 4..=6).await;
    let (counts, _) = count_inserts_until(&mut events, &ids(4..=6)).await;
    assert_once(&counts, &ids(4..=6));
    assert_eq!(select_ids(&fresh, &table).await, ids(1..=6));
}

#[tokio::test]
async fn emulator_5xx_answers_are_typed_and_writes_are_not_resent() {
    let server = kalam_tests::emulator_or_skip!();
    let faults = server.emulator().unwrap().faults().clone();
    let (table, user) = items_fixture(&server).await;
    let client = support::user_client(&server, &user);
    insert_ids(&client, &table, 1..=1).await;
    for (status, code) in [
        (500, "INTERNAL_ERROR"),
        (502, "FORWARD_FAILED"),
        (503, "CLUSTER_UNAVAILABLE"),
    ] {
        faults.fail_next(status, code, "injected");
        let id = i64::from(status);
        let err = kalam_client::query_as::<()>(format!("INSERT INTO {table} (id) VALUES ({id})"))
            .execute(&client)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{status}: {err:?}");
        assert_eq!(err.code().map(ErrorCode::as_str), Some(code));
        // The write was answered with the error and not sent again: the row is not there.
        assert!(!select_ids(&client, &table).await.contains(&id), "{status}");
        // And the next statement is served.
        faults.fail_next(status, code, "injected");
        assert!(
            kalam_client::query_as::<()>("SELECT 1")
                .execute(&client)
                .await
                .is_err()
        );
        assert_eq!(
            select_ids(&client, &table).await,
            std::collections::BTreeSet::from([1])
        );
    }
}

#[tokio::test]
async fn an_answer_later_than_the_timeout_is_a_timeout_and_nothing_is_resent() {
    // The server reads each request and never answers, holding the connection.
    let server = Scripted::start(Reply::Silent).await;
    let client = server
        .builder()
        .timeout(Duration::from_millis(300))
        .max_retries(5)
        .build()
        .unwrap();
    for (n, sql) in [
        (1, "INSERT INTO app.t (id) VALUES (1)"),
        (2, "SELECT * FROM app.t"),
    ] {
        let err = kalam_client::query(sql).execute(&client).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{sql}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        // Sent once: a timed-out request may still be running on the server.
        assert_eq!(server.requests(), n, "{sql}");
    }
}

#[tokio::test]
async fn emulator_refused_connections_then_back_lose_and_duplicate_nothing() {
    let server = kalam_tests::emulator_or_skip!();
    let faults = server.emulator().unwrap().faults().clone();
    let (table, user) = items_fixture(&server).await;
    let client = support::user_client(&server, &user);
    let mut events = client
        .live_events(&format!("SELECT * FROM {table}"))
        .await
        .unwrap();
    let ids = |r: std::ops::RangeInclusive<i64>| r.collect::<std::collections::BTreeSet<i64>>();
    insert_ids(&client, &table, 1..=5).await;
    let (counts, _) = count_inserts_until(&mut events, &ids(1..=5)).await;
    assert_once(&counts, &ids(1..=5));

    // Every connection dropped, and new ones refused for 2 s: the socket's reconnect
    // attempts fail (backoff 0 s, 1 s, 2 s…) until the port is back.
    faults.refuse_connections(Duration::from_secs(2));
    assert!(faults.drop_connections() >= 1);
    next_disconnect(&mut events).await;
    // Reads made during the outage retry until it ends (5 retries, 100 ms × attempt, then
    // the answer): once one succeeds, the port is back.
    let patient = support::user_builder(&server, &user)
        .max_retries(30)
        .build()
        .unwrap();
    loop {
        if kalam_client::query_as::<()>("SELECT 1")
            .execute(&patient)
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    insert_ids(&patient, &table, 6..=10).await;
    let (mut after, _) = count_inserts_until(&mut events, &ids(6..=10)).await;
    after.extend(counts);
    assert_once(&after, &ids(1..=10));
    assert_eq!(select_ids(&patient, &table).await, ids(1..=10));
}

#[tokio::test]
async fn emulator_a_token_expiring_mid_subscription_is_renewed_on_reconnect() {
    kalam_tests::emulator_only!();
    let emulator = kalam_emulator::Emulator::builder()
        .user("alice", "AlicePass1!", kalam_emulator::Role::User)
        .user("admin", "AdminPass123!", kalam_emulator::Role::Dba)
        .jwt_expiry(Duration::from_secs(1))
        .jwt_leeway(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let admin = KalamClient::builder()
        .base_url(emulator.url())
        .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
        .build()
        .unwrap();
    let ns = format!("rel_{}", kalam_tests::unique_suffix());
    for sql in [
        format!("CREATE NAMESPACE {ns}"),
        format!("CREATE USER TABLE {ns}.items (id BIGINT PRIMARY KEY)"),
    ] {
        kalam_client::query_as::<()>(sql)
            .execute(&admin)
            .await
            .unwrap();
    }
    let table = format!("{ns}.items");
    let alice = KalamClient::builder()
        .base_url(emulator.url())
        .auth(AuthProvider::basic_auth("alice", "AlicePass1!"))
        .build()
        .unwrap();
    let mut events = alice
        .live_events(&format!("SELECT * FROM {table}"))
        .await
        .unwrap();
    let ids = |r: std::ops::RangeInclusive<i64>| r.collect::<std::collections::BTreeSet<i64>>();
    insert_ids(&alice, &table, 1..=2).await;
    let (first, _) = count_inserts_until(&mut events, &ids(1..=2)).await;
    // Let the one-second access token expire under the open subscription (no event to wait
    // for: it is the clock), then break the socket: the reconnect needs a new token.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(emulator.faults().drop_connections() >= 1);
    next_disconnect(&mut events).await;
    insert_ids(&alice, &table, 3..=6).await;
    let (mut rest, _) = count_inserts_until(&mut events, &ids(3..=6)).await;
    rest.extend(first);
    assert_once(&rest, &ids(1..=6));
}

// ---------------------------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, KalamRow, PartialEq)]
struct OwnedDoc {
    id: i64,
    owner: String,
}

/// The owners seen in live events, until an insert of `marker` arrives.
async fn live_owners_until(
    events: &mut kalam_client::live::LiveEvents,
    marker: i64,
) -> Vec<String> {
    use kalam_client::live::LiveEvent;
    let mut owners = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a live event within 10 s")
            .expect("the stream goes on");
        if let LiveEvent::Insert { rows } | LiveEvent::InitialBatch { rows, .. } = &event {
            for row in rows {
                owners.push(row.try_get::<String>("owner").unwrap());
                if row.try_get::<i64>("id").unwrap() == marker {
                    return owners;
                }
            }
        }
    }
}

/// Two users write the same keys into one USER table and read it back through every path:
/// queries, typed live rows, raw live events, files. Neither ever gets the other's row; the
/// paths that would cross partitions (`EXECUTE AS USER`, another user's file, a SHARED
/// PRIVATE table, topic consumption) are refused for a regular user.
#[tokio::test]
async fn two_users_never_see_each_others_rows_on_any_path() {
    use kalam_client::files::FileUpload;
    use kalam_client::types::FileRef;
    let server = server_or_skip!();
    let ns = server.fresh_namespace("iso").await;
    let docs = format!("{ns}.docs");
    for sql in [
        format!("CREATE USER TABLE {docs} (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, f FILE)"),
        format!(
            "CREATE TABLE {ns}.secrets (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PRIVATE')"
        ),
        format!("INSERT INTO {ns}.secrets (id, v) VALUES (1, 'admins only')"),
        format!("CREATE TOPIC {ns}.doc_events"),
        format!("ALTER TOPIC {ns}.doc_events ADD SOURCE {docs} ON INSERT"),
    ] {
        server.admin_sql(&sql).await;
    }
    let alice_user = server.create_user("alice", "user").await;
    let bob_user = server.create_user("bob", "user").await;
    let alice = support::user_client(&server, &alice_user);
    let bob = support::user_client(&server, &bob_user);
    let select = format!("SELECT id, owner FROM {docs}");

    let mut alice_rows = alice.live::<OwnedDoc>(&select).await.unwrap();
    let mut bob_rows = bob.live::<OwnedDoc>(&select).await.unwrap();
    let mut alice_events = alice.live_events(&select).await.unwrap();
    let mut bob_events = bob.live_events(&select).await.unwrap();

    // The same keys from both users, interleaved, each with a file for id 1.
    for id in 1..=3 {
        for (client, who) in [(&alice, "alice"), (&bob, "bob")] {
            let upload = kalam_client::files::upload(format!(
                "INSERT INTO {docs} (id, owner, f) VALUES ($1, $2, FILE('f'))"
            ))
            .bind(id)
            .bind(who)
            .file(
                "f",
                FileUpload::from_bytes(format!("{who}.txt"), format!("{who} {id}")),
            );
            assert_eq!(upload.execute(client).await.unwrap(), 1);
        }
    }
    // A marker last: once it arrives, everything written before it has been delivered.
    for (client, who) in [(&alice, "alice"), (&bob, "bob")] {
        kalam_client::query_as::<()>(format!(
            "INSERT INTO {docs} (id, owner) VALUES (99, '{who}')"
        ))
        .execute(client)
        .await
        .unwrap();
    }

    for (client, who, live, events) in [
        (&alice, "alice", &mut alice_rows, &mut alice_events),
        (&bob, "bob", &mut bob_rows, &mut bob_events),
    ] {
        // Query.
        let rows: Vec<OwnedDoc> = kalam_client::query_as(select.clone())
            .fetch_all(client)
            .await
            .unwrap();
        assert_eq!(rows.len(), 4, "{who}: {rows:?}");
        assert!(rows.iter().all(|r| r.owner == who), "{who}: {rows:?}");
        // Raw live events.
        let owners = live_owners_until(events, 99).await;
        assert!(owners.iter().all(|o| o == who), "{who}: {owners:?}");
        // Typed live rows.
        while !(live.state() == LoadState::Ready && live.len() == 4) {
            tokio::time::timeout(Duration::from_secs(10), live.next())
                .await
                .expect("live rows")
                .unwrap()
                .unwrap();
        }
        assert!(live.rows().all(|r| r.owner == who), "{who}");
        // Files: one's own file downloads.
        let file: FileRef = kalam_client::query_as(format!("SELECT f FROM {docs} WHERE id = 1"))
            .fetch_scalar(client)
            .await
            .unwrap();
        let own = client.download(&file, &docs).bytes().await.unwrap();
        assert_eq!(&own.bytes[..], format!("{who} 1").as_bytes());
    }

    // Crossing partitions is refused to a regular user.
    let alices_file: FileRef = kalam_client::query_as(format!("SELECT f FROM {docs} WHERE id = 1"))
        .fetch_scalar(&alice)
        .await
        .unwrap();
    let stolen = bob
        .download(&alices_file, &docs)
        .for_user(&alice_user.id)
        .bytes()
        .await;
    assert!(stolen.is_err(), "bob read alice's file: {stolen:?}");
    let as_alice = kalam_client::query_as::<OwnedDoc>(&select)
        .as_user(&alice_user.id)
        .fetch_all(&bob)
        .await;
    assert_eq!(
        as_alice
            .expect_err("EXECUTE AS USER by a regular user")
            .kind(),
        ErrorKind::PermissionDenied
    );
    let private =
        kalam_client::query_as::<(i64, String)>(format!("SELECT id, v FROM {ns}.secrets"))
            .fetch_all(&bob)
            .await;
    assert_eq!(
        private.expect_err("a SHARED PRIVATE table").kind(),
        ErrorKind::PermissionDenied
    );
    let mut consumer = bob
        .consumer()
        .group_id("iso")
        .topic(format!("{ns}.doc_events"))
        .build()
        .unwrap();
    let consumed = consumer.consume_batch().await;
    assert!(
        matches!(consumed, Err(ref e) if e.kind() == ErrorKind::PermissionDenied || matches!(e, Error::Auth { .. })),
        "a regular user consumed a topic: {consumed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Soak
// ---------------------------------------------------------------------------------------------

/// Resident set size of this process, in KiB (Linux; `None` elsewhere).
fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

/// Least-squares slope of `samples` (one per second), in units per second.
fn slope(samples: &[u64]) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "a few hundred small samples")]
    let points: Vec<(f64, f64)> = samples
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64, *v as f64))
        .collect();
    #[allow(clippy::cast_precision_loss, reason = "a few hundred samples")]
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

/// Inserts `id` until it is in the table: a write the network cut off may or may not have
/// been applied (the client never resends it), and the primary key tells which.
async fn insert_surely(client: &KalamClient, table: &str, id: i64) {
    loop {
        match kalam_client::query_as::<()>(format!("INSERT INTO {table} (id) VALUES ({id})"))
            .execute(client)
            .await
        {
            Ok(_) => return,
            Err(e) if e.kind() == ErrorKind::UniqueViolation => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// What one live subscription saw: arrivals per id, and its disconnections.
#[derive(Debug, Default)]
struct Seen {
    counts: std::collections::BTreeMap<i64, usize>,
    disconnects: usize,
}

/// Reads `events` until every id of the set sent on `expected` arrived (or 30 s after it was
/// sent), counting arrivals (inserts and snapshot rows) per id.
async fn read_until_expected(
    mut events: kalam_client::live::LiveEvents,
    mut expected: tokio::sync::watch::Receiver<Option<std::collections::BTreeSet<i64>>>,
) -> Seen {
    use kalam_client::live::LiveEvent;
    let mut seen = Seen::default();
    let mut give_up: Option<tokio::time::Instant> = None;
    loop {
        if let Some(ids) = expected.borrow().as_ref() {
            if ids.iter().all(|id| seen.counts.contains_key(id)) {
                return seen;
            }
            give_up.get_or_insert(tokio::time::Instant::now() + Duration::from_secs(30));
        }
        let wait = give_up.map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(tokio::time::Instant::now())
        });
        tokio::select! {
            event = tokio::time::timeout(wait, events.next()) => match event {
                Ok(Some(event)) => match &event {
                    LiveEvent::Insert { rows } | LiveEvent::InitialBatch { rows, .. } => {
                        for row in rows {
                            *seen.counts.entry(row.try_get::<i64>("id").unwrap()).or_default() += 1;
                        }
                    }
                    LiveEvent::Disconnected { .. } => seen.disconnects += 1,
                    LiveEvent::Error { .. } => panic!("{event:?}"),
                    _ => {}
                },
                Ok(None) | Err(_) => return seen,
            },
            _ = expected.changed() => {}
        }
    }
}

/// Two users with ten live subscriptions each (the per-user quota) on one client each; both
/// write at a steady rate (one row per 25 ms each) while every connection is dropped every
/// 1.5–3 s and the server restarts once half-way. Every subscription must end up with every
/// row of its user exactly once: none lost, none doubled. Runs 8 s in the test suite;
/// `KALAM_SOAK_SECS=60` runs it longer. Prints the figures, RSS slope included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_soak_two_users_ten_subscriptions_drops_and_a_restart() {
    use std::collections::BTreeSet;
    let secs: u64 = std::env::var("KALAM_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let server = kalam_tests::emulator_or_skip!();
    let faults = server.emulator().unwrap().faults().clone();
    let (table, alice) = items_fixture(&server).await;
    let bob = server.create_user("rel", "user").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);

    // Subscription k sees ids above k; writes start at 100, so every one sees all its user's.
    let mut users = Vec::new();
    for user in [&alice, &bob] {
        let client = support::user_client(&server, user);
        let (tell, expected) = tokio::sync::watch::channel(None);
        let mut readers = Vec::new();
        for k in 0..10 {
            let events = client
                .live_events(&format!("SELECT * FROM {table} WHERE id > {k}"))
                .await
                .unwrap();
            readers.push(tokio::spawn(read_until_expected(events, expected.clone())));
        }
        let writer = support::user_client(&server, user);
        let table = table.clone();
        let writes = tokio::spawn(async move {
            let mut id = 100;
            let mut tick = tokio::time::interval(Duration::from_millis(25));
            while tokio::time::Instant::now() < deadline {
                tick.tick().await;
                insert_surely(&writer, &table, id).await;
                id += 1;
            }
            (writer, usize::try_from(id - 100).unwrap())
        });
        users.push((client, tell, readers, writes));
    }

    // Faults, and RSS once a second.
    let mut rss = Vec::new();
    let (mut drops, mut restarts) = (0usize, 0usize);
    let half = tokio::time::Instant::now() + Duration::from_secs(secs / 2);
    let mut next_fault = tokio::time::Instant::now() + Duration::from_millis(1500);
    let mut second = tokio::time::interval(Duration::from_secs(1));
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = second.tick() => rss.extend(rss_kib()),
            () = tokio::time::sleep_until(next_fault) => {
                if restarts == 0 && tokio::time::Instant::now() >= half {
                    faults.restart().await;
                    restarts += 1;
                } else {
                    faults.drop_connections();
                    drops += 1;
                }
                next_fault = tokio::time::Instant::now()
                    + Duration::from_millis(rand_between(1500, 3000));
            }
        }
    }

    let (mut written, mut received, mut lost, mut doubled, mut disconnects) = (0, 0, 0, 0, 0);
    for (client, tell, readers, writes) in users {
        let (writer, n) = writes.await.unwrap();
        written += n;
        let rows: Vec<(i64,)> = kalam_client::query_as(format!("SELECT id FROM {table}"))
            .fetch_all(&writer)
            .await
            .unwrap();
        let ids: BTreeSet<i64> = rows.into_iter().map(|(id,)| id).collect();
        assert_eq!(ids.len(), n, "every write is in the table once");
        tell.send(Some(ids.clone())).unwrap();
        for reader in readers {
            let seen = reader.await.unwrap();
            disconnects += seen.disconnects;
            received += seen.counts.values().sum::<usize>();
            lost += ids
                .iter()
                .filter(|id| !seen.counts.contains_key(id))
                .count();
            doubled += seen.counts.values().filter(|c| **c > 1).count();
            let strays: Vec<_> = seen.counts.keys().filter(|id| !ids.contains(id)).collect();
            assert!(
                strays.is_empty(),
                "rows that are not the user's: {strays:?}"
            );
        }
        drop(client);
    }
    let slope_kib = slope(&rss);
    eprintln!(
        "soak: {secs} s, 2 users x 10 subscriptions, {written} rows written, {} changes expected, \
         {received} received, {lost} lost, {doubled} doubled, {drops} drops + {restarts} restart, \
         {disconnects} disconnections seen, RSS {:?} KiB -> {:?} KiB, slope {slope_kib:.1} KiB/s",
        written * 10,
        rss.first(),
        rss.last(),
    );
    assert_eq!((lost, doubled), (0, 0), "lost and doubled changes");
    assert_eq!(received, written * 10);
    assert!(drops >= 1 && restarts == 1 && disconnects >= 20);
}

/// A pseudo-random number in `lo..hi` (no seed needed: the schedule only has to vary).
fn rand_between(lo: u64, hi: u64) -> u64 {
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    );
    lo + nanos % (hi - lo)
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// A test CA and a server certificate it issued for `localhost`: (CA PEM, chain PEM, key PEM).
fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// The whole chain of an error's sources, as text.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[tokio::test]
async fn emulator_tls_with_a_test_ca_and_refusals_of_bad_certificates() {
    kalam_tests::emulator_only!();
    let (ca, chain, key) = test_pki();
    let emulator = kalam_emulator::Emulator::builder()
        .tls(chain, key)
        .start()
        .await
        .unwrap();
    let port = emulator.addr().port();
    let trusting = |host: &str| {
        KalamClient::builder()
            .base_url(format!("https://{host}:{port}"))
            .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
            .add_root_certificate(ca.clone())
            .max_retries(0)
            .build()
            .unwrap()
    };

    // HTTPS and WSS with the certificate issued for `localhost`.
    let client = trusting("localhost");
    let me: String = kalam_client::query_as("SELECT CURRENT_USER()")
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(me, "admin");
    for sql in [
        "CREATE NAMESPACE tls",
        "CREATE SHARED TABLE tls.items (id BIGINT PRIMARY KEY)",
    ] {
        kalam_client::query(sql).execute(&client).await.unwrap();
    }
    let mut events = client.live_events("SELECT * FROM tls.items").await.unwrap();
    kalam_client::query("INSERT INTO tls.items (id) VALUES (7)")
        .execute(&client)
        .await
        .unwrap();
    let (counts, _) =
        count_inserts_until(&mut events, &std::collections::BTreeSet::from([7])).await;
    assert_eq!(counts.get(&7), Some(&1));

    // A host name the certificate was not issued for, and a client without the CA.
    let wrong_host = trusting("127.0.0.1");
    let untrusting = KalamClient::builder()
        .base_url(format!("https://localhost:{port}"))
        .jwt_token("x.y.z")
        .max_retries(0)
        .build()
        .unwrap();
    for (what, client) in [("wrong host", &wrong_host), ("untrusted CA", &untrusting)] {
        let err = kalam_client::query("SELECT 1")
            .execute(client)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Http { status: None, .. }),
            "{what}: {err:?}"
        );
        let chain = error_chain(&err).to_lowercase();
        assert!(chain.contains("certificate"), "{what}: {chain}");
        let live = client
            .live_events("SELECT * FROM tls.items")
            .await
            .unwrap_err();
        assert!(
            error_chain(&live).to_lowercase().contains("certificate"),
            "{what}: {live:?}"
        );
    }
}
