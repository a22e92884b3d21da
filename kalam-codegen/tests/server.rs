//! Introspection and drift: rows → catalog, drift classes, and `pull`/`check --url` over
//! loopback HTTP against the emulator, or against the server named by `KALAMDB_SERVER_URL`
//! (in fresh copies of the workspace's namespaces). The `emulator_…` test needs the
//! emulator's query limits set far below the page size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

/// The generated code for the workspace schemas (kept up to date by
/// `checked_in_generated_code_is_up_to_date` in tests/codegen.rs), compiled here.
#[allow(dead_code, unreachable_pub)]
mod generated {
    include!("fixtures/workspace/kalam.rs");
}

use std::path::Path;
use std::process::Command;

use kalam_codegen::introspect::{IntrospectionRows, ResultSet, parse_default, parse_options};
use kalam_codegen::{
    Config, Credentials, Drift, FileStatus, Generator, HttpSource, SqlSource, TableFilter, diff,
    emit_sql, user_catalog,
};
use kalam_emulator::Emulator;
use kalam_schema::{AccessLevel, DefaultValue, Literal};
use kalam_tests::{TestServer, emulator_only, server_or_skip};
use serde_json::{Value, json};
use support::{TempDir, all_text, copy_dir, workspace_schemas};

fn set(columns: &[&str], rows: Vec<Value>) -> ResultSet {
    ResultSet {
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: rows
            .into_iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect(),
    }
}

fn load_str(sql: &str) -> kalam_schema::Catalog {
    user_catalog(kalam_schema::load_str(sql).unwrap())
}

/// A joined column row from its `|`-separated cells (see the test below for the order).
fn column_row(line: &str) -> Value {
    let cells: Vec<&str> = line.split('|').collect();
    let text = |s: &str| match s {
        "" => Value::Null,
        "SEQ" => json!("Version ID (MVCC) with embedded timestamp"),
        "DEL" => json!("Soft delete flag"),
        other => json!(other),
    };
    json!([
        "app",
        cells[0],
        cells[1],
        cells[2],
        cells[3],
        cells[4],
        cells[5] == "true",
        cells[6] == "true",
        text(cells[7]),
        text(cells[8]),
        cells[9],
        cells[10],
    ])
}

#[test]
fn introspection_rows_become_the_same_catalog_as_the_ddl() {
    let namespaces = set(&["namespace_id"], vec![json!(["app"]), json!(["default"])]);
    let tables = set(
        &[
            "namespace_id",
            "table_name",
            "table_type",
            "version",
            "options",
            "comment",
        ],
        vec![
            json!([
                "app",
                "todos",
                "user",
                "2",
                r#"{"table_type":"USER","storage_id":"local","use_user_storage":false,"flush_policy":null,"compression":"snappy"}"#,
                null
            ]),
            json!([
                "app",
                "board",
                "shared",
                "1",
                r#"{"table_type":"SHARED","storage_id":"local","access_level":"Public","flush_policy":null,"compression":"snappy"}"#,
                null
            ]),
            json!([
                "app",
                "pings",
                "stream",
                "1",
                r#"{"table_type":"STREAM","ttl_seconds":30,"eviction_strategy":"time_based","max_stream_size_bytes":0,"compression":"snappy"}"#,
                null
            ]),
        ],
    );
    let cols = &[
        "namespace_id",
        "table_name",
        "table_type",
        "column_name",
        "data_type",
        "ordinal",
        "nullable",
        "primary_key",
        "default_value",
        "comment",
        "table_version",
        "column_version",
    ];
    // One row per line: table|type|column|data_type|ordinal|nullable|pk|default|comment|versions.
    // BIGINT cells (ordinal, versions) arrive as strings (protocol 1.8); empty means null.
    let columns = set(
        cols,
        [
            "board|shared|id|INT|1|false|true|||1|1",
            "board|shared|note|TEXT|2|true|false|Null|a note|1|1",
            "board|shared|_seq|BIGINT|3|false|false||SEQ|1|1",
            "board|shared|_deleted|BOOLEAN|4|false|false|Bool(false)|DEL|1|1",
            "pings|stream|at|TIMESTAMP|1|false|false|NOW()||1|1",
            "pings|stream|_seq|BIGINT|2|false|false||SEQ|1|1",
            "pings|stream|_deleted|BOOLEAN|3|false|false|Bool(false)|DEL|1|1",
            // A column of an older schema version of todos: ignored.
            "todos|user|old|TEXT|1|true|false|||2|1",
            "todos|user|id|BIGINT|1|false|true|SNOWFLAKE_ID()||2|2",
            r#"todos|user|title|TEXT|2|false|false|String("it's \"new\"")||2|2"#,
            "todos|user|done|BOOLEAN|3|false|false|Bool(true)||2|2",
            "todos|user|rank|INT|4|true|false|Number(-7)||2|2",
            "todos|user|price|DECIMAL(10, 2)|5|true|false|||2|2",
            "todos|user|vec|EMBEDDING(384)|6|true|false|||2|2",
            "todos|user|owner|TEXT|7|true|false|CURRENT_USER()||2|2",
            "todos|user|_seq|BIGINT|8|false|false||SEQ|2|2",
            "todos|user|_deleted|BOOLEAN|9|false|false|Bool(false)|DEL|2|2",
        ]
        .iter()
        .map(|line| column_row(line))
        .collect(),
    );
    let rows = IntrospectionRows::from_results(&namespaces, &tables, &columns).unwrap();
    let catalog = user_catalog(rows.into_catalog(&TableFilter::default()).unwrap());
    let expected = load_str(
        "CREATE NAMESPACE app;
         CREATE TABLE app.todos (
            id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
            title TEXT NOT NULL DEFAULT 'it''s \"new\"',
            done BOOLEAN NOT NULL DEFAULT TRUE,
            rank INT DEFAULT -7,
            price DECIMAL(10, 2),
            vec EMBEDDING(384),
            owner TEXT DEFAULT CURRENT_USER()
         ) WITH (TYPE = 'USER');
         CREATE TABLE app.board (id INT PRIMARY KEY, note TEXT DEFAULT NULL COMMENT 'a note')
            WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PUBLIC');
         CREATE TABLE app.pings (at TIMESTAMP NOT NULL DEFAULT NOW()) WITH (TYPE = 'STREAM', TTL_SECONDS = 30);",
    );
    assert_eq!(catalog, expected);
}

#[test]
fn malformed_rows_are_typed_errors() {
    let empty = ResultSet::default();
    let tables = set(
        &["namespace_id", "table_name", "table_type"],
        vec![json!(["app", "t", "weird"])],
    );
    let err = IntrospectionRows::from_results(&empty, &tables, &empty)
        .unwrap()
        .into_catalog(&TableFilter::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown table type `weird` for app.t"),
        "{err}"
    );
    let missing = set(&["namespace_id"], vec![json!(["app"])]);
    let err = IntrospectionRows::from_results(&empty, &missing, &empty).unwrap_err();
    assert!(err.to_string().contains("no column `table_name`"), "{err}");
    let bad_bool = set(
        &[
            "namespace_id",
            "table_name",
            "column_name",
            "data_type",
            "ordinal",
            "nullable",
            "primary_key",
        ],
        vec![json!(["app", "t", "c", "TEXT", "1", "maybe", false])],
    );
    let err = IntrospectionRows::from_results(&empty, &empty, &bad_bool).unwrap_err();
    assert!(err.to_string().contains("`nullable` of app.t"), "{err}");
}

#[test]
fn default_values_in_every_server_form() {
    let lit = |l| Some(Some(DefaultValue::Literal(l)));
    let cases = [
        ("SNOWFLAKE_ID()", Some(Some(DefaultValue::SnowflakeId))),
        ("UUID_V7()", Some(Some(DefaultValue::UuidV7))),
        ("ULID()", Some(Some(DefaultValue::Ulid))),
        ("NOW()", Some(Some(DefaultValue::Now))),
        ("CURRENT_TIMESTAMP", Some(Some(DefaultValue::Now))),
        ("CURRENT_USER()", Some(Some(DefaultValue::CurrentUser))),
        ("Bool(false)", lit(Literal::Bool(false))),
        ("Number(1)", lit(Literal::Number("1".into()))),
        ("Number(2.5e3)", lit(Literal::Number("2.5e3".into()))),
        ("String(\"user\")", lit(Literal::String("user".into()))),
        (
            "String(\"a\\nb\\u{1f600}\")",
            lit(Literal::String("a\nb\u{1f600}".into())),
        ),
        ("Null", lit(Literal::Null)),
        ("None", Some(None)),
        ("Number(x)", None),
        ("Bool(yes)", None),
        ("String(unquoted)", None),
        ("RANDOM()", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_default(text), expected, "{text}");
    }
}

#[test]
fn table_options_drop_server_defaults() {
    let o =
        parse_options(r#"{"table_type":"SHARED","storage_id":"local","access_level":"Private"}"#)
            .unwrap();
    assert_eq!(o, Default::default());
    let o =
        parse_options(r#"{"table_type":"SHARED","storage_id":"s3","access_level":"Dba"}"#).unwrap();
    assert_eq!(
        (o.storage_id.as_deref(), o.access_level),
        (Some("s3"), Some(AccessLevel::Dba))
    );
    let o = parse_options(r#"{"table_type":"USER","use_user_storage":true}"#).unwrap();
    assert_eq!(
        o.other.get("USE_USER_STORAGE").map(String::as_str),
        Some("true")
    );
    assert!(parse_options("[1]").is_err());
    assert!(parse_options(r#"{"access_level":"Everyone"}"#).is_err());
}

const BASE: &str = "CREATE NAMESPACE app;
    CREATE TABLE app.todos (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), title TEXT NOT NULL, note TEXT)
        WITH (TYPE = 'USER');
    CREATE TABLE app.board (id INT PRIMARY KEY, body TEXT) WITH (TYPE = 'SHARED');";

/// One schema edit per drift class; the report names exactly that class.
#[test]
fn drift_is_classified() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "table added",
            "CREATE TABLE app.extra (id INT PRIMARY KEY) WITH (TYPE = 'USER');",
            &["table_added"],
        ),
        ("table removed", "DROP TABLE app.board;", &["table_removed"]),
        (
            "column added",
            "ALTER TABLE app.todos ADD COLUMN due TIMESTAMP;",
            &["column_added"],
        ),
        (
            "column removed",
            "ALTER TABLE app.todos DROP COLUMN note;",
            &["column_removed"],
        ),
        (
            "type changed",
            "ALTER TABLE app.todos MODIFY COLUMN note JSON;",
            &["type_changed"],
        ),
        (
            "nullability changed",
            "ALTER TABLE app.todos ALTER COLUMN title DROP NOT NULL;",
            &["nullability_changed"],
        ),
        (
            "primary key changed",
            "DROP TABLE app.board; CREATE TABLE app.board (id INT, body TEXT PRIMARY KEY) WITH (TYPE = 'SHARED');",
            &[
                "primary_key_changed",
                "nullability_changed",
                "nullability_changed",
            ],
        ),
        (
            "table kind changed",
            "DROP TABLE app.board; CREATE TABLE app.board (id INT PRIMARY KEY, body TEXT) WITH (TYPE = 'USER');",
            &["table_kind_changed", "option_changed"],
        ),
        (
            "default changed",
            "ALTER TABLE app.todos ALTER COLUMN note SET DEFAULT 'x';",
            &["default_changed"],
        ),
        (
            "access level changed",
            "ALTER TABLE app.board SET ACCESS LEVEL PUBLIC;",
            &["option_changed"],
        ),
    ];
    let expected = load_str(BASE);
    assert!(diff(&expected, &expected).is_clean());
    for (what, change, classes) in cases {
        let actual = load_str(&format!("{BASE}\n{change}"));
        let report = diff(&expected, &actual);
        let got: Vec<&str> = report.changes.iter().map(Drift::class).collect();
        assert_eq!(got, *classes, "{what}: {}", report.to_text());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["changes"][0]["class"], classes[0], "{what}");
    }
    let report = diff(
        &expected,
        &load_str(&format!(
            "{BASE}\nALTER TABLE app.todos MODIFY COLUMN note JSON;"
        )),
    );
    assert_eq!(
        report.to_text(),
        "drift: 1 change between the schema files and the server\n  type_changed         app.todos.note: TEXT in the schema files, JSON on the server\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Against the emulator.

/// Writes the canonical form of the workspace schemas (what `pull` writes) into `dir`.
fn canonical_schemas(dir: &Path) {
    let catalog = user_catalog(kalam_schema::load_dir(workspace_schemas()).unwrap().catalog);
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in emit_sql::catalog_sql(&catalog) {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

async fn emulator(schemas: &Path) -> Emulator {
    Emulator::builder()
        .schemas_dir(schemas)
        // Caps far below the page size, so every introspection query needs several pages.
        .default_query_limit(3)
        .max_query_limit(5)
        .start()
        .await
        .unwrap()
}

async fn admin(url: &str, (user, password): (&str, &str)) -> HttpSource {
    let credentials = Credentials::Password {
        user: user.into(),
        password: password.into(),
    };
    HttpSource::connect(url, credentials).await.unwrap()
}

/// The workspace's `support` and `types` namespaces applied under fresh names.
async fn fresh_schemas(server: &TestServer) -> (String, String) {
    (
        server.fresh_schema("support").await,
        server.fresh_schema("types").await,
    )
}

fn rust_for(schemas: &Path) -> String {
    let tmp = TempDir::new("rust-for");
    let generator = Generator::new()
        .schemas(schemas)
        .config(Config::default())
        .out_file(tmp.path().join("all.rs"));
    all_text(&generator.generate().unwrap().files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_pull_reproduces_the_schema_files_byte_for_byte() {
    emulator_only!();
    let tmp = TempDir::new("pull");
    let seed = tmp.path().join("seed");
    canonical_schemas(&seed);
    let emu = emulator(&seed).await;
    let mut source = admin(&emu.url(), kalam_emulator::DEFAULT_ADMIN).await;

    // Pulling into a copy of the seed (the usual `schemas/`) changes nothing.
    let out = tmp.path().join("schemas");
    copy_dir(&seed, &out);
    let pulled = kalam_codegen::pull(&mut source, &TableFilter::default(), &out)
        .await
        .unwrap();
    assert!(pulled.warnings.is_empty(), "{:?}", pulled.warnings);
    assert!(
        pulled
            .files
            .check()
            .unwrap()
            .iter()
            .all(|c| c.status == FileStatus::UpToDate)
    );
    assert_eq!(
        pulled.files.write().unwrap(),
        Vec::<std::path::PathBuf>::new()
    );
    for name in ["support.sql", "types.sql"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(seed.join(name)).unwrap(),
            "{name}"
        );
    }
    // The same server gives the same bytes again, and the regenerated Rust is identical.
    let again = kalam_codegen::pull(&mut source, &TableFilter::default(), &out)
        .await
        .unwrap();
    assert_eq!(again.files.files(), pulled.files.files());
    assert_eq!(rust_for(&out), rust_for(&seed));
    // The introspected catalog equals the one the files describe, system columns included.
    let loaded = user_catalog(kalam_schema::load_dir(&seed).unwrap().catalog);
    assert_eq!(pulled.catalog, loaded);

    // Into an empty directory: the tables are all there; topics are not introspectable.
    let fresh = tmp.path().join("fresh");
    let pulled = kalam_codegen::pull(&mut source, &TableFilter::default(), &fresh)
        .await
        .unwrap();
    pulled.files.write().unwrap();
    let mut without_topics = loaded.clone();
    for ns in without_topics.namespaces.values_mut() {
        ns.topics.clear();
    }
    assert_eq!(
        user_catalog(kalam_schema::load_dir(&fresh).unwrap().catalog),
        without_topics
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_selects_namespaces_and_tables_by_glob() {
    let server = server_or_skip!();
    let (sup, typ) = fresh_schemas(&server).await;
    let tmp = TempDir::new("pull-filter");
    let mut source = admin(server.url(), server.admin_credentials()).await;
    let filter = |ns: &[&str], t: &[&str], x: &[&str]| TableFilter {
        namespaces: ns.iter().map(|s| (*s).to_owned()).collect(),
        tables: t.iter().map(|s| (*s).to_owned()).collect(),
        exclude: x.iter().map(|s| (*s).to_owned()).collect(),
    };
    let names =
        |c: &kalam_schema::Catalog| c.tables().map(|t| t.qualified_name()).collect::<Vec<_>>();

    // A namespace glob: `types_<suffix>` without its last character, then `*`.
    let out = tmp.path().join("a");
    let glob = format!("{}*", &typ[..typ.len() - 1]);
    let p = kalam_codegen::pull(&mut source, &filter(&[&glob], &[], &[]), &out)
        .await
        .unwrap();
    assert_eq!(names(&p.catalog), [format!("{typ}.all_types")]);
    assert_eq!(
        p.files.files().keys().collect::<Vec<_>>(),
        [Path::new(&format!("{typ}.sql"))]
    );

    // Table globs, qualified and bare (within the namespace, on a shared server).
    let rooms = format!("{sup}.r*");
    let p = kalam_codegen::pull(
        &mut source,
        &filter(&[&sup], &[&rooms, "typing_*"], &[]),
        &out,
    )
    .await
    .unwrap();
    assert_eq!(
        names(&p.catalog),
        [format!("{sup}.rooms"), format!("{sup}.typing_events")]
    );

    let p = kalam_codegen::pull(&mut source, &filter(&[&sup], &[], &["*_events"]), &out)
        .await
        .unwrap();
    assert_eq!(
        names(&p.catalog),
        [format!("{sup}.messages"), format!("{sup}.rooms")]
    );
}

fn cli(args: Vec<String>) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kalam-codegen"))
        .args(args)
        .env_remove("KALAMDB_SERVER_URL")
        .env_remove("KALAMDB_TOKEN")
        .output()
        .unwrap()
}

async fn cli_async(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || cli(args))
        .await
        .unwrap()
}

/// `check --url`: clean → 0, each drift → 1 with a classified JSON report, errors → 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_pull_and_check_against_the_server() {
    let server = server_or_skip!();
    let (sup, typ) = fresh_schemas(&server).await;
    let tmp = TempDir::new("cli-server");
    let url = server.url().to_owned();
    let schemas = tmp.path().join("schemas");
    let s = schemas.to_str().unwrap();
    let (user, password) = server.admin_credentials();
    // Only this test's namespaces: a shared server holds many more.
    let auth = [
        "--url",
        url.as_str(),
        "--user",
        user,
        "--password",
        password,
        "--namespace",
        &sup,
        "--namespace",
        &typ,
    ];

    let pull = cli_async(&[&["pull", "--out", s][..], &auth[..]].concat()).await;
    assert_eq!(
        pull.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pull.stderr)
    );
    assert!(schemas.join(format!("{sup}.sql")).is_file());
    assert!(schemas.join(format!("{typ}.sql")).is_file());

    let check = |format: &'static str| {
        let args = [
            &["check", "--schemas", s, "--format", format][..],
            &auth[..],
        ]
        .concat();
        async move { cli_async(&args).await }
    };
    let clean = check("text").await;
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains("no drift"));

    let mut source = admin(&url, (user, password)).await;
    source
        .query(&format!(
            "ALTER TABLE {sup}.messages ADD COLUMN edited_at TIMESTAMP"
        ))
        .await
        .unwrap();
    source
        .query(&format!("ALTER TABLE {sup}.rooms DROP COLUMN archived"))
        .await
        .unwrap();
    let drift = check("json").await;
    assert_eq!(
        drift.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&drift.stderr)
    );
    let report: Value = serde_json::from_slice(&drift.stdout).unwrap();
    assert_eq!(report["status"], "drift");
    assert_eq!(
        report["changes"],
        json!([
            {"class": "column_added", "table": format!("{sup}.messages"), "column": "edited_at", "data_type": "TIMESTAMP"},
            {"class": "column_removed", "table": format!("{sup}.rooms"), "column": "archived"},
        ])
    );
    let text = check("text").await;
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!(
        "column_added         {sup}.messages.edited_at TIMESTAMP"
    )));

    // Wrong password: exit code 2, the error names the login.
    let bad = cli_async(&[
        "check",
        "--schemas",
        s,
        "--url",
        &url,
        "--user",
        user,
        "--password",
        "nope",
    ])
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains(&format!("login as `{user}` failed with http 401"))
    );
}

/// The generated types compile against kalam-client (the derive checks them against
/// `schemas/`) and carry rows to and from the emulator. Emulator-only: the generated
/// `insert`/`update` send SQL constants that name the schema's namespace `support` itself
/// (`map_namespace` reaches only the checked macros), and a shared server cannot give each
/// test that namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_generated_code_compiles_and_round_trips_rows() {
    use generated::support::{Message, MessageEvent, NewMessage, NewRoom, Room, messages};
    use kalam_client::{AuthProvider, KalamClient, TableKind};

    emulator_only!();
    let emu = Emulator::builder()
        .schemas_dir(workspace_schemas())
        .start()
        .await
        .unwrap();
    let (user, password) = kalam_emulator::DEFAULT_ADMIN;
    let sup = "support";
    let client = KalamClient::builder()
        .base_url(emu.url())
        .auth(AuthProvider::basic_auth(user, password))
        .build()
        .unwrap();

    assert_eq!(
        (Message::NAMESPACE, Message::TABLE),
        ("support", "messages")
    );
    assert_eq!(Message::KIND, TableKind::User);
    assert_eq!(Message::PRIMARY_KEY, Some(messages::ID));
    assert_eq!(
        <Message as kalam_client::KalamTable>::KIND,
        Message::KIND,
        "the derive and the generated constants agree"
    );

    let new = NewMessage {
        role: "user".into(),
        body: "hello".into(),
    };
    assert_eq!(new.insert(&client).await.unwrap(), 1);
    let sql = format!(
        "SELECT {} FROM {sup}.messages WHERE {} = $1",
        Message::COLUMNS.join(", "),
        messages::ROLE
    );
    let rows: Vec<Message> = kalam_client::query_as(sql)
        .bind("user")
        .fetch_all(&client)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.role.as_str(), row.body.as_str(), row.room.as_str()),
        ("user", "hello", "main")
    );
    assert!(row.id > 0, "SNOWFLAKE_ID() default");

    // Update by key writes every column back.
    let mut edited = row.clone();
    edited.body = "hello again".into();
    edited.room = "lobby".into();
    assert_eq!(edited.update(&client).await.unwrap(), 1);
    let back: Vec<Message> = kalam_client::query_as(format!(
        "SELECT {} FROM {sup}.messages WHERE {} = $1",
        Message::COLUMNS.join(", "),
        messages::ID
    ))
    .bind(row.id)
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(back, vec![edited.clone()]);
    let mut gone = edited;
    gone.id += 1;
    assert_eq!(
        gone.update(&client).await.unwrap(),
        0,
        "no row has that key"
    );

    let room = NewRoom {
        name: "lobby".into(),
        title: "Lobby".into(),
    };
    room.insert(&client).await.unwrap();
    let rooms: Vec<Room> = kalam_client::query_as(format!(
        "SELECT {} FROM {sup}.rooms",
        Room::COLUMNS.join(", ")
    ))
    .fetch_all(&client)
    .await
    .unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(
        (rooms[0].title.as_str(), rooms[0].archived),
        ("Lobby", false)
    );
    assert_eq!(rooms[0].created_by.as_deref(), Some(user));

    let event = MessageEvent::Message(row.clone());
    assert_eq!(event.table(), "support.messages");
    assert_eq!(MessageEvent::SOURCES, ["support.messages"]);
    emu.shutdown().await;
}
