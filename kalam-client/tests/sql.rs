//! SQL against a real server (the emulator over loopback, or `KALAMDB_SERVER_URL`):
//! every column type through insert and select, params, NULLs, errors, retries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kalam_client::types::{
    Date, DateTime, Decimal, FileRef, Json, JsonValue, Time, Timestamp, Uuid,
};
use kalam_client::{
    AuthProvider, ColumnSpec, Error, ErrorCode, ErrorKind, HttpVersion, KalamClient, KalamRow,
    QueryParam, Row, RowRef,
};
use kalam_tests::{TestServer, server_or_skip};
use serde_json::json;
use support::{admin_builder, admin_client, exec, insert_rows, user_client};

/// One row of the all-types table; every column but the key is nullable.
#[derive(Debug, Clone, PartialEq)]
struct AllTypes {
    id: i64,
    b: Option<bool>,
    s: Option<i16>,
    i: Option<i32>,
    l: Option<i64>,
    f: Option<f32>,
    d: Option<f64>,
    txt: Option<String>,
    ts: Option<Timestamp>,
    dt: Option<DateTime>,
    da: Option<Date>,
    tm: Option<Time>,
    j: Option<JsonValue>,
    bin: Option<Vec<u8>>,
    emb: Option<Vec<f32>>,
    u: Option<Uuid>,
    amount: Option<Decimal>,
    doc: Option<FileRef>,
}

impl KalamRow for AllTypes {
    fn columns() -> &'static [ColumnSpec] {
        const C: &[ColumnSpec] = &[
            ColumnSpec::named::<i64>("id"),
            ColumnSpec::named::<Option<bool>>("b"),
            ColumnSpec::named::<Option<i16>>("s"),
            ColumnSpec::named::<Option<i32>>("i"),
            ColumnSpec::named::<Option<i64>>("l"),
            ColumnSpec::named::<Option<f32>>("f"),
            ColumnSpec::named::<Option<f64>>("d"),
            ColumnSpec::named::<Option<String>>("txt"),
            ColumnSpec::named::<Option<Timestamp>>("ts"),
            ColumnSpec::named::<Option<DateTime>>("dt"),
            ColumnSpec::named::<Option<Date>>("da"),
            ColumnSpec::named::<Option<Time>>("tm"),
            ColumnSpec::named::<Option<JsonValue>>("j"),
            ColumnSpec::named::<Option<Vec<u8>>>("bin"),
            ColumnSpec::named::<Option<Vec<f32>>>("emb"),
            ColumnSpec::named::<Option<Uuid>>("u"),
            ColumnSpec::named::<Option<Decimal>>("amount"),
            ColumnSpec::named::<Option<FileRef>>("doc"),
        ];
        C
    }
    fn from_row(row: &RowRef<'_>) -> kalam_client::Result<Self> {
        Ok(AllTypes {
            id: row.get(0)?,
            b: row.get(1)?,
            s: row.get(2)?,
            i: row.get(3)?,
            l: row.get(4)?,
            f: row.get(5)?,
            d: row.get(6)?,
            txt: row.get(7)?,
            ts: row.get(8)?,
            dt: row.get(9)?,
            da: row.get(10)?,
            tm: row.get(11)?,
            j: row.get(12)?,
            bin: row.get(13)?,
            emb: row.get(14)?,
            u: row.get(15)?,
            amount: row.get(16)?,
            doc: row.get(17)?,
        })
    }
}

const ALL_COLUMNS: &str = "id, b, s, i, l, f, d, txt, ts, dt, da, tm, j, bin, emb, u, amount, doc";

async fn create_all_types(client: &KalamClient, ns: &str) {
    kalam_client::query(format!(
        "CREATE TABLE {ns}.all_types (
                id BIGINT PRIMARY KEY, b BOOLEAN, s SMALLINT, i INT, l BIGINT, f FLOAT,
                d DOUBLE, txt TEXT, ts TIMESTAMP, dt DATETIME, da DATE, tm TIME, j JSON,
                bin BYTES, emb EMBEDDING(3), u UUID, amount DECIMAL(10, 2), doc FILE
            ) WITH (TYPE = 'SHARED')"
    ))
    .execute(client)
    .await
    .unwrap();
}

/// A server (or `None` when `NO_SERVER=true`), a fresh namespace holding the all-types
/// table, and an admin client.
async fn all_types_fixture(prefix: &str) -> Option<(TestServer, String, KalamClient)> {
    let server = TestServer::start().await?;
    let ns = server.fresh_namespace(prefix).await;
    let client = admin_client(&server);
    create_all_types(&client, &ns).await;
    Some((server, ns, client))
}

fn sample_file() -> FileRef {
    FileRef {
        id: "384961450524803072".into(),
        sub: "f0001".into(),
        name: "Contract \"final\".pdf".into(),
        size: 13,
        mime: "application/pdf".into(),
        sha256: "eddc31937fbdaf708e866af0d20b9fb8c79dd001881c8a11e4c617f2882e779f".into(),
        shard: None,
    }
}

fn sample_row(id: i64) -> AllTypes {
    AllTypes {
        id,
        b: Some(true),
        s: Some(i16::MIN),
        i: Some(i32::MAX),
        l: Some(9_007_199_254_740_993),
        f: Some(0.1),
        d: Some(-2.5e-300),
        txt: Some("héllo \"quoted\"\nline two ✓".into()),
        ts: Some("2025-06-01T00:00:05.123456Z".parse().unwrap()),
        dt: Some("1969-07-20T20:17:40Z".parse().unwrap()),
        da: Some(Date::from_ymd(2025, 6, 1).unwrap()),
        tm: Some(Time::from_hms_micro(12, 34, 56, 1).unwrap()),
        j: Some(json!({"a": [1, 2, {"b": null}], "s": "x\"y"})),
        bin: Some(b"hi there".to_vec()),
        emb: Some(vec![0.25, -1.0, 0.1]),
        u: Some("0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11".parse().unwrap()),
        amount: Some("-12.35".parse().unwrap()),
        doc: Some(sample_file()),
    }
}

#[tokio::test]
async fn every_column_type_round_trips_through_params() {
    let Some((_server, ns, client)) = all_types_fixture("kc_types").await else {
        return;
    };

    let row = sample_row(1);
    let inserted = kalam_client::query(format!(
        "INSERT INTO {ns}.all_types ({ALL_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(row.id)
    .bind(row.b)
    .bind(row.s)
    .bind(row.i)
    .bind(row.l)
    .bind(row.f)
    .bind(row.d)
    .bind(row.txt.clone())
    .bind(row.ts)
    .bind(row.dt)
    .bind(row.da)
    .bind(row.tm)
    .bind(row.j.clone())
    .bind(row.bin.clone())
    .bind(row.emb.clone())
    .bind(row.u)
    .bind(row.amount)
    .bind(row.doc.clone())
    .execute(&client)
    .await
    .unwrap();
    assert_eq!(inserted, 1);

    let back: AllTypes = kalam_client::query_as(format!(
        "SELECT {ALL_COLUMNS} FROM {ns}.all_types WHERE id = $1"
    ))
    .bind(1)
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(back, row);
}

#[tokio::test]
async fn literal_inserts_decode_into_the_same_values() {
    let Some((_server, ns, client)) = all_types_fixture("kc_literal").await else {
        return;
    };
    let file = sample_file().to_json().replace('\'', "''");
    exec(&client, format!(
            "INSERT INTO {ns}.all_types ({ALL_COLUMNS}) VALUES (2, true, -32768, 2147483647, \
             9007199254740993, 0.1, -2.5e-300, 'héllo \"quoted\"\nline two ✓', \
             '2025-06-01T00:00:05.123456Z', '1969-07-20T20:17:40Z', '2025-06-01', '12:34:56.000001', \
             '{{\"a\": [1, 2, {{\"b\": null}}], \"s\": \"x\\\"y\"}}', 'hi there', NULL, \
             '0190f1e2-7c3a-7d4e-9b1a-2f6c8d0e4a11', -12.35, '{file}')"
        )).await;
    let back: AllTypes =
        kalam_client::query_as(format!("SELECT {ALL_COLUMNS} FROM {ns}.all_types"))
            .fetch_one(&client)
            .await
            .unwrap();
    assert_eq!(
        back,
        AllTypes {
            emb: None,
            ..sample_row(2)
        }
    );
}

#[tokio::test]
async fn nulls_decode_into_options_and_fail_into_plain_fields() {
    let Some((_server, ns, client)) = all_types_fixture("kc_nulls").await else {
        return;
    };
    // Without params: with params the server stores a NULL EMBEDDING as zeros (protocol 1.2).
    exec(
        &client,
        format!("INSERT INTO {ns}.all_types (id) VALUES (3)"),
    )
    .await;
    let back: AllTypes =
        kalam_client::query_as(format!("SELECT {ALL_COLUMNS} FROM {ns}.all_types"))
            .fetch_one(&client)
            .await
            .unwrap();
    assert_eq!(
        back,
        AllTypes {
            id: 3,
            b: None,
            s: None,
            i: None,
            l: None,
            f: None,
            d: None,
            txt: None,
            ts: None,
            dt: None,
            da: None,
            tm: None,
            j: None,
            bin: None,
            emb: None,
            u: None,
            amount: None,
            doc: None,
        }
    );
    // A NULL into a non-Option field is a Decode error naming the column.
    let err =
        kalam_client::query_as::<(i64, String)>(format!("SELECT id, txt FROM {ns}.all_types"))
            .fetch_all(&client)
            .await
            .unwrap_err();
    match err {
        Error::Decode { column, found, .. } => {
            assert_eq!(column, "txt");
            assert_eq!(found, "NULL");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    // NULL params bind as NULL.
    kalam_client::query(format!(
        "INSERT INTO {ns}.all_types (id, txt, ts) VALUES ($1, $2, $3)"
    ))
    .bind(4)
    .bind(None::<String>)
    .bind(QueryParam::Null)
    .execute(&client)
    .await
    .unwrap();
    let (txt, ts): (Option<String>, Option<Timestamp>) =
        kalam_client::query_as(format!("SELECT txt, ts FROM {ns}.all_types WHERE id = 4"))
            .fetch_one(&client)
            .await
            .unwrap();
    assert_eq!((txt, ts), (None, None));
}

#[tokio::test]
async fn params_of_every_scalar_kind_bind_in_where_clauses() {
    let Some((_server, ns, client)) = all_types_fixture("kc_where").await else {
        return;
    };
    let row = sample_row(5);
    kalam_client::query(format!(
        "INSERT INTO {ns}.all_types (id, b, s, i, l, d, txt, ts, da, u, amount) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(row.id)
    .bind(row.b)
    .bind(row.s)
    .bind(row.i)
    .bind(row.l)
    .bind(row.d)
    .bind(row.txt.clone())
    .bind(row.ts)
    .bind(row.da)
    .bind(row.u)
    .bind(row.amount)
    .execute(&client)
    .await
    .unwrap();
    let filters: Vec<(&str, QueryParam)> = vec![
        ("b = $1", QueryParam::from(true)),
        ("s = $1", QueryParam::from(i16::MIN)),
        ("i = $1", QueryParam::from(i32::MAX)),
        ("l = $1", QueryParam::from(9_007_199_254_740_993_i64)),
        ("d = $1", QueryParam::from(-2.5e-300)),
        ("txt = $1", QueryParam::from(row.txt.clone().unwrap())),
        (
            "ts = $1",
            QueryParam::Text("2025-06-01T00:00:05.123456Z".into()),
        ),
        ("da = $1", QueryParam::Text("2025-06-01".into())),
        // (`u = $1` is refused by DataFusion, as on the server: no comparison of
        // FixedSizeBinary(16) with Utf8.)
    ];
    for (filter, param) in filters {
        let ids: Vec<(i64,)> =
            kalam_client::query_as(format!("SELECT id FROM {ns}.all_types WHERE {filter}"))
                .bind(param)
                .fetch_all(&client)
                .await
                .unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(ids, vec![(5,)], "{filter}");
    }
    // Echoed params keep their value, BIGINT beyond 2^53 included.
    let (n, s, b, f): (i64, String, bool, f64) =
        kalam_client::query_as("SELECT $1 AS n, $2 AS s, $3 AS b, $4 AS f")
            .bind(9_007_199_254_740_993_i64)
            .bind("text")
            .bind(false)
            .bind(1.5)
            .fetch_one(&client)
            .await
            .unwrap();
    assert_eq!(
        (n, s.as_str(), b, f),
        (9_007_199_254_740_993, "text", false, 1.5)
    );
}

#[tokio::test]
async fn json_columns_decode_into_any_serde_type() {
    #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
    struct Prefs {
        theme: String,
        sizes: Vec<u32>,
    }
    let Some((_server, ns, client)) = all_types_fixture("kc_json").await else {
        return;
    };
    let prefs = Prefs {
        theme: "dark".into(),
        sizes: vec![1, 2],
    };
    kalam_client::query(format!(
        "INSERT INTO {ns}.all_types (id, j) VALUES ($1, $2)"
    ))
    .bind(6)
    .bind(Json(&prefs))
    .execute(&client)
    .await
    .unwrap();
    let back: Json<Prefs> =
        kalam_client::query_as(format!("SELECT j FROM {ns}.all_types WHERE id = 6"))
            .fetch_scalar(&client)
            .await
            .unwrap();
    assert_eq!(back.0, prefs);
}

#[tokio::test]
async fn schema_mismatch_is_reported_before_any_row() {
    struct Wrong {
        _id: i64,
    }
    impl KalamRow for Wrong {
        fn columns() -> &'static [ColumnSpec] {
            const C: &[ColumnSpec] = &[ColumnSpec::named::<i64>("nope")];
            C
        }
        fn from_row(row: &RowRef<'_>) -> kalam_client::Result<Self> {
            Ok(Wrong { _id: row.get(0)? })
        }
    }
    let Some((_server, ns, client)) = all_types_fixture("kc_mismatch").await else {
        return;
    };
    exec(
        &client,
        format!("INSERT INTO {ns}.all_types (id, b) VALUES (1, true)"),
    )
    .await;
    let sql = format!("SELECT id, b FROM {ns}.all_types");
    match kalam_client::query_as::<Wrong>(sql.clone())
        .fetch_all(&client)
        .await
    {
        Err(Error::SchemaMismatch { column, found, .. }) => {
            assert_eq!(column, "nope");
            assert!(found.contains("id, b"), "{found}");
        }
        other => panic!("expected SchemaMismatch, got {:?}", other.map(|v| v.len())),
    }
    // A BOOLEAN column cannot become an integer.
    match kalam_client::query_as::<(i64, i64)>(sql)
        .fetch_all(&client)
        .await
    {
        Err(Error::SchemaMismatch {
            column,
            expected,
            found,
        }) => {
            assert_eq!(
                (column.as_str(), expected.as_str(), found.as_str()),
                ("b", "i64", "BOOLEAN")
            );
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_verbs_and_dynamic_rows() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("kc_fetch").await;
    let client = admin_client(&server);
    exec(&client, format!(
            "CREATE TABLE {ns}.items (id BIGINT PRIMARY KEY, name TEXT NOT NULL) WITH (TYPE = 'SHARED')"
        )).await;
    let n = exec(
        &client,
        format!("INSERT INTO {ns}.items (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')"),
    )
    .await;
    assert_eq!(n, 3);
    let all: Vec<Row> =
        kalam_client::query_as(format!("SELECT id, name FROM {ns}.items ORDER BY id"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].get::<String, _>("name"), "three");
    assert_eq!(all[0].get::<i64, _>(0), 1);
    assert_eq!(all[0].columns()[1].name, "name");
    let none: Option<Row> =
        kalam_client::query_as(format!("SELECT id FROM {ns}.items WHERE id = 99"))
            .fetch_optional(&client)
            .await
            .unwrap();
    assert!(none.is_none());
    let missing = kalam_client::query_as::<Row>(format!("SELECT id FROM {ns}.items WHERE id = 99"))
        .fetch_one(&client)
        .await;
    assert!(matches!(missing, Err(Error::RowNotFound)));
    let count: i64 = kalam_client::query_as(format!("SELECT COUNT(*) FROM {ns}.items"))
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(count, 3);
    let updated = kalam_client::query(format!("UPDATE {ns}.items SET name = 'uno' WHERE id = $1"))
        .bind(1)
        .execute(&client)
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let deleted = exec(&client, format!("DELETE FROM {ns}.items WHERE id > 1")).await;
    assert_eq!(deleted, 2);
}

#[tokio::test]
async fn default_namespace_and_untyped_execute_query() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("kc_ns").await;
    let admin = admin_client(&server);
    exec(
        &admin,
        format!(
            "CREATE TABLE {ns}.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'SHARED')"
        ),
    )
    .await;
    let scoped = admin_builder(&server)
        .default_namespace(&ns)
        .build()
        .unwrap();
    exec(&scoped, "INSERT INTO notes (id, body) VALUES (1, 'hi')").await;
    let response = admin
        .execute_query(
            "SELECT id, body FROM notes WHERE id = $1",
            Some(vec![QueryParam::Int(1)]),
            Some(&ns),
        )
        .await
        .unwrap();
    let result = &response.results[0];
    assert_eq!(result.column_names(), vec!["id", "body"]);
    assert_eq!(
        result.rows.as_ref().unwrap()[0],
        vec![json!("1"), json!("hi")]
    );
    assert_eq!(result.row_count, 1);
    // Query::namespace overrides the client's default.
    let body: String = kalam_client::query_as("SELECT body FROM notes")
        .namespace(&ns)
        .fetch_scalar(&admin)
        .await
        .unwrap();
    assert_eq!(body, "hi");
}

#[tokio::test]
async fn execute_as_user_reads_and_writes_the_users_partition() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("kc_asuser").await;
    let alice = server.create_user("alice", "user").await;
    let bob = server.create_user("bob", "user").await;
    let admin = admin_client(&server);
    exec(&admin, format!(
            "CREATE TABLE {ns}.todos (id BIGINT PRIMARY KEY, title TEXT NOT NULL) WITH (TYPE = 'USER')"
        )).await;
    kalam_client::query(format!(
        "INSERT INTO {ns}.todos (id, title) VALUES (1, 'x');"
    ))
    .as_user(&alice.id)
    .execute(&admin)
    .await
    .unwrap();
    // The row is in alice's partition, not in another user's. (What the admin's own SELECT
    // sees depends on its role: the server reads every partition for some admin roles.)
    let bobs: Vec<Row> = kalam_client::query_as(format!("SELECT id FROM {ns}.todos"))
        .fetch_all(&user_client(&server, &bob))
        .await
        .unwrap();
    assert!(bobs.is_empty());
    let as_alice: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, title FROM {ns}.todos"))
            .as_user(&alice.id)
            .fetch_all(&admin)
            .await
            .unwrap();
    assert_eq!(as_alice, vec![(1, "x".to_owned())]);
    let mine: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, title FROM {ns}.todos"))
            .fetch_all(&user_client(&server, &alice))
            .await
            .unwrap();
    assert_eq!(mine, as_alice);
    // A plain user cannot impersonate the admin.
    let err = kalam_client::query("SELECT 1")
        .as_user(server.admin_credentials().0)
        .execute(&user_client(&server, &alice))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::PermissionDenied));
}

#[tokio::test]
async fn server_errors_map_to_typed_variants() {
    let server = server_or_skip!();
    let client = admin_client(&server);
    let alice = server.create_user("alice", "user").await;

    let code = |r: kalam_client::Result<u64>| match r {
        Err(Error::Sql { code, .. }) => code,
        other => panic!("expected Sql error, got {other:?}"),
    };
    assert_eq!(
        code(kalam_client::query("SELEC 1").execute(&client).await),
        ErrorCode::InvalidSql
    );
    assert_eq!(
        code(
            kalam_client::query("SELECT 1; SELECT 2")
                .bind(1)
                .execute(&client)
                .await
        ),
        ErrorCode::ParamsWithBatch
    );
    assert_eq!(
        code(
            kalam_client::query("SELECT $1")
                .bind(QueryParam::Json(json!([1, 2])))
                .execute(&client)
                .await
        ),
        ErrorCode::InvalidParameter
    );
    assert_eq!(
        code(kalam_client::query(" ; ").execute(&client).await),
        ErrorCode::EmptySql
    );
    assert_eq!(
        code(
            kalam_client::query("CREATE NAMESPACE default")
                .execute(&client)
                .await
        ),
        ErrorCode::SqlExecutionError
    );
    assert_eq!(
        code(
            kalam_client::query("CREATE NAMESPACE kc_not_allowed")
                .execute(&user_client(&server, &alice))
                .await
        ),
        ErrorCode::PermissionDenied
    );
    // Admins get the failing statement in `details` for execution errors.
    match kalam_client::query("SELECT * FROM kc_no_such_ns.no_such_table")
        .execute(&client)
        .await
    {
        Err(Error::Sql { code, message, .. }) => {
            assert_eq!(code, ErrorCode::SqlExecutionError);
            assert!(!message.is_empty());
        }
        other => panic!("expected Sql error, got {other:?}"),
    }
    // Unsendable parameters never reach the server.
    match kalam_client::query("SELECT $1, $2")
        .bind(1)
        .bind(f64::NAN)
        .execute(&client)
        .await
    {
        Err(Error::Param { index, .. }) => assert_eq!(index, 2),
        other => panic!("expected Param error, got {other:?}"),
    }
}

#[tokio::test]
async fn error_kinds_classify_what_users_match_on() {
    let server = server_or_skip!();
    let client = admin_client(&server);
    let alice = server.create_user("alice", "user").await;
    let alice_client = user_client(&server, &alice);
    let ns = server.fresh_namespace("kc_kinds").await;
    exec(
        &client,
        format!("CREATE USER TABLE {ns}.tasks (id BIGINT PRIMARY KEY, title TEXT)"),
    )
    .await;
    let insert = format!("INSERT INTO {ns}.tasks (id, title) VALUES (1, 'a')");
    exec(&alice_client, insert.clone()).await;
    let kind = |r: kalam_client::Result<u64>| r.expect_err("the statement must fail").kind();

    // A duplicate key keeps its message for every role (protocol 1.10), so it classifies
    // for a regular user too.
    let dup = kalam_client::query(insert.clone())
        .execute(&alice_client)
        .await;
    assert_eq!(kind(dup), ErrorKind::UniqueViolation);
    exec(&client, insert.clone()).await;
    let dup = kalam_client::query(insert).execute(&client).await;
    assert_eq!(kind(dup), ErrorKind::UniqueViolation);
    let again = kalam_client::query(format!("CREATE NAMESPACE {ns}"))
        .execute(&client)
        .await;
    assert_eq!(kind(again), ErrorKind::AlreadyExists);
    let missing = kalam_client::query(format!("SELECT * FROM {ns}.no_such_table"))
        .execute(&client)
        .await;
    assert_eq!(kind(missing), ErrorKind::NotFound);
    let column = kalam_client::query(format!("SELECT nope FROM {ns}.tasks"))
        .execute(&client)
        .await;
    assert_eq!(kind(column), ErrorKind::NotFound);
    let denied = kalam_client::query(format!("CREATE NAMESPACE {ns}_x"))
        .execute(&alice_client)
        .await;
    assert_eq!(kind(denied), ErrorKind::PermissionDenied);
    let syntax = kalam_client::query("SELEC 1").execute(&client).await;
    assert_eq!(kind(syntax), ErrorKind::InvalidSql);
    let nan = kalam_client::query("SELECT $1")
        .bind(f64::NAN)
        .execute(&client)
        .await;
    assert_eq!(kind(nan), ErrorKind::InvalidParameter);
    let none = kalam_client::query_as::<(i64,)>(format!("SELECT id FROM {ns}.tasks WHERE id = 99"))
        .fetch_one(&client)
        .await;
    assert_eq!(none.expect_err("no row").kind(), ErrorKind::RowNotFound);
}

#[tokio::test]
async fn unreachable_server_is_an_http_error() {
    // Bind a port, then free it: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = KalamClient::builder()
        .base_url(format!("http://{addr}"))
        .jwt_token("x.y.z")
        .max_retries(0)
        .build()
        .unwrap();
    match kalam_client::query("SELECT 1").execute(&client).await {
        Err(Error::Http { status: None, .. }) => {}
        other => panic!("expected Http error, got {other:?}"),
    }
}

#[tokio::test]
async fn non_envelope_status_answers_are_http_errors() {
    let server = server_or_skip!();
    // A base URL with a path the server does not serve: a status without a KalamDB envelope.
    let (user, password) = server.admin_credentials();
    let client = KalamClient::builder()
        .base_url(format!("{}/not-kalamdb", server.url()))
        .jwt_token(server.login(user, password).await)
        .build()
        .unwrap();
    match kalam_client::query("SELECT 1").execute(&client).await {
        Err(Error::Http {
            status: Some(404), ..
        }) => {}
        other => panic!("expected Http 404, got {other:?}"),
    }
}

#[tokio::test]
async fn emulator_cluster_and_rate_limit_envelopes_are_sql_errors() {
    let server = kalam_tests::emulator_or_skip!();
    let Some(emulator) = server.emulator() else {
        return;
    };
    let client = admin_client(&server);
    kalam_client::query("SELECT 1")
        .execute(&client)
        .await
        .unwrap();
    for (status, code, expected) in [
        (503, "NOT_LEADER", ErrorCode::NotLeader),
        (429, "RATE_LIMIT_EXCEEDED", ErrorCode::RateLimitExceeded),
        (
            500,
            "SOMETHING_NEWER",
            ErrorCode::Other("SOMETHING_NEWER".into()),
        ),
    ] {
        emulator.faults().fail_next(status, code, "injected");
        match kalam_client::query("SELECT 1").execute(&client).await {
            Err(Error::Sql { code, message, .. }) => {
                assert_eq!(code, expected);
                assert_eq!(message, "injected");
            }
            other => panic!("expected Sql {expected}, got {other:?}"),
        }
    }
}

/// A TCP server that accepts connections and closes them without answering, counting them.
async fn hang_up_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            // Read the request head, then hang up without a status line (protocol 1.5).
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            drop(sock);
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn reads_are_retried_after_a_hang_up_and_writes_are_not() {
    use std::sync::atomic::Ordering;
    let (url, accepted) = hang_up_server().await;
    let client = KalamClient::builder()
        .base_url(url)
        .jwt_token("x.y.z")
        .max_retries(2)
        .build()
        .unwrap();
    match kalam_client::query("SELECT * FROM app.todos")
        .execute(&client)
        .await
    {
        Err(Error::ConnectionClosed { statement, .. }) => {
            assert_eq!(statement, "SELECT * FROM app.todos");
        }
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "1 try + 2 retries");

    accepted.store(0, Ordering::SeqCst);
    match kalam_client::query("INSERT INTO app.todos (id) VALUES (1)")
        .execute(&client)
        .await
    {
        Err(Error::ConnectionClosed { statement, .. }) => {
            assert!(statement.starts_with("INSERT"), "{statement}");
        }
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "writes are never retried"
    );
}

#[tokio::test]
async fn emulator_reads_recover_when_the_server_comes_back() {
    let server = kalam_tests::emulator_or_skip!();
    let Some(emulator) = server.emulator() else {
        return;
    };
    let client = admin_builder(&server).max_retries(5).build().unwrap();
    assert_eq!(
        kalam_client::query_as::<i64>("SELECT 1")
            .fetch_scalar(&client)
            .await
            .unwrap(),
        1
    );
    // Kill the pooled connection and refuse new ones briefly; backoff (100 ms × attempt,
    // 1.5 s over 5 retries) outlasts the outage.
    emulator.faults().drop_connections();
    emulator
        .faults()
        .refuse_connections(std::time::Duration::from_millis(150));
    assert_eq!(
        kalam_client::query_as::<i64>("SELECT 2")
            .fetch_scalar(&client)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn unencodable_cell_is_a_connection_closed_error_naming_the_statement() {
    let server = server_or_skip!();
    let client = admin_builder(&server).max_retries(0).build().unwrap();
    let sql = "SELECT CAST('NaN' AS DOUBLE) AS x";
    match kalam_client::query_as::<Row>(sql).fetch_all(&client).await {
        Err(Error::ConnectionClosed { statement, .. }) => assert_eq!(statement, sql),
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
    // In a batch the answer is buffered, and the same cell is a 500 INTERNAL_ERROR.
    let batch = kalam_client::query("SELECT 1; SELECT CAST('NaN' AS DOUBLE) AS x")
        .execute(&client)
        .await;
    match batch {
        Err(Error::Sql { code, .. }) => assert_eq!(code, ErrorCode::InternalError),
        other => panic!("expected INTERNAL_ERROR, got {other:?}"),
    }
}

#[tokio::test]
async fn emulator_slow_answers_time_out() {
    let server = kalam_tests::emulator_or_skip!();
    let Some(emulator) = server.emulator() else {
        return;
    };
    let client = admin_builder(&server)
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    exec(&client, "SELECT 1").await;
    emulator
        .faults()
        .delay_responses(Some(std::time::Duration::from_secs(5)));
    let err = kalam_client::query("SELECT 1")
        .execute(&client)
        .await
        .unwrap_err();
    emulator.faults().delay_responses(None);
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    let server = server_or_skip!();
    let client = admin_builder(&server)
        .http_version(HttpVersion::Http2)
        .build()
        .unwrap();
    let me: String = kalam_client::query_as("SELECT CURRENT_USER()")
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(me, server.admin_credentials().0);
}

// Row limits and ordering (protocol 1.3 step 9): the server adds `LIMIT 50`, caps every
// result at 1000 rows and re-sorts by primary key; the client must return every row, in the
// order asked, or `Error::Truncated`.

/// `v` of task `id`: distinct for ids 1..=60 and unrelated to the key's order.
fn task_v(id: i64) -> i64 {
    (id * 37) % 61
}

/// A USER table `<ns>.tasks (id, v, title)` holding tasks `1..=n` of the admin.
async fn tasks(prefix: &str, n: i64) -> Option<(TestServer, String, KalamClient)> {
    let server = TestServer::start().await?;
    let client = admin_client(&server);
    let ns = server.fresh_namespace(prefix).await;
    exec(
        &client,
        format!(
            "CREATE USER TABLE {ns}.tasks (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, title TEXT)"
        ),
    )
    .await;
    insert_rows(
        &client,
        &format!("{ns}.tasks (id, v, title)"),
        (1..=n).map(|i| format!("({i}, {}, 'task {i}')", task_v(i))),
    )
    .await;
    Some((server, ns, client))
}

fn ids(rows: &[(i64,)]) -> Vec<i64> {
    rows.iter().map(|r| r.0).collect()
}

#[tokio::test]
async fn fetch_all_returns_every_row_not_the_implicit_fifty() {
    let Some((_server, ns, client)) = tasks("lim60", 60).await else {
        return;
    };
    let count: i64 = kalam_client::query_as(format!("SELECT COUNT(*) FROM {ns}.tasks"))
        .fetch_scalar(&client)
        .await
        .unwrap();
    assert_eq!(count, 60);
    let rows: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, title FROM {ns}.tasks"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(rows.len(), 60);
    let mut seen: Vec<i64> = rows.iter().map(|r| r.0).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=60).collect::<Vec<_>>());
    // A query's own LIMIT is kept.
    let few: Vec<(i64,)> =
        kalam_client::query_as(format!("SELECT id FROM {ns}.tasks WHERE id > $1 LIMIT 5"))
            .bind(10)
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(few.len(), 5);
    assert!(few.iter().all(|r| r.0 > 10));
}

#[tokio::test]
async fn order_by_with_limit_returns_the_order_asked() {
    let Some((_server, ns, client)) = tasks("ord60", 60).await else {
        return;
    };
    let last: Vec<(i64,)> = kalam_client::query_as(format!(
        "SELECT id FROM {ns}.tasks ORDER BY id DESC LIMIT 3"
    ))
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(ids(&last), [60, 59, 58]);
    let (top,): (i64,) = kalam_client::query_as(format!(
        "SELECT id FROM {ns}.tasks ORDER BY id DESC LIMIT 1"
    ))
    .fetch_one(&client)
    .await
    .unwrap();
    assert_eq!(top, 60);
    let (smallest_v, _): (i64, i64) =
        kalam_client::query_as(format!("SELECT id, v FROM {ns}.tasks ORDER BY v LIMIT 1"))
            .fetch_one(&client)
            .await
            .unwrap();
    assert_eq!(task_v(smallest_v), 1);

    // Ordered by a column that is not the key, selected or not, limited or not.
    let mut by_v: Vec<i64> = (1..=60).collect();
    by_v.sort_by_key(|id| task_v(*id));
    let with_v: Vec<(i64, i64)> =
        kalam_client::query_as(format!("SELECT id, v FROM {ns}.tasks ORDER BY v LIMIT 3"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(with_v.iter().map(|r| r.0).collect::<Vec<_>>(), by_v[..3]);
    assert!(with_v.iter().all(|(id, v)| task_v(*id) == *v));
    let without_v: Vec<(i64,)> =
        kalam_client::query_as(format!("SELECT id FROM {ns}.tasks ORDER BY v LIMIT 3"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(ids(&without_v), by_v[..3]);
    let all_by_v: Vec<(i64,)> =
        kalam_client::query_as(format!("SELECT id FROM {ns}.tasks ORDER BY v DESC"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(
        ids(&all_by_v),
        by_v.iter().rev().copied().collect::<Vec<_>>()
    );
    let expression: Vec<(i64,)> = kalam_client::query_as(format!(
        "SELECT id FROM {ns}.tasks AS t WHERE id <= $1 ORDER BY t.v * -1, 1 LIMIT 4"
    ))
    .bind(60)
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(
        ids(&expression),
        by_v.iter().rev().take(4).copied().collect::<Vec<_>>()
    );

    // The dynamic row shows the columns asked for, not the client's hidden sort key.
    let rows: Vec<Row> = kalam_client::query_as(format!(
        "SELECT title FROM {ns}.tasks ORDER BY v DESC LIMIT 2"
    ))
    .fetch_all(&client)
    .await
    .unwrap();
    let names: Vec<&str> = rows[0].columns().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["title"]);
    assert_eq!(rows[0].len(), 1);
    let want = format!("task {}", by_v[59]);
    assert_eq!(rows[0].get::<String, _>("title"), want);

    // The same through EXECUTE AS USER, as a raw envelope and through execute_as_user.
    let alice = format!("alice_{}", kalam_tests::unique_suffix());
    exec(
        &client,
        format!(
            "EXECUTE AS USER '{alice}' (INSERT INTO {ns}.tasks (id, v, title) VALUES (7, 1, 'a'), (8, 3, 'b'), (9, 2, 'c'))"
        ),
    )
    .await;
    let theirs: Vec<(i64,)> = kalam_client::query_as(format!(
        "EXECUTE AS USER '{alice}' (SELECT id FROM {ns}.tasks ORDER BY v DESC LIMIT 2);"
    ))
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(ids(&theirs), [8, 9]);
    let theirs: Vec<(i64,)> = kalam_client::query_as(format!(
        "SELECT id FROM {ns}.tasks ORDER BY id DESC LIMIT 2"
    ))
    .as_user(&alice)
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(ids(&theirs), [9, 8]);
}

#[tokio::test]
async fn fetch_all_pages_past_the_row_cap() {
    let Some((_server, ns, client)) = tasks("lim2500", 2500).await else {
        return;
    };
    let every: Vec<i64> = (1..=2500).collect();
    let rows: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, title FROM {ns}.tasks"))
            .fetch_all(&client)
            .await
            .unwrap();
    let mut seen: Vec<i64> = rows.iter().map(|r| r.0).collect();
    seen.sort_unstable();
    assert_eq!(seen, every);
    // The key is not selected: it is read from the table's schema and carried hidden.
    let titles: Vec<(String,)> =
        kalam_client::query_as(format!("SELECT title FROM {ns}.tasks WHERE v >= $1"))
            .bind(0)
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(titles.len(), 2500);
    let rows: Vec<Row> = kalam_client::query_as(format!("SELECT title FROM {ns}.tasks"))
        .fetch_all(&client)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2500);
    assert_eq!(rows[0].len(), 1);
    // Ordered by the key, both ways, across pages.
    let down: Vec<(i64,)> =
        kalam_client::query_as(format!("SELECT id FROM {ns}.tasks ORDER BY id DESC"))
            .fetch_all(&client)
            .await
            .unwrap();
    assert_eq!(ids(&down), every.iter().rev().copied().collect::<Vec<_>>());
    let up: Vec<(i64,)> = kalam_client::query_as(format!(
        "SELECT id FROM {ns}.tasks WHERE id % 2 = 0 ORDER BY id LIMIT 1200 OFFSET 10"
    ))
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(up.len(), 1200);
    assert_eq!(ids(&up), (11..1211).map(|i| 2 * i).collect::<Vec<_>>());
    // A LIMIT above the cap is the cap, paged, stopping at the LIMIT.
    let first: Vec<(i64,)> = kalam_client::query_as(format!("SELECT id FROM {ns}.tasks LIMIT $1"))
        .bind(1500)
        .fetch_all(&client)
        .await
        .unwrap();
    assert_eq!(first.len(), 1500);
    // Ordered by another column past the cap: not silently short.
    let err = kalam_client::query_as::<(i64,)>(format!("SELECT id FROM {ns}.tasks ORDER BY v"))
        .fetch_all(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Truncated { limit: 1000, .. }), "{err}");
    // The stream reads the same rows, page by page.
    use futures_util::TryStreamExt;
    let streamed: Vec<(i64,)> =
        kalam_client::query_as::<(i64,)>(format!("SELECT id FROM {ns}.tasks ORDER BY id DESC"))
            .fetch(&client)
            .try_collect()
            .await
            .unwrap();
    assert_eq!(streamed, down);
}

/// A key repeats across partitions when the server reads every user's partition of a USER
/// table for the caller (root): pages continue after `(key, _seq)`, so a page boundary
/// between two rows with the same key loses neither. A cap of 3 rows puts boundaries there.
#[tokio::test]
async fn paging_reads_rows_with_equal_keys_in_several_partitions_once() {
    let server = server_or_skip!();
    let Some(root_password) = server.root_password() else {
        return;
    };
    let ns = server.fresh_namespace("xpart").await;
    let admin = admin_client(&server);
    exec(
        &admin,
        format!("CREATE USER TABLE {ns}.notes (id BIGINT PRIMARY KEY, owner TEXT NOT NULL)"),
    )
    .await;
    let mut expected = Vec::new();
    for prefix in ["alice", "bob"] {
        let user = server.create_user(prefix, "user").await;
        let values: Vec<String> = (1..=7)
            .map(|i| {
                expected.push((i, user.id.clone()));
                format!("({i}, '{}')", user.id)
            })
            .collect();
        exec(
            &user_client(&server, &user),
            format!(
                "INSERT INTO {ns}.notes (id, owner) VALUES {}",
                values.join(", ")
            ),
        )
        .await;
    }
    expected.sort();
    let root = KalamClient::builder()
        .base_url(server.url())
        .auth(AuthProvider::system_user_auth(root_password))
        .max_query_limit(3)
        .build()
        .unwrap();
    let mut every: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, owner FROM {ns}.notes"))
            .fetch_all(&root)
            .await
            .unwrap();
    every.sort();
    assert_eq!(every, expected);
    // Ordered by the key, descending: every pair once, keys in order.
    let down: Vec<(i64, String)> =
        kalam_client::query_as(format!("SELECT id, owner FROM {ns}.notes ORDER BY id DESC"))
            .fetch_all(&root)
            .await
            .unwrap();
    let keys: Vec<i64> = down.iter().map(|r| r.0).collect();
    assert_eq!(keys, [7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    let mut pairs = down.clone();
    pairs.sort();
    assert_eq!(pairs, expected);
    // The key not selected: carried hidden, each user's seven rows.
    let owners: Vec<(String,)> = kalam_client::query_as(format!("SELECT owner FROM {ns}.notes"))
        .fetch_all(&root)
        .await
        .unwrap();
    assert_eq!(owners.len(), 14);
    assert_eq!(owners.iter().filter(|o| o.0 == expected[0].1).count(), 7);
}

#[tokio::test]
async fn a_join_past_the_row_cap_is_truncated_never_short() {
    let Some((server, ns, client)) = tasks("join", 1500).await else {
        return;
    };
    exec(
        &client,
        format!("CREATE SHARED TABLE {ns}.owners (task BIGINT PRIMARY KEY, owner TEXT)"),
    )
    .await;
    insert_rows(
        &client,
        &format!("{ns}.owners (task, owner)"),
        (1..=1500).map(|i| format!("({i}, 'o{}')", i % 7)),
    )
    .await;
    let join =
        format!("SELECT t.id, o.owner FROM {ns}.tasks t JOIN {ns}.owners o ON o.task = t.id");
    let err = kalam_client::query_as::<(i64, String)>(join.clone())
        .fetch_all(&client)
        .await
        .unwrap_err();
    let Error::Truncated { limit, reason } = &err else {
        panic!("expected Error::Truncated, got {err:?}");
    };
    assert_eq!(*limit, 1000);
    assert!(reason.contains("LIMIT"), "{reason}");
    // Under the cap, the join is complete.
    let some: Vec<(i64, String)> = kalam_client::query_as(format!("{join} WHERE t.id <= 700"))
        .fetch_all(&client)
        .await
        .unwrap();
    assert_eq!(some.len(), 700);
    drop(server);
}
