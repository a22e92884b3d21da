//! The protocol's HTTP vectors (section 11.1) and the SQL behaviour around them, over real
//! loopback HTTP against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use kalam_emulator::{Emulator, EmulatorBuilder, RateLimits, Role};
use serde_json::{Value, json};

mod common;
use common::{Client, Resp, strip_took};

const TODOS_DDL: &str = "CREATE TABLE app.todos (
  id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
  title TEXT NOT NULL,
  done BOOLEAN NOT NULL DEFAULT false,
  due_at TIMESTAMP,
  price DECIMAL(10, 2)
) WITH (TYPE = 'USER')";

fn todos_schema() -> Value {
    json!([{"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},
           {"name":"title","data_type":"Text","index":1,"flags":["nn"]},
           {"name":"done","data_type":"Boolean","index":2,"flags":["nn"]},
           {"name":"due_at","data_type":"Timestamp","index":3},
           {"name":"price","data_type":{"Decimal":{"precision":10,"scale":2}},"index":4},
           {"name":"_seq","data_type":"BigInt","index":5,"flags":["nn"]},
           {"name":"_deleted","data_type":"Boolean","index":6,"flags":["nn"]}])
}

/// An emulator with the fixture of section 11: namespace `app`, USER table `app.todos`,
/// users admin (dba) and alice (user); returns tokens.
async fn fixture() -> (Emulator, Client, String, String) {
    fixture_on(Emulator::builder()).await
}

/// [`fixture`] on an emulator configured by `builder`.
async fn fixture_on(builder: EmulatorBuilder) -> (Emulator, Client, String, String) {
    let emu = builder
        .user("admin", "AdminPass123!", Role::Dba)
        .user("alice", "Secret123!", Role::User)
        .start()
        .await
        .unwrap();
    let c = Client::new(&emu);
    let admin = c.login("admin", "AdminPass123!").await;
    let alice = c.login("alice", "Secret123!").await;
    c.ok(&admin, "CREATE NAMESPACE app").await;
    c.ok(&admin, TODOS_DDL).await;
    (emu, c, admin, alice)
}

#[tokio::test]
async fn h1_h2_health_and_setup_status() {
    let emu = Emulator::start().await.unwrap();
    let c = Client::new(&emu);
    for p in ["/v1/api/healthcheck", "/health"] {
        let r = c.send(c.http.get(format!("{}{p}", c.base))).await;
        assert_eq!(r.status, 200);
        let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4);
        assert_eq!(r.body["status"], "healthy");
        assert_eq!(r.body["api_version"], "v1");
        assert!(r.body["build_date"].as_str().unwrap().ends_with(" UTC"));
    }
    let r = c
        .send(
            c.http
                .get(format!("{}/v1/api/healthcheck", c.base))
                .header("X-Forwarded-For", "192.0.2.10"),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"error": "Access denied. Health endpoint is localhost-only."})
    );
    let r = c
        .send(
            c.http
                .get(format!("{}/v1/api/healthcheck", c.base))
                .header("X-Forwarded-For", "127.0.0.1"),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .send(
            c.http
                .get(format!("{}/v1/api/cluster/health", c.base))
                .header("X-Real-IP", "192.0.2.10"),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"error": "Access denied. Cluster health is localhost-only."})
    );
    let r = c
        .send(c.http.get(format!("{}/v1/api/auth/status", c.base)))
        .await;
    assert_eq!(
        r.body,
        json!({"message": "Server is configured and ready.", "needs_setup": false})
    );
}

/// A page served from another loopback port can call the API: preflights and answers carry
/// the CORS headers of the server's `[security.cors]` defaults; requests without an Origin
/// (native clients) get none.
#[tokio::test]
async fn cors_for_a_page_on_another_origin() {
    let (_emu, c, tok, _) = fixture().await;
    let page = "http://127.0.0.1:8123";
    let preflight = c
        .send(
            c.http
                .request(reqwest::Method::OPTIONS, format!("{}/v1/api/sql", c.base))
                .header("Origin", page)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
        )
        .await;
    assert_eq!(preflight.status, 200);
    let h = |r: &Resp, name: &str| {
        r.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
    };
    assert_eq!(
        h(&preflight, "access-control-allow-origin").as_deref(),
        Some(page)
    );
    assert_eq!(
        h(&preflight, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        h(&preflight, "access-control-max-age").as_deref(),
        Some("3600")
    );
    let methods = h(&preflight, "access-control-allow-methods").unwrap();
    for m in ["get", "post", "put", "delete", "patch", "options"] {
        assert!(
            methods.split(',').any(|x| x.trim() == m),
            "{m} in {methods}"
        );
    }
    let headers = h(&preflight, "access-control-allow-headers").unwrap();
    for name in [
        "authorization",
        "content-type",
        "accept",
        "origin",
        "x-requested-with",
    ] {
        assert!(
            headers.split(',').any(|x| x.trim() == name),
            "{name} in {headers}"
        );
    }

    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/sql", c.base))
                .header("Origin", page)
                .bearer_auth(&tok)
                .json(&json!({"sql": "SELECT 40 + 2 AS answer"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // 40 + 2 is a BIGINT, which the wire carries as a string.
    assert_eq!(r.body["results"][0]["rows"][0][0], "42");
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some(page));
    assert_eq!(
        h(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );

    let native = c.sql(&tok, "SELECT 1 AS one").await;
    assert_eq!(native.status, 200);
    assert_eq!(h(&native, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn h3_h4_h6_login_refresh_and_claims() {
    let (_emu, c, _admin, _alice) = fixture().await;
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/auth/login", c.base))
                .json(&json!({"user":"alice","password":"Secret123!"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let b = &r.body;
    let mut keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "admin_ui_access",
            "expires_at",
            "refresh_expires_at",
            "refresh_token",
            "user"
        ]
    );
    assert_eq!(b["user"]["id"], "alice");
    assert_eq!(b["user"]["role"], "user");
    assert_eq!(b["user"]["email"], Value::Null);
    assert_eq!(b["admin_ui_access"], false);
    let tok = b["access_token"].as_str().unwrap();
    let parts: Vec<&str> = tok.split('.').collect();
    use base64::Engine as _;
    let dec = |p: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(dec(parts[0]), json!({"typ":"JWT","alg":"HS256"}));
    let claims = dec(parts[1]);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], "kalamdb");
    assert_eq!(claims["token_type"], "access");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
    // H4
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/auth/login", c.base))
                .json(&json!({"user":"alice","password":"nope"})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"error":"unauthorized","message":"Invalid credentials"})
    );
    // H6
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/auth/refresh", c.base))
                .bearer_auth(tok),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"error":"unauthorized","message":"Refresh endpoint requires a refresh token"})
    );
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/auth/refresh", c.base))
                .bearer_auth(b["refresh_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["user"]["id"], "alice");
    // unknown field: text/plain
    let r = c
        .http
        .post(format!("{}/v1/api/auth/login", c.base))
        .json(&json!({"user":"alice","password":"x","extra":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .starts_with("Json deserialize error: unknown field `extra`")
    );
}

#[tokio::test]
async fn h5_root_before_and_after_setup() {
    let emu = Emulator::builder().needs_setup(true).start().await.unwrap();
    let c = Client::new(&emu);
    let login = |pw: &'static str| {
        c.http
            .post(format!("{}/v1/api/auth/login", c.base))
            .json(&json!({"user":"root","password":pw}))
    };
    let r = c.send(login("")).await;
    assert_eq!(r.status, 428);
    assert_eq!(
        r.body,
        json!({"error":"setup_required","message":"Server requires initial setup. Root password is not configured."})
    );
    let r = c
        .send(c.http.get(format!("{}/v1/api/auth/status", c.base)))
        .await;
    assert_eq!(r.body["needs_setup"], true);
    let r = c
        .send(c.http.post(format!("{}/v1/api/auth/setup", c.base)).json(&json!({
            "user":"admin","password":"AdminPass123!","root_password":"RootPass123!","email":"admin@example.com"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["role"], "dba");
    assert_eq!(
        r.body["message"],
        "Server setup complete. Root password configured and DBA user 'admin' created. Please login to continue."
    );
    let r = c.send(login("")).await;
    assert_eq!(r.status, 401);
    let r = c.send(login("RootPass123!")).await;
    assert_eq!(r.status, 200);
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/auth/setup", c.base))
                .json(&json!({
            "user":"x","password":"AdminPass123!","root_password":"RootPass123!"})),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body,
        json!({"error":"already_configured","message":"Server has already been configured. Root password is set."})
    );
}

#[tokio::test]
async fn h7_h8_bearer_failures() {
    let emu = Emulator::builder()
        .user("alice", "Secret123!", Role::User)
        .jwt_expiry(Duration::from_secs(0))
        .jwt_leeway(Duration::from_secs(0))
        .start()
        .await
        .unwrap();
    let c = Client::new(&emu);
    let expect = |r: &Resp, code: &str, msg: &str| {
        assert_eq!(r.status, 401);
        let b = strip_took(r.body.clone());
        assert_eq!(
            b,
            json!({"error":{"code":code,"message":msg},"results":[],"status":"error"})
        );
    };
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/sql", c.base))
                .json(&json!({"sql":"SELECT 1"})),
        )
        .await;
    expect(&r, "MISSING_AUTHORIZATION", "Authentication required");
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/sql", c.base))
                .header("Authorization", "Basic YWxpY2U6U2VjcmV0MTIzIQ==")
                .json(&json!({"sql":"SELECT 1"})),
        )
        .await;
    expect(&r, "INVALID_CREDENTIALS", "Invalid credentials");
    // A token that expired (lifetime 0, no leeway): wait for the clock to pass `exp`.
    let tok = c.login("alice", "Secret123!").await;
    loop {
        let r = c.sql(&tok, "SELECT 1").await;
        if r.status == 401 {
            expect(&r, "TOKEN_EXPIRED", "Invalid credentials");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Same token, signature broken: INVALID_CREDENTIALS wins over TOKEN_EXPIRED.
    let bad = format!("{}x", &tok[..tok.len() - 1]);
    let r = c.sql(&bad, "SELECT 1").await;
    expect(&r, "INVALID_CREDENTIALS", "Invalid credentials");
}

#[tokio::test]
async fn h9_h10_h11_namespace_and_table_ddl() {
    let emu = Emulator::builder()
        .user("admin", "AdminPass123!", Role::Dba)
        .user("alice", "Secret123!", Role::User)
        .start()
        .await
        .unwrap();
    let c = Client::new(&emu);
    let admin = c.login("admin", "AdminPass123!").await;
    let alice = c.login("alice", "Secret123!").await;
    let r = c.sql(&admin, "CREATE NAMESPACE app").await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"row_count":0,"message":"Namespace 'app' created successfully","as_user":"admin"}]})
    );
    let r = c.sql(&alice, "CREATE NAMESPACE other").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"PERMISSION_DENIED","message":"Admin privileges (DBA or System role) required for namespace operations"}})
    );
    let r = c.sql(&admin, TODOS_DDL).await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"row_count":0,"message":"CREATE TABLE via Raft consensus: user table app.todos created successfully","as_user":"admin"}]})
    );
    let r = c.sql(&admin, "CREATE NAMESPACE app").await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"SQL_EXECUTION_ERROR","message":"Statement 1 failed: Already exists: Namespace 'app' already exists","details":"CREATE NAMESPACE app"}})
    );
    let r = c
        .ok(&admin, "CREATE TABLE app.noopt (id BIGINT PRIMARY KEY)")
        .await;
    assert!(
        r["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("shared table")
    );
}

#[tokio::test]
async fn h12_to_h14_insert_select_and_namespace_id() {
    let (_emu, c, admin, alice) = fixture().await;
    let r = c
        .sql_with(&alice, json!({"sql":"INSERT INTO app.todos (id, title, due_at, price) VALUES ($1, $2, '2025-06-02T00:00:00Z', 3.50)","params":[1,"Buy milk"]}))
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"row_count":1,"message":"Inserted 1 row(s)","as_user":"alice"}]})
    );
    assert!(r.headers.contains_key("content-length"));
    c.ok(
        &alice,
        "INSERT INTO app.todos (id, title) VALUES (2, 'Call Bob')",
    )
    .await;
    let seqs = c
        .rows(&alice, "SELECT _seq FROM app.todos ORDER BY id")
        .await;
    let (s1, s2) = (seqs[0][0].clone(), seqs[1][0].clone());
    let r = c.sql(&alice, "SELECT * FROM app.todos").await;
    assert_eq!(
        r.headers
            .get("transfer-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("chunked")
    );
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"schema":todos_schema(),
            "rows":[["1","Buy milk",false,1748822400000000i64,"3.50",s1,false],["2","Call Bob",false,null,null,s2,false]],
            "row_count":2,"as_user":"alice"}],"error":null})
    );
    let r = c.sql(&admin, "SELECT * FROM app.todos").await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"schema":todos_schema(),"rows":[],"row_count":0,"as_user":"admin"}],"error":null})
    );
    let r = c.sql_with(&alice, json!({"sql":"SELECT title FROM todos WHERE id = $1","params":[2],"namespace_id":"app"})).await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"schema":[{"name":"title","data_type":"Text","index":0,"flags":["nn"]}],"rows":[["Call Bob"]],"row_count":1,"as_user":"alice"}],"error":null})
    );
}

#[tokio::test]
async fn h15_batch_dml_aggregation() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(&admin, &TODOS_DDL.replace("app.todos", "app.todos_copy"))
        .await;
    c.ok(
        &alice,
        "INSERT INTO app.todos_copy (id, title) VALUES (1, 'x'), (2, 'y')",
    )
    .await;
    let r = c
        .sql(&alice, "INSERT INTO app.todos_copy (id, title) VALUES (10, 'A'); SELECT COUNT(*) AS n FROM app.todos_copy; UPDATE app.todos_copy SET done = true WHERE id = 10; INSERT INTO app.todos_copy (id, title) VALUES (11, 'B');")
        .await;
    assert!(r.headers.get("transfer-encoding").is_none());
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[
            {"schema":[{"name":"n","data_type":"BigInt","index":0}],"rows":[["3"]],"row_count":1,"as_user":"alice"},
            {"row_count":2,"message":"Inserted 2 row(s)","as_user":"alice"},
            {"row_count":1,"message":"Updated 1 row(s)","as_user":"alice"}]})
    );
    // Summaries carry the authenticated user even for EXECUTE AS rows.
    let r = c
        .sql(&admin, "EXECUTE AS USER 'alice' (INSERT INTO app.todos_copy (id, title) VALUES (50, 'x')); INSERT INTO app.todos_copy (id, title) VALUES (51, 'y')")
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"row_count":2,"message":"Inserted 2 row(s)","as_user":"admin"}]})
    );
}

#[tokio::test]
async fn h16_h17_params_errors() {
    let (_emu, c, _admin, alice) = fixture().await;
    let r = c
        .sql_with(&alice, json!({"sql":"SELECT 1; SELECT 2","params":[1]}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"PARAMS_WITH_BATCH","message":"Parameters not supported with multi-statement batches"}})
    );
    let r = c
        .sql_with(
            &alice,
            json!({"sql":"SELECT * FROM app.todos WHERE id = $1","params":[[1,2]]}),
        )
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"INVALID_PARAMETER","message":"Parameter $1 invalid: Array parameters not yet supported"}})
    );
    let r = c
        .sql_with(
            &alice,
            json!({"sql":"SELECT * FROM app.todos WHERE id = $1","params":[{"a":1}]}),
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        "Parameter $1 invalid: Object parameters not yet supported"
    );
    let params: Vec<i64> = (0..51).collect();
    let sql = format!(
        "SELECT {}",
        (1..=51)
            .map(|i| format!("${i} AS c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let r = c
        .sql_with(&alice, json!({"sql": sql, "params": params}))
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"SQL_EXECUTION_ERROR","message":"Statement 1 failed: Parameter count exceeded: maximum 50 parameters allowed, got 51"}})
    );
    let r = c
        .sql_with(&alice, json!({"sql":"SELECT $1 AS a, $2 AS b, $3 AS c, $4 AS d, $5 AS e","params":[9007199254740993i64, 1.5, null, true, 18446744073709551615u64]}))
        .await;
    let res = &r.body["results"][0];
    let types: Vec<&Value> = res["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["data_type"])
        .collect();
    assert_eq!(
        types,
        [
            &json!("BigInt"),
            &json!("Double"),
            &json!("Text"),
            &json!("Boolean"),
            &json!("Double")
        ]
    );
    assert_eq!(
        res["rows"],
        json!([["9007199254740993", 1.5, null, true, 1.8446744073709552e19]])
    );
}

#[tokio::test]
async fn h18_execute_as_user() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(
        &alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'Buy milk')",
    )
    .await;
    let r = c
        .sql(
            &admin,
            "EXECUTE AS USER 'alice' (SELECT id, title FROM app.todos WHERE id = 1)",
        )
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"schema":[
        {"name":"id","data_type":"BigInt","index":0,"flags":["pk","nn","uq"]},{"name":"title","data_type":"Text","index":1,"flags":["nn"]}],
        "rows":[["1","Buy milk"]],"row_count":1,"as_user":"alice"}],"error":null})
    );
    let r = c.sql(&alice, "EXECUTE AS USER 'admin' (SELECT 1)").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"PERMISSION_DENIED","message":"Unauthorized: EXECUTE AS USER is not authorized: actor 'alice' with role User cannot target 'admin' with role Dba"}})
    );
    let r = c
        .sql(
            &admin,
            "execute as user alice (SELECT id FROM app.todos WHERE id = 1);",
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c.sql(&admin, "EXECUTE AS USER 'alice' SELECT 1").await;
    assert_eq!(
        r.body["error"],
        json!({"code":"INVALID_INPUT","message":"EXECUTE AS USER must wrap SQL in parentheses"})
    );
    let r = c
        .sql(&admin, "EXECUTE AS USER 'alice' (SELECT 1; SELECT 2)")
        .await;
    assert_eq!(
        r.body["error"],
        json!({"code":"INVALID_INPUT","message":"EXECUTE AS USER missing closing ')'"})
    );
    let r = c
        .sql(
            &admin,
            "EXECUTE AS USER 'alice' (SELECT * FROM system.users)",
        )
        .await;
    assert_eq!(r.status, 403);
    c.ok(&admin, "CREATE SHARED TABLE app.board (id BIGINT PRIMARY KEY, msg TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')").await;
    let r = c
        .sql(
            &admin,
            "EXECUTE AS USER 'alice' (INSERT INTO app.board (id, msg) VALUES (1, 'x'))",
        )
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"SQL_EXECUTION_ERROR","message":"EXECUTE AS USER is not allowed on SHARED tables (table 'app:board'). AS USER impersonation is only supported for USER and STREAM tables."}})
    );
    let r = c
        .sql(&admin, "EXECUTE AS USER 'alice' (SELECT * FROM app.board)")
        .await;
    assert_eq!(r.body["results"][0]["as_user"], "alice");
}

#[tokio::test]
async fn h19_implicit_limit_and_resort_quirk() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(
        &admin,
        "CREATE TABLE app.many (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE = 'USER')",
    )
    .await;
    let values: Vec<String> = (1..=60).map(|i| format!("({i}, 'x')")).collect();
    c.ok(
        &alice,
        &format!("INSERT INTO app.many (id, v) VALUES {}", values.join(",")),
    )
    .await;
    let ids = |rows: Value| -> Vec<i64> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(
        ids(c.rows(&alice, "SELECT id FROM app.many").await),
        (1..=50).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(c.rows(&alice, "SELECT id FROM app.many LIMIT 5000").await).len(),
        60
    );
    let values: Vec<String> = (61..=1500).map(|i| format!("({i}, 'x')")).collect();
    c.ok(
        &alice,
        &format!("INSERT INTO app.many (id, v) VALUES {}", values.join(",")),
    )
    .await;
    assert_eq!(
        ids(c.rows(&alice, "SELECT id FROM app.many LIMIT 5000").await).len(),
        1000
    );
    assert_eq!(
        ids(c
            .rows(&alice, "SELECT id FROM app.many ORDER BY id DESC")
            .await),
        (1451..=1500).rev().collect::<Vec<_>>()
    );
    // The quirk: ORDER BY DESC + LIMIT comes back ascending by key.
    assert_eq!(
        ids(c
            .rows(&alice, "SELECT id FROM app.many ORDER BY id DESC LIMIT 3")
            .await),
        vec![1498, 1499, 1500]
    );
    assert_eq!(
        ids(c
            .rows(
                &alice,
                "SELECT id FROM app.many ORDER BY id LIMIT 1000 OFFSET 1000"
            )
            .await),
        (1001..=1500).collect::<Vec<_>>()
    );
    assert_eq!(
        ids(c
            .rows(
                &alice,
                "SELECT id FROM app.many WHERE id > 1000 ORDER BY id LIMIT 5"
            )
            .await),
        (1001..=1005).collect::<Vec<_>>()
    );
    c.ok(
        &admin,
        "CREATE TABLE app.ord (id BIGINT PRIMARY KEY, v BIGINT) WITH (TYPE = 'USER')",
    )
    .await;
    c.ok(
        &alice,
        "INSERT INTO app.ord (id, v) VALUES (1, 30), (2, 20), (3, 10)",
    )
    .await;
    assert_eq!(
        ids(c.rows(&alice, "SELECT id FROM app.ord ORDER BY v").await),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(c.rows(&alice, "SELECT id, v FROM app.ord ORDER BY v").await),
        vec![3, 2, 1]
    );
    // Without the key in the output the explicit order holds.
    let r = c
        .rows(&alice, "SELECT v FROM app.ord ORDER BY v DESC LIMIT 2")
        .await;
    assert_eq!(r, json!([["30"], ["20"]]));
}

#[tokio::test]
async fn resort_quirk_can_be_turned_off() {
    let emu = Emulator::builder()
        .user("alice", "Secret123!", Role::Dba)
        .primary_key_resort(false)
        .start()
        .await
        .unwrap();
    let c = Client::new(&emu);
    let alice = c.login("alice", "Secret123!").await;
    c.ok(&alice, "CREATE NAMESPACE app").await;
    c.ok(
        &alice,
        "CREATE TABLE app.t (id BIGINT PRIMARY KEY) WITH (TYPE = 'USER')",
    )
    .await;
    c.ok(&alice, "INSERT INTO app.t (id) VALUES (1), (2), (3), (4)")
        .await;
    assert_eq!(
        c.rows(&alice, "SELECT id FROM app.t ORDER BY id DESC LIMIT 2")
            .await,
        json!([["4"], ["3"]])
    );
}

#[tokio::test]
async fn h20_introspection() {
    let (_emu, c, admin, alice) = fixture().await;
    let q = "SELECT column_name, data_type, ordinal, nullable, primary_key, default_value FROM system.columns WHERE namespace_id = 'app' AND table_name = 'todos' ORDER BY ordinal LIMIT 1000";
    let r = c.sql(&admin, q).await;
    let nn = json!(["nn"]);
    assert_eq!(
        strip_took(r.body),
        json!({"status":"success","results":[{"schema":[
        {"name":"column_name","data_type":"Text","index":0,"flags":nn},
        {"name":"data_type","data_type":"Text","index":1,"flags":nn},
        {"name":"ordinal","data_type":"BigInt","index":2,"flags":nn},
        {"name":"nullable","data_type":"Boolean","index":3,"flags":nn},
        {"name":"primary_key","data_type":"Boolean","index":4,"flags":nn},
        {"name":"default_value","data_type":"Text","index":5}],"rows":[
        ["id","BIGINT","1",false,true,"SNOWFLAKE_ID()"],
        ["title","TEXT","2",false,false,null],
        ["done","BOOLEAN","3",false,false,"Bool(false)"],
        ["due_at","TIMESTAMP","4",true,false,null],
        ["price","DECIMAL(10, 2)","5",true,false,null],
        ["_seq","BIGINT","6",false,false,null],
        ["_deleted","BOOLEAN","7",false,false,"Bool(false)"]],"row_count":7,"as_user":"admin"}],"error":null})
    );
    assert_eq!(c.rows(&admin, "SELECT table_type FROM system.tables WHERE namespace_id = 'app' AND table_name = 'todos'").await, json!([["user"]]));
    let r = c.sql(&alice, q).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"PERMISSION_DENIED","message":"Statement 1 failed: Permission denied: Error during planning: Access denied: Role 'User' cannot access table 'system.columns'. System tables require 'dba' or 'system' role."}})
    );
    let r = c
        .sql(&admin, "SELECT t.namespace_id, t.table_name, t.table_type, c.column_name, c.ordinal FROM system.tables t JOIN system.columns c ON c.namespace_id = t.namespace_id AND c.table_name = t.table_name WHERE t.namespace_id = 'app' AND t.table_name = 'todos' ORDER BY c.ordinal LIMIT 2")
        .await;
    assert_eq!(
        r.body["results"][0]["rows"],
        json!([
            ["app", "todos", "user", "id", "1"],
            ["app", "todos", "user", "title", "2"]
        ])
    );
    let r = c
        .sql(&alice, "SELECT column_name, data_type, is_nullable, ordinal_position FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'todos' ORDER BY ordinal_position")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["results"][0]["rows"][0],
        json!(["id", "Int64", "NO", "0"])
    );
}

#[tokio::test]
async fn system_schemas_topics_and_topic_offsets() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(&admin, "ALTER TABLE app.todos ADD COLUMN note TEXT")
        .await;
    c.ok(&admin, "CREATE TOPIC app.todo_events PARTITIONS 2")
        .await;
    c.ok(
        &admin,
        "ALTER TOPIC app.todo_events ADD SOURCE app.todos ON INSERT WITH (payload = 'key')",
    )
    .await;
    // system.schemas: the 14 columns of protocol 8.4, one row per version.
    let r = c.sql(&admin, "SELECT * FROM system.schemas LIMIT 0").await;
    let names: Vec<&str> = r.body["results"][0]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "table_id",
            "table_name",
            "namespace_id",
            "table_type",
            "created_at",
            "schema_version",
            "columns",
            "table_comment",
            "updated_at",
            "options",
            "access_level",
            "is_latest",
            "storage_id",
            "use_user_storage"
        ]
    );
    assert_eq!(
        r.body["results"][0]["schema"][0]["flags"],
        json!(["pk", "nn", "uq"])
    );
    let rows = c
        .rows(&admin, "SELECT table_id, table_name, namespace_id, table_type, schema_version, is_latest, storage_id, use_user_storage, columns FROM system.schemas WHERE namespace_id = 'app' ORDER BY schema_version")
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, (version, latest)) in rows.iter().zip([(1, false), (2, true)]) {
        assert_eq!(
            row.as_array().unwrap()[..8],
            json!([
                "app:todos",
                "todos",
                "app",
                "user",
                version,
                latest,
                "local",
                false
            ])
            .as_array()
            .unwrap()[..]
        );
    }
    let old: Value = serde_json::from_str(rows[0][8].as_str().unwrap()).unwrap();
    let new: Value = serde_json::from_str(rows[1][8].as_str().unwrap()).unwrap();
    assert_eq!(old.as_array().unwrap().len(), 7);
    assert_eq!(new.as_array().unwrap().len(), 8);
    assert_eq!(
        new[0],
        json!({"column_id":1,"column_name":"id","column_comment":null,"data_type":"BigInt",
               "default_value":{"FunctionCall":{"name":"SNOWFLAKE_ID","args":[]}},"ordinal_position":1,
               "is_nullable":false,"is_primary_key":true,"is_partition_key":false})
    );
    assert_eq!(new[2]["default_value"], json!({"Literal": false}));
    assert_eq!(
        new[4]["data_type"],
        json!({"Decimal":{"precision":10,"scale":2}})
    );
    assert_eq!(new[1]["default_value"], "None");
    // SHOW TABLES answers rows of system.schemas.
    let r = c.ok(&admin, "SHOW TABLES").await;
    assert_eq!(r["results"][0]["schema"].as_array().unwrap().len(), 14);
    // …and `SHOW TABLES IN ns` fails as on 0.4.3-rc.4 (protocol 7.6).
    let r = c.sql(&admin, "SHOW TABLES IN NAMESPACE app").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "SQL_EXECUTION_ERROR");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("number of columns(8) must match number of fields(14)")
    );
    // system.topics
    let r = c.sql(&admin, "SELECT * FROM system.topics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let schema: Vec<(String, Value)> = r.body["results"][0]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["data_type"].clone(),
            )
        })
        .collect();
    assert_eq!(
        schema,
        [
            ("topic_id", "Text"),
            ("name", "Text"),
            ("alias", "Text"),
            ("partitions", "Int"),
            ("retention_seconds", "BigInt"),
            ("retention_max_bytes", "BigInt"),
            ("routes", "Json"),
            ("created_at", "Timestamp"),
            ("updated_at", "Timestamp")
        ]
        .map(|(n, t)| (n.to_owned(), json!(t)))
    );
    let row = &r.body["results"][0]["rows"][0];
    assert_eq!(
        row.as_array().unwrap()[..6],
        json!([
            "app.todo_events",
            "app.todo_events",
            null,
            2,
            "604800",
            "1073741824"
        ])
        .as_array()
        .unwrap()[..]
    );
    let routes: Value = serde_json::from_str(row[6].as_str().unwrap()).unwrap();
    assert_eq!(
        routes,
        json!([{"table_id":{"namespace_id":"app","table_name":"todos"},"op":"Insert",
                "payload_mode":"Key","filter_expr":null,"partition_key_expr":null}])
    );
    // system.topic_offsets: one row per committed (topic, group, partition).
    assert_eq!(
        c.rows(&admin, "SELECT * FROM system.topic_offsets").await,
        json!([])
    );
    c.ok(
        &admin,
        "ACK app.todo_events GROUP 'g1' PARTITION 1 UPTO OFFSET 4",
    )
    .await;
    c.ok(
        &admin,
        "ACK app.todo_events GROUP 'g1' PARTITION 1 UPTO OFFSET 2",
    )
    .await;
    let r = c
        .sql(
            &admin,
            "SELECT topic_id, group_id, partition_id, last_acked_offset FROM system.topic_offsets",
        )
        .await;
    assert_eq!(
        r.body["results"][0]["rows"],
        json!([["app.todo_events", "g1", 1, "4"]])
    );
    let flags: Vec<Value> = r.body["results"][0]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flags"].clone())
        .collect();
    assert_eq!(
        flags,
        [
            json!(["pk", "nn", "uq"]),
            json!(["pk", "nn", "uq"]),
            json!(["pk", "nn", "uq"]),
            json!(["nn"])
        ]
    );
    // Only dba/system may read them.
    for t in ["schemas", "topics", "topic_offsets"] {
        let r = c.sql(&alice, &format!("SELECT * FROM system.{t}")).await;
        assert_eq!(r.status, 403, "system.{t}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "PERMISSION_DENIED");
    }
}

#[tokio::test]
async fn alter_table_keeps_data_across_rename_add_and_drop() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(&alice, "INSERT INTO app.todos (id, title, price) VALUES (1, 'Buy milk', 3.5), (2, 'Call Bob', NULL)").await;
    c.ok(&alice, "ALTER TABLE app.todos RENAME COLUMN title TO label")
        .await;
    assert_eq!(
        c.rows(&alice, "SELECT id, label, price FROM app.todos")
            .await,
        json!([["1", "Buy milk", "3.50"], ["2", "Call Bob", null]])
    );
    // Several renames in sequence, then unrelated ALTERs: values follow their column.
    c.ok(&admin, "ALTER TABLE app.todos RENAME COLUMN label TO name")
        .await;
    c.ok(&admin, "ALTER TABLE app.todos RENAME COLUMN price TO cost")
        .await;
    c.ok(&admin, "ALTER TABLE app.todos ADD COLUMN title TEXT")
        .await;
    c.ok(&admin, "ALTER TABLE app.todos DROP COLUMN done").await;
    assert_eq!(
        c.rows(&alice, "SELECT id, name, cost, title FROM app.todos")
            .await,
        json!([
            ["1", "Buy milk", "3.50", null],
            ["2", "Call Bob", null, null]
        ])
    );
    // The old name is gone; writes use the new one.
    let r = c.sql(&alice, "SELECT label FROM app.todos").await;
    assert_eq!(r.status, 400, "{}", r.body);
    c.ok(
        &alice,
        "INSERT INTO app.todos (id, name) VALUES (3, 'Water plants')",
    )
    .await;
    assert_eq!(
        c.rows(&alice, "SELECT name FROM app.todos WHERE id = 3")
            .await,
        json!([["Water plants"]])
    );
    assert_eq!(
        c.rows(
            &admin,
            "SELECT version FROM system.tables WHERE namespace_id = 'app' AND table_name = 'todos'"
        )
        .await,
        json!([["6"]])
    );
}

#[tokio::test]
async fn rate_limits_on_queries_and_auth_attempts() {
    // A long window makes "the next one is refused" independent of timing.
    // (the fixture itself spends two of admin's queries and two login attempts)
    let (_emu, c, admin, alice) = fixture_on(
        Emulator::builder().rate_limits(
            RateLimits::default()
                .queries_per_user(Some(3))
                .auth_attempts_per_ip(Some(3))
                .window(Duration::from_secs(3600)),
        ),
    )
    .await;
    for _ in 0..3 {
        c.ok(&alice, "SELECT 1").await;
    }
    let r = c.sql(&alice, "SELECT 1").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["results"], json!([]));
    assert_eq!(r.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    // Per user: admin still has its budget.
    c.ok(&admin, "SELECT 1").await;
    // Authentication attempts per IP: the third is allowed, then login and refresh get 429.
    c.login("alice", "Secret123!").await;
    let refused = json!({"error": "rate_limited", "message": "Too many authentication attempts. Please retry shortly."});
    let r = c
        .post(
            None,
            "/v1/api/auth/login",
            json!({"user": "alice", "password": "Secret123!"}),
        )
        .await;
    assert_eq!((r.status, &r.body), (429, &refused));
    let r = c.post(None, "/v1/api/auth/refresh", json!({})).await;
    assert_eq!((r.status, &r.body), (429, &refused));
    // The defaults limit nothing.
    let free = Emulator::start().await.unwrap();
    let c = Client::new(&free);
    let tok = c.login("admin", "AdminPass123!").await;
    for _ in 0..150 {
        c.ok(&tok, "SELECT 1").await;
    }
}

#[tokio::test]
async fn cell_encoding_of_every_type() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(&admin, "CREATE TABLE app.types (id BIGINT PRIMARY KEY, b BOOLEAN, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, t TEXT, ts TIMESTAMP, dt DATE, dtm DATETIME, tm TIME, j JSON, bt BYTES, e EMBEDDING(3), u UUID, dec DECIMAL(10, 2), dec0 DECIMAL(5, 0), fl FILE) WITH (TYPE = 'USER')").await;
    c.ok(&alice, r#"INSERT INTO app.types (id, b, si, i, bi, f, d, t, ts, dt, dtm, tm, j, bt, e, u, dec, dec0)
          VALUES (1, true, 7, 42, 9007199254740993, 0.1, 2.5, 'hi', '2025-06-01T00:00:05Z', '2025-06-01',
          '2025-06-01T00:00:05Z', '12:34:56', '{"a":1}', 'hi', '[0.25, -1.0, 0.5]',
          '0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11', 12.5, 13)"#).await;
    c.ok(
        &alice,
        "INSERT INTO app.types (id, dec, dec0) VALUES (2, -0.5, -3)",
    )
    .await;
    let r = c.ok(&alice, "SELECT * FROM app.types").await;
    let rows = &r["results"][0]["rows"];
    let row1 = rows[0].as_array().unwrap();
    assert_eq!(
        &row1[..19],
        json!([
            "1",
            true,
            7,
            42,
            "9007199254740993",
            0.10000000149011612,
            2.5,
            "hi",
            1748736005000000i64,
            20240,
            1748736005000000i64,
            45296000000i64,
            "{\"a\":1}",
            [104, 105],
            [0.25, -1.0, 0.5],
            "0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11",
            "12.50",
            "13",
            null
        ])
        .as_array()
        .unwrap()
        .as_slice()
    );
    assert_eq!(rows[1][16], "0.50", "the (-1, 0) sign bug");
    assert_eq!(rows[1][17], "-3");
    let types: Vec<Value> = r["results"][0]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["data_type"].clone())
        .collect();
    assert_eq!(types[14], json!({"Embedding": 3}));
    assert_eq!(types[15], json!("Uuid"));
    assert_eq!(types[18], json!("File"));
    // EMBEDDING quirk: with params a NULL embedding is stored as zeros.
    c.sql_with(
        &alice,
        json!({"sql":"INSERT INTO app.types (id, e) VALUES ($1, NULL)","params":[3]}),
    )
    .await;
    assert_eq!(
        c.rows(&alice, "SELECT e FROM app.types WHERE id = 3").await,
        json!([[[0.0, 0.0, 0.0]]])
    );
    // 0.4.3 zero-fill of omitted NOT NULL columns.
    c.ok(&admin, "CREATE TABLE app.nn (id BIGINT PRIMARY KEY, a TEXT NOT NULL, b INT NOT NULL, c BOOLEAN NOT NULL, d TIMESTAMP NOT NULL) WITH (TYPE = 'USER')").await;
    c.ok(&alice, "INSERT INTO app.nn (id) VALUES (1)").await;
    assert_eq!(
        c.rows(&alice, "SELECT id, a, b, c, d FROM app.nn").await,
        json!([["1", "", 0, false, 0]])
    );
}

#[tokio::test]
async fn expression_names_types_and_cells() {
    let (_emu, c, admin, alice) = fixture().await;
    let r = c
        .ok(&admin, "SELECT 1, 1.5, 'a', true, NULL, CAST(1 AS TINYINT) AS t8, CAST(5 AS BIGINT UNSIGNED) AS u64, arrow_cast(1, 'Int16') AS i16, [1, 2] AS l, NOW() AS n, to_timestamp_millis(1000) AS ms, CAST('12:00:00' AS TIME) AS tt, CAST(-0.5 AS DECIMAL(5,2)) AS neg")
        .await;
    let res = &r["results"][0];
    let names: Vec<Value> = res["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["name"], s["data_type"]]))
        .collect();
    assert_eq!(
        names,
        vec![
            json!(["Int64(1)", "BigInt"]),
            json!(["Float64(1.5)", "Double"]),
            json!(["Utf8(\"a\")", "Text"]),
            json!(["Boolean(true)", "Boolean"]),
            json!(["NULL", "Text"]),
            json!(["t8", "Text"]),
            json!(["u64", "Text"]),
            json!(["i16", "SmallInt"]),
            json!(["l", "Text"]),
            json!(["n", "Timestamp"]),
            json!(["ms", "Timestamp"]),
            json!(["tt", "Time"]),
            json!(["neg", {"Decimal": {"precision": 5, "scale": 2}}])
        ]
    );
    let row = res["rows"][0].as_array().unwrap();
    assert_eq!(
        &row[..9],
        json!(["1", 1.5, "a", true, null, 1, "5", 1, ["1", "2"]])
            .as_array()
            .unwrap()
            .as_slice()
    );
    assert_eq!(row[10], 1000);
    assert_eq!(row[11], 43_200_000_000_000i64);
    assert_eq!(row[12], "0.50");
    let r = c.ok(&alice, "SELECT COUNT(*) FROM app.todos").await;
    assert_eq!(
        r["results"][0]["schema"],
        json!([{"name": "count(*)", "data_type": "BigInt", "index": 0}])
    );
    let r = c
        .ok(
            &alice,
            "SELECT CURRENT_USER() AS u, CURRENT_USER AS v, KDB_CURRENT_USER() AS w",
        )
        .await;
    assert_eq!(
        r["results"][0]["rows"],
        json!([["alice", "alice", "alice"]])
    );
}

#[tokio::test]
async fn nan_closes_the_streamed_connection_and_fails_the_batch() {
    let (_emu, c, admin, alice) = fixture().await;
    let err = c
        .http
        .post(format!("{}/v1/api/sql", c.base))
        .bearer_auth(&alice)
        .json(&json!({"sql": "SELECT CAST('NaN' AS DOUBLE) AS x"}))
        .send()
        .await;
    assert!(err.is_err(), "the streamed path answered: {err:?}");
    let r = c
        .sql(&admin, "SELECT 1 AS a; SELECT CAST('NaN' AS DOUBLE) AS x")
        .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to serialize SQL result:")
    );
    let r = c
        .sql(&alice, "SELECT 1 AS a; SELECT CAST('NaN' AS DOUBLE) AS x")
        .await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"INTERNAL_ERROR","message":"SQL request failed"}})
    );
    // The emulator keeps serving.
    assert_eq!(c.rows(&alice, "SELECT 2 AS two").await, json!([["2"]]));
}

#[tokio::test]
async fn metadata_copied_from_source_columns() {
    let (_emu, c, admin, _alice) = fixture().await;
    c.ok(&admin, "CREATE NAMESPACE shop").await;
    c.ok(&admin, "CREATE TABLE shop.customers (id BIGINT PRIMARY KEY, name TEXT NOT NULL) WITH (TYPE = 'SHARED')").await;
    c.ok(&admin, "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, customer_id BIGINT, qty INT NOT NULL) WITH (TYPE = 'SHARED')").await;
    let casts = "SELECT CAST(qty AS BIGINT) AS q, CAST(id AS TEXT) AS s FROM shop.orders";
    // On an empty table the aliased casts are described by their source columns.
    let r = c.ok(&admin, casts).await;
    assert_eq!(
        r["results"][0]["schema"],
        json!([{"name":"q","data_type":"Int","index":0,"flags":["nn"]},
               {"name":"s","data_type":"BigInt","index":1,"flags":["pk","nn","uq"]}])
    );
    c.ok(
        &admin,
        "INSERT INTO shop.orders (id, customer_id, qty) VALUES (1, 9, 2)",
    )
    .await;
    // The outer side of a LEFT JOIN keeps its `nn` flag while its cells are null.
    let r = c.ok(&admin, "SELECT o.id, c.name FROM shop.orders o LEFT JOIN shop.customers c ON c.id = o.customer_id").await;
    assert_eq!(
        r["results"][0]["schema"][1],
        json!({"name":"name","data_type":"Text","index":1,"flags":["nn"]})
    );
    assert_eq!(r["results"][0]["rows"], json!([["1", null]]));
    // With rows, the described type no longer fits the values: the streamed path drops the
    // connection, a batch answers 500.
    for q in [
        "SELECT CAST(qty AS BIGINT) AS q FROM shop.orders",
        "SELECT CAST(id AS TEXT) AS s FROM shop.orders",
    ] {
        let sent = c
            .http
            .post(format!("{}/v1/api/sql", c.base))
            .bearer_auth(&admin)
            .json(&json!({ "sql": q }))
            .send()
            .await;
        assert!(sent.is_err(), "{q}: the streamed path answered: {sent:?}");
    }
    let r = c.sql(&admin, &format!("SELECT 1 AS a; {casts}")).await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "INTERNAL_ERROR");
    // Plain references and unaliased casts of the same type are fine.
    assert_eq!(
        c.rows(
            &admin,
            "SELECT id, CAST(qty AS INT) AS q, qty FROM shop.orders"
        )
        .await,
        json!([["1", 2, 2]])
    );
}

#[tokio::test]
async fn request_errors_codes_and_redaction() {
    let (_emu, c, admin, alice) = fixture().await;
    let post = |tok: &str, data: &'static str, ct: &'static str| {
        c.http
            .post(format!("{}/v1/api/sql", c.base))
            .bearer_auth(tok)
            .header("Content-Type", ct)
            .body(data)
    };
    let r = c.send(post(&alice, "not json", "application/json")).await;
    assert_eq!(r.body["error"]["code"], "INVALID_INPUT");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON payload: Json deserialize error:")
    );
    let r = c
        .send(post(&alice, "{\"sql\":\"SELECT 1\"}", "text/plain"))
        .await;
    assert_eq!(
        r.body["error"]["message"],
        "Invalid JSON payload: Content type error"
    );
    let r = c
        .send(post(
            &alice,
            "{\"sql\":\"SELECT 1\",\"bogus\":1}",
            "application/json",
        ))
        .await;
    assert_eq!(r.status, 200);
    for (sql, code, adm, public) in [
        (
            "",
            "EMPTY_SQL",
            "No SQL statements provided",
            "No SQL statements provided",
        ),
        (
            "  ;  ; ",
            "EMPTY_SQL",
            "No SQL statements provided",
            "No SQL statements provided",
        ),
        (
            "SELECT 'abc; SELECT 2",
            "BATCH_PARSE_ERROR",
            "Failed to parse SQL batch: Unterminated quoted string in SQL batch",
            "Failed to parse SQL batch",
        ),
    ] {
        assert_eq!(
            c.sql(&admin, sql).await.body["error"],
            json!({"code": code, "message": adm})
        );
        assert_eq!(
            c.sql(&alice, sql).await.body["error"],
            json!({"code": code, "message": public})
        );
    }
    let r = c.sql(&admin, "SELEC 1").await;
    assert_eq!(r.body["error"]["code"], "INVALID_SQL");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("sql parser error:")
    );
    assert_eq!(
        c.sql(&alice, "SELEC 1").await.body["error"]["message"],
        "SQL statement is invalid or not allowed"
    );
    let long = format!("SELECT 1 -- {}", "x".repeat(1_048_576));
    let r = c.sql(&alice, &long).await;
    assert_eq!(
        r.body["error"],
        json!({"code":"INVALID_SQL","message":"SQL query too long: 1048588 bytes (maximum 1048576 bytes)"})
    );
    let r = c.sql(&alice, "SELECT nope FROM app.todos").await;
    assert!(
        r.body["error"]["message"].as_str().unwrap().starts_with(
            "Statement 1 failed: Invalid operation: Schema error: No field named nope."
        )
    );
    let r = c.sql(&admin, "SELECT 1 AS a; SELECT * FROM app.nope").await;
    let e = &r.body["error"];
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Statement 2 failed: Table not found")
    );
    assert_eq!(e["details"], "SELECT * FROM app.nope");
    assert_eq!(
        c.sql(&alice, "SELECT 1 AS a; SELECT * FROM app.nope")
            .await
            .body["error"],
        json!({"code":"SQL_EXECUTION_ERROR","message":"SQL statement failed"})
    );
    let r = c
        .sql_with(
            &alice,
            json!({"sql":"INSERT INTO app.docs (id, f) VALUES (1, FILE(\"x\"))"}),
        )
        .await;
    assert_eq!(
        r.body["error"],
        json!({"code":"INVALID_INPUT","message":"FILE placeholders require multipart/form-data"})
    );
}

#[tokio::test]
async fn transactions_use_and_flush() {
    let (_emu, c, admin, alice) = fixture().await;
    let r = c.sql(&admin, "BEGIN").await;
    assert_eq!(
        strip_took(r.body),
        json!({"status":"error","results":[],"error":{"code":"SQL_EXECUTION_ERROR","message":"Request completed with an open explicit transaction; rolled back automatically"}})
    );
    c.sql(
        &alice,
        "BEGIN; INSERT INTO app.todos (id, title) VALUES (7, 'tx')",
    )
    .await;
    assert_eq!(c.rows(&alice, "SELECT id FROM app.todos").await, json!([]));
    c.ok(
        &alice,
        "BEGIN; INSERT INTO app.todos (id, title) VALUES (8, 'tx'); COMMIT",
    )
    .await;
    assert_eq!(
        c.rows(&alice, "SELECT id FROM app.todos").await,
        json!([["8"]])
    );
    c.ok(
        &alice,
        "BEGIN; DELETE FROM app.todos WHERE id = 8; ROLLBACK",
    )
    .await;
    assert_eq!(
        c.rows(&alice, "SELECT id FROM app.todos").await,
        json!([["8"]])
    );
    let r = c
        .ok(&alice, "USE app; SELECT id FROM todos WHERE id = 8")
        .await;
    assert_eq!(r["results"][1]["rows"], json!([["8"]]));
    assert_eq!(
        c.sql(&alice, "SELECT id FROM todos WHERE id = 8")
            .await
            .status,
        400
    );
    let r = c.ok(&admin, "STORAGE FLUSH TABLE app.todos").await;
    assert!(
        r["results"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Storage flush started for table 'app.todos'. Job ID: FL-")
    );
}

#[tokio::test]
async fn user_isolation_pk_per_partition_and_shared_access() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(
        &admin,
        "CREATE USER 'bob' WITH PASSWORD 'Secret123!' ROLE user",
    )
    .await;
    let bob = c.login("bob", "Secret123!").await;
    c.ok(
        &alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'alice')",
    )
    .await;
    c.ok(&bob, "INSERT INTO app.todos (id, title) VALUES (1, 'bob')")
        .await;
    let r = c
        .sql(
            &bob,
            "INSERT INTO app.todos (id, title) VALUES (1, 'again')",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["message"],
        "Statement 1 failed: Already exists: Primary key violation: value '1' already exists in column 'id'"
    );
    assert_eq!(
        c.rows(&alice, "SELECT title FROM app.todos").await,
        json!([["alice"]])
    );
    assert_eq!(
        c.rows(&bob, "SELECT title FROM app.todos").await,
        json!([["bob"]])
    );
    c.ok(&bob, "UPDATE app.todos SET title = 'bob2' WHERE id = 1")
        .await;
    assert_eq!(
        c.rows(&alice, "SELECT title FROM app.todos").await,
        json!([["alice"]])
    );
    let r = c.ok(&bob, "DELETE FROM app.todos WHERE id = 1").await;
    assert_eq!(r["results"][0]["message"], "Deleted 1 row(s)");
    assert_eq!(c.rows(&bob, "SELECT title FROM app.todos").await, json!([]));
    // A deleted key can be reused.
    c.ok(&bob, "INSERT INTO app.todos (id, title) VALUES (1, 'back')")
        .await;
    c.ok(&admin, "CREATE SHARED TABLE app.board (id BIGINT PRIMARY KEY, msg TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')").await;
    c.ok(
        &admin,
        "INSERT INTO app.board (id, msg) VALUES (7, 'hello')",
    )
    .await;
    let r = c
        .sql(&alice, "INSERT INTO app.board (id, msg) VALUES (8, 'x')")
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["code"], "PERMISSION_DENIED");
    assert_eq!(
        c.rows(&alice, "SELECT msg FROM app.board").await,
        json!([["hello"]])
    );
    c.ok(
        &admin,
        "CREATE SHARED TABLE app.secret (id BIGINT PRIMARY KEY)",
    )
    .await;
    assert_eq!(c.sql(&alice, "SELECT * FROM app.secret").await.status, 403);
    let r = c
        .sql(
            &alice,
            "CREATE SHARED TABLE app.mine (id BIGINT PRIMARY KEY)",
        )
        .await;
    assert_eq!(r.status, 403);
}

/// A `system` caller's SELECT on a USER table returns every user's rows; its writes, a dba's
/// SELECT (by default), STREAM tables and `EXECUTE AS` stay in one partition.
#[tokio::test]
async fn system_selects_read_every_users_partition() {
    let check = |dba_too: bool| async move {
        let builder = if dba_too {
            Emulator::builder().cross_partition_readers([Role::Dba, Role::System])
        } else {
            Emulator::builder()
        };
        let (_emu, c, admin, alice) = fixture_on(builder).await;
        let root = c.login("root", kalam_emulator::DEFAULT_ROOT_PASSWORD).await;
        c.ok(
            &alice,
            "INSERT INTO app.todos (id, title) VALUES (1, 'alice')",
        )
        .await;
        c.ok(
            &root,
            "INSERT INTO app.todos (id, title) VALUES (1, 'root')",
        )
        .await;
        let all = json!([["1", "alice"], ["1", "root"]]);
        let sql = "SELECT id, title FROM app.todos ORDER BY title";
        assert_eq!(c.rows(&root, sql).await, all);
        let count = c.rows(&root, "SELECT COUNT(*) AS n FROM app.todos").await;
        assert_eq!(count, json!([["2"]]));
        let dba_sees = if dba_too { all.clone() } else { json!([]) };
        assert_eq!(c.rows(&admin, sql).await, dba_sees);
        assert_eq!(c.rows(&alice, sql).await, json!([["1", "alice"]]));
        // Impersonation reads the target's partition only.
        let as_alice = "EXECUTE AS USER 'alice' (SELECT id, title FROM app.todos)";
        assert_eq!(c.rows(&root, as_alice).await, json!([["1", "alice"]]));
        // An UPDATE matches the caller's own rows, however wide its SELECTs are.
        let r = c
            .ok(
                &root,
                "UPDATE app.todos SET title = 'x' WHERE title = 'alice'",
            )
            .await;
        assert_eq!(r["results"][0]["message"], "Updated 0 row(s)");
        c.ok(&root, "UPDATE app.todos SET title = 'root2' WHERE id = 1")
            .await;
        assert_eq!(
            c.rows(&alice, "SELECT title FROM app.todos").await,
            json!([["alice"]])
        );
        // STREAM tables stay per partition for every role.
        c.ok(&admin, "CREATE STREAM TABLE app.ev (id BIGINT PRIMARY KEY, msg TEXT) WITH (TTL_SECONDS = 3600)")
            .await;
        c.ok(&alice, "INSERT INTO app.ev (id, msg) VALUES (1, 'alice')")
            .await;
        for tok in [&root, &admin] {
            assert_eq!(c.rows(tok, "SELECT id FROM app.ev").await, json!([]));
        }
    };
    check(false).await;
    check(true).await;
}

#[tokio::test]
async fn dml_defaults_not_null_and_current_user() {
    let (_emu, c, admin, alice) = fixture().await;
    c.ok(&admin, "CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), owner TEXT DEFAULT CURRENT_USER(), body TEXT NOT NULL, at TIMESTAMP DEFAULT NOW()) WITH (TYPE = 'USER')").await;
    c.ok(&alice, "INSERT INTO app.notes (body) VALUES ('a'), ('b')")
        .await;
    let rows = c.rows(&alice, "SELECT id, owner, at FROM app.notes").await;
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0][1], "alice");
    assert!(rows[0][0].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert!(rows[0][2].as_i64().unwrap() > 1_700_000_000_000_000);
    let r = c
        .sql(&alice, "INSERT INTO app.notes (body) VALUES (NULL)")
        .await;
    assert_eq!(r.status, 400);
    c.ok(
        &alice,
        "UPDATE app.notes SET body = UPPER(body) || '!' WHERE body = 'a'",
    )
    .await;
    assert_eq!(
        c.rows(&alice, "SELECT body FROM app.notes WHERE body LIKE 'A%'")
            .await,
        json!([["A!"]])
    );
    let r = c
        .ok(
            &alice,
            "INSERT INTO app.notes (body) SELECT body FROM app.notes",
        )
        .await;
    assert_eq!(r["results"][0]["row_count"], 2);
}

#[tokio::test]
async fn users_me_logout_and_cookies() {
    let (_emu, c, admin, alice) = fixture().await;
    let r = c
        .send(
            c.http
                .get(format!("{}/v1/api/auth/me", c.base))
                .bearer_auth(&alice),
        )
        .await;
    assert_eq!(r.body["user"]["id"], "alice");
    assert_eq!(r.body["admin_ui_access"], false);
    let r = c
        .send(
            c.http
                .get(format!("{}/v1/api/auth/me", c.base))
                .header("Cookie", format!("kalamdb_auth={alice}")),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .send(c.http.get(format!("{}/v1/api/auth/me", c.base)))
        .await;
    assert_eq!(
        r.body,
        json!({"error":"unauthorized","message":"No auth token found"})
    );
    let r = c
        .send(c.http.post(format!("{}/v1/api/auth/logout", c.base)))
        .await;
    assert_eq!(r.body, json!({"message":"Logged out successfully"}));
    let r = c
        .send(
            c.http
                .post(format!("{}/v1/api/sql", c.base))
                .header("Cookie", format!("kalamdb_auth={alice}"))
                .json(&json!({"sql":"SELECT 1"})),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "MISSING_AUTHORIZATION");
    c.ok(
        &admin,
        "CREATE USER 'carol' WITH PASSWORD 'Secret123!' ROLE service",
    )
    .await;
    let carol = c.login("carol", "Secret123!").await;
    c.ok(&admin, "DROP USER 'carol'").await;
    assert_eq!(c.sql(&carol, "SELECT 1").await.status, 401);
}

#[tokio::test]
async fn fault_controls() {
    let (emu, c, _admin, alice) = fixture().await;
    emu.faults()
        .fail_next(503, "NOT_LEADER", "Leader: http://127.0.0.1:1");
    let r = c.sql(&alice, "SELECT 1").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["error"]["code"], "NOT_LEADER");
    assert_eq!(c.sql(&alice, "SELECT 1").await.status, 200);
    c.ok(
        &alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'kept')",
    )
    .await;
    emu.faults().restart().await;
    // Tokens and rows survive a restart on the same port.
    assert_eq!(
        c.rows(&alice, "SELECT title FROM app.todos").await,
        json!([["kept"]])
    );
    emu.faults().refuse_connections(Duration::from_millis(300));
    let fresh = reqwest::Client::new();
    loop {
        // Wait until the listener is closed (the request fails), then until it is back.
        if fresh
            .get(format!("{}/health", c.base))
            .send()
            .await
            .is_err()
        {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        if fresh.get(format!("{}/health", c.base)).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let conn = reqwest::Client::new();
    conn.get(format!("{}/health", c.base)).send().await.unwrap();
    assert!(emu.faults().drop_connections() >= 1);
}

#[tokio::test]
async fn change_feed_reports_every_committed_change() {
    let (emu, c, _admin, alice) = fixture().await;
    let mut feed = emu.changes();
    c.ok(&alice, "INSERT INTO app.todos (id, title) VALUES (1, 'a')")
        .await;
    c.ok(&alice, "UPDATE app.todos SET title = 'b' WHERE id = 1")
        .await;
    c.ok(&alice, "DELETE FROM app.todos WHERE id = 1").await;
    let ins = feed.recv().await.unwrap();
    let upd = feed.recv().await.unwrap();
    let del = feed.recv().await.unwrap();
    assert_eq!(ins.kind, kalam_emulator::ChangeKind::Insert);
    assert_eq!(ins.owner.as_deref(), Some("alice"));
    assert_eq!(upd.kind, kalam_emulator::ChangeKind::Update);
    assert_eq!(upd.old.as_ref().unwrap().seq, ins.new.as_ref().unwrap().seq);
    assert_eq!(del.kind, kalam_emulator::ChangeKind::Delete);
    let tomb = del.new.as_ref().unwrap();
    assert!(tomb.deleted && tomb.seq > upd.new.as_ref().unwrap().seq);
    assert_eq!(tomb.values[1], kalam_emulator::Value::Text("b".into()));
    // A rolled-back transaction publishes nothing.
    c.ok(
        &alice,
        "BEGIN; INSERT INTO app.todos (id, title) VALUES (2, 'x'); ROLLBACK",
    )
    .await;
    c.ok(&alice, "INSERT INTO app.todos (id, title) VALUES (3, 'y')")
        .await;
    let next = feed.recv().await.unwrap();
    assert_eq!(
        next.new.as_ref().unwrap().values[0],
        kalam_emulator::Value::BigInt(3)
    );
}

#[tokio::test]
async fn seq_ids_are_snowflakes_and_increase() {
    let (_emu, c, _admin, alice) = fixture().await;
    c.ok(
        &alice,
        "INSERT INTO app.todos (id, title) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    .await;
    let rows = c
        .rows(&alice, "SELECT _seq FROM app.todos ORDER BY id")
        .await;
    let seqs: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]));
    let ms = (seqs[0] >> 22) + 1_704_067_200_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now - ms).abs() < 60_000);
}

#[tokio::test]
async fn many_inserts_and_a_large_select() {
    let emu = Emulator::builder()
        .user("alice", "Secret123!", Role::Dba)
        .max_query_limit(20_000)
        .start()
        .await
        .unwrap();
    let c = Client::new(&emu);
    let alice = c.login("alice", "Secret123!").await;
    c.ok(&alice, "CREATE NAMESPACE app").await;
    c.ok(
        &alice,
        "CREATE TABLE app.big (id BIGINT PRIMARY KEY, v TEXT, n INT) WITH (TYPE = 'USER')",
    )
    .await;
    let started = std::time::Instant::now();
    for chunk in 0..10 {
        let futs = (0..1000).map(|i| {
            let id = chunk * 1000 + i;
            let c = &c;
            let alice = &alice;
            async move {
                let r = c
                    .sql_with(alice, json!({"sql":"INSERT INTO app.big (id, v, n) VALUES ($1, $2, $3)","params":[id, format!("row {id}"), id % 7]}))
                    .await;
                assert_eq!(r.status, 200);
            }
        });
        futures_util::future::join_all(futs).await;
    }
    let inserted = started.elapsed();
    let started = std::time::Instant::now();
    let r = c.ok(&alice, "SELECT * FROM app.big LIMIT 10000").await;
    assert_eq!(r["results"][0]["row_count"], 10_000);
    eprintln!(
        "10000 inserts: {inserted:?}; 10000-row select: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn schemas_dir_is_applied_at_start() {
    let dir = std::env::temp_dir().join(format!("kalam-emu-schemas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.sql"), "CREATE NAMESPACE app;\nCREATE TABLE app.t (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE = 'USER');").unwrap();
    let started = std::time::Instant::now();
    let emu = Emulator::builder().schemas_dir(&dir).start().await.unwrap();
    let c = Client::new(&emu);
    let admin = c.login("admin", "AdminPass123!").await;
    c.ok(&admin, "INSERT INTO app.t (id, v) VALUES (1, 'x')")
        .await;
    eprintln!("start-up to first answered query: {:?}", started.elapsed());
    std::fs::remove_dir_all(&dir).unwrap();
}
