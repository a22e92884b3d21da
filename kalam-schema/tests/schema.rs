//! Fixture-driven tests: the shared schema, the query cases (snapshotted descriptions), the
//! error cases (snapshotted renderings), DDL parsing and live-query validation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kalam_schema::{
    AlterTableOp, Catalog, DdlStatement, DefaultValue, ErrorKind, Literal, SqlType, TableKind,
    check_live, describe, live_query, load_dir, parse_ddl,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Splits a fixture file into cases: blank-line separated paragraphs; comment lines are kept
/// apart from the SQL; comment-only paragraphs are skipped.
fn cases(text: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut comments = Vec::new();
        let mut sql = Vec::new();
        for line in para.lines() {
            if sql.is_empty() && line.trim_start().starts_with("--") {
                comments.push(line.trim().to_owned());
            } else if !line.trim().is_empty() {
                sql.push(line);
            }
        }
        if !sql.is_empty() {
            out.push((comments, sql.join("\n")));
        }
    }
    out
}

fn catalog() -> Catalog {
    load_dir(format!("{FIXTURES}/schema")).unwrap().catalog
}

#[test]
fn fixture_schema_loads_with_every_file_tracked() {
    let loaded = load_dir(format!("{FIXTURES}/schema")).unwrap();
    let names: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["01_app.sql", "02_shop.sql", "03_types.sql", "04_topics.sql"]
    );
    let c = &loaded.catalog;
    assert_eq!(c.table("app", "todos").unwrap().kind, TableKind::User);
    assert_eq!(c.table("app", "board").unwrap().kind, TableKind::Shared);
    assert_eq!(c.table("app", "events").unwrap().kind, TableKind::Stream);
    assert_eq!(c.table("shop", "products").unwrap().kind, TableKind::Shared);
    assert!(c.table("shop", "scratch").is_none());
    let t = c.table("types", "all_types").unwrap();
    assert!(t.column("legacy").is_none());
    let extra = t.column("extra").unwrap();
    assert!(!extra.nullable);
    assert_eq!(t.columns.last().unwrap().name, "_deleted");
    let ordinals: Vec<u32> = t.columns.iter().map(|c| c.ordinal).collect();
    assert_eq!(ordinals, (1..=t.columns.len() as u32).collect::<Vec<_>>());
    assert_eq!(c.topic("shop", "order_events").unwrap().sources.len(), 3);
}

#[test]
fn query_cases_describe() {
    let c = catalog();
    let text = std::fs::read_to_string(format!("{FIXTURES}/queries.sql")).unwrap();
    let all = cases(&text);
    assert!(all.len() >= 150, "only {} query cases", all.len());
    let mut out = String::new();
    let mut failures = Vec::new();
    for (_, sql) in &all {
        out.push_str(&format!("── {sql}\n"));
        match describe(&c, sql, None) {
            Ok(d) => out.push_str(&d.to_text()),
            Err(e) => {
                failures.push(format!("{sql}\n{}", e.render(sql)));
                out.push_str(&format!("ERROR {e}\n"));
            }
        }
    }
    insta::assert_snapshot!("queries", out);
    assert!(
        failures.is_empty(),
        "query cases failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn error_cases_render() {
    let c = catalog();
    let text = std::fs::read_to_string(format!("{FIXTURES}/errors.sql")).unwrap();
    let all = cases(&text);
    assert!(all.len() >= 40, "only {} error cases", all.len());
    let mut out = String::new();
    for (_, sql) in &all {
        match describe(&c, sql, None) {
            Ok(d) => panic!("expected an error for {sql}, got\n{}", d.to_text()),
            Err(e) => {
                assert!(e.location.is_some(), "no location for {sql}: {e}");
                out.push_str(&format!("── {sql}\n[{:?}]\n{}", e.kind, e.render(sql)));
            }
        }
    }
    insta::assert_snapshot!("errors", out);
}

#[test]
fn did_you_mean_and_caret() {
    let c = catalog();
    let sql = "SELECT id, craeted_at FROM app.todos";
    let e = describe(&c, sql, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownColumn);
    assert_eq!(e.suggestion.as_deref(), Some("created_at"));
    let loc = e.location.clone().unwrap();
    assert_eq!((loc.line, loc.column, loc.offset, loc.len), (1, 12, 11, 10));
    assert_eq!(
        e.render(sql),
        "error: unknown column `craeted_at` in app.todos\n --> sql:1:12\n  |\n1 | SELECT id, craeted_at FROM app.todos\n  |            ^^^^^^^^^^\n  = help: did you mean `created_at`?\n"
    );
    let e = describe(&c, "SELECT * FROM app.todo", None).unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("app.todos"));
    let e = describe(&c, "SELECT 1 FROM shop.todos", None).unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("app.todos"));
}

#[test]
fn default_namespace_applies_to_unqualified_names() {
    let c = catalog();
    let d = describe(&c, "SELECT title FROM todos WHERE done", Some("app")).unwrap();
    assert_eq!(d.tables[0].namespace, "app");
    assert!(describe(&c, "SELECT title FROM todos", None).is_err());
}

fn one(sql: &str) -> DdlStatement {
    let mut v = parse_ddl(sql).unwrap_or_else(|e| panic!("{sql}: {}", e.render(sql)));
    assert_eq!(v.len(), 1, "{sql}");
    v.remove(0)
}

fn table_of(sql: &str) -> kalam_schema::Table {
    match one(sql) {
        DdlStatement::CreateTable { table, .. } => table,
        other => panic!("not a table: {other:?}"),
    }
}

#[test]
fn ddl_every_type_and_alias() {
    let cases = [
        ("BOOLEAN", SqlType::Boolean),
        ("BOOL", SqlType::Boolean),
        ("SMALLINT", SqlType::SmallInt),
        ("INT2", SqlType::SmallInt),
        ("SMALLSERIAL", SqlType::SmallInt),
        ("INT", SqlType::Int),
        ("INTEGER", SqlType::Int),
        ("INT4", SqlType::Int),
        ("MEDIUMINT", SqlType::Int),
        ("SERIAL", SqlType::Int),
        ("BIGINT", SqlType::BigInt),
        ("INT8", SqlType::BigInt),
        ("INT64", SqlType::BigInt),
        ("BIGSERIAL", SqlType::BigInt),
        ("FLOAT", SqlType::Float),
        ("REAL", SqlType::Float),
        ("FLOAT4", SqlType::Float),
        ("DOUBLE", SqlType::Double),
        ("DOUBLE PRECISION", SqlType::Double),
        ("FLOAT8", SqlType::Double),
        ("FLOAT64", SqlType::Double),
        (
            "DECIMAL(10, 2)",
            SqlType::Decimal {
                precision: 10,
                scale: 2,
            },
        ),
        (
            "DECIMAL(7)",
            SqlType::Decimal {
                precision: 7,
                scale: 0,
            },
        ),
        (
            "DECIMAL",
            SqlType::Decimal {
                precision: 38,
                scale: 10,
            },
        ),
        ("TEXT", SqlType::Text),
        ("VARCHAR(20)", SqlType::Text),
        ("VARCHAR", SqlType::Text),
        ("CHAR(2)", SqlType::Text),
        ("CHARACTER VARYING(9)", SqlType::Text),
        ("NVARCHAR(9)", SqlType::Text),
        ("STRING", SqlType::Text),
        ("CLOB", SqlType::Text),
        ("TIMESTAMP", SqlType::Timestamp),
        ("TIMESTAMP(3)", SqlType::Timestamp),
        ("DATETIME", SqlType::DateTime),
        ("DATE", SqlType::Date),
        ("TIME", SqlType::Time),
        ("UUID", SqlType::Uuid),
        ("JSON", SqlType::Json),
        ("JSONB", SqlType::Json),
        ("BYTES", SqlType::Bytes),
        ("BYTEA", SqlType::Bytes),
        ("BLOB", SqlType::Bytes),
        ("VARBINARY(8)", SqlType::Bytes),
        ("FILE", SqlType::File),
        ("EMBEDDING(384)", SqlType::Embedding(384)),
    ];
    for (spelling, ty) in cases {
        let sql = format!("CREATE STREAM TABLE app.t (c {spelling}) WITH (TTL_SECONDS = 5)");
        let t = table_of(&sql);
        assert_eq!(t.columns[0].ty, ty, "{spelling}");
        let serial = spelling.contains("SERIAL");
        assert_eq!(
            t.columns[0].default == Some(DefaultValue::SnowflakeId),
            serial,
            "{spelling}"
        );
    }
    for bad in [
        "TINYINT",
        "INT1",
        "NUMERIC",
        "NUMERIC(10,2)",
        "INTERVAL",
        "DECIMAL(40,2)",
        "EMBEDDING(0)",
        "TIMESTAMP WITH TIME ZONE",
    ] {
        let sql = format!("CREATE STREAM TABLE app.t (c {bad}) WITH (TTL_SECONDS = 5)");
        let e = parse_ddl(&sql).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::UnsupportedType | ErrorKind::Syntax),
            "{bad}: {e}"
        );
    }
}

#[test]
fn ddl_defaults_and_constraints() {
    let t = table_of(
        "CREATE USER TABLE app.t (
            id BIGINT AUTO_INCREMENT PRIMARY KEY,
            a TEXT DEFAULT CURRENT_USER(),
            b TEXT DEFAULT CURRENT_USER,
            c TIMESTAMP DEFAULT NOW(),
            d TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            e TEXT DEFAULT ULID(),
            f UUID DEFAULT UUID_V7(),
            g BIGINT DEFAULT SNOWFLAKE_ID(),
            h INT DEFAULT -5,
            i DOUBLE DEFAULT 2.5,
            j TEXT DEFAULT 'x''y',
            k BOOLEAN DEFAULT TRUE,
            l TEXT DEFAULT NULL,
            m TEXT DEFAULT lower('X'),
            n INT NOT NULL,
            o INT NULL UNIQUE COMMENT 'the o'
        )",
    );
    let d = |n: &str| t.column(n).unwrap().default.clone();
    assert_eq!(d("id"), Some(DefaultValue::SnowflakeId));
    assert_eq!(d("a"), Some(DefaultValue::CurrentUser));
    assert_eq!(d("b"), Some(DefaultValue::CurrentUser));
    assert_eq!(d("c"), Some(DefaultValue::Now));
    assert_eq!(d("d"), Some(DefaultValue::Now));
    assert_eq!(d("e"), Some(DefaultValue::Ulid));
    assert_eq!(d("f"), Some(DefaultValue::UuidV7));
    assert_eq!(d("g"), Some(DefaultValue::SnowflakeId));
    assert_eq!(
        d("h"),
        Some(DefaultValue::Literal(Literal::Number("-5".into())))
    );
    assert_eq!(
        d("i"),
        Some(DefaultValue::Literal(Literal::Number("2.5".into())))
    );
    assert_eq!(
        d("j"),
        Some(DefaultValue::Literal(Literal::String("x'y".into())))
    );
    assert_eq!(d("k"), Some(DefaultValue::Literal(Literal::Bool(true))));
    assert_eq!(d("l"), Some(DefaultValue::Literal(Literal::Null)));
    assert_eq!(
        d("m"),
        Some(DefaultValue::Literal(Literal::String("lower('X')".into())))
    );
    assert!(!t.column("n").unwrap().nullable);
    assert!(t.column("o").unwrap().nullable);
    assert_eq!(t.column("o").unwrap().comment.as_deref(), Some("the o"));
    let pk = t.primary_key().unwrap();
    assert!(pk.primary_key && !pk.nullable && pk.name == "id");
    // Identity columns and `AUTO INCREMENT` also mean SNOWFLAKE_ID().
    let t = table_of(
        "CREATE USER TABLE app.t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x INT AUTO INCREMENT)",
    );
    assert_eq!(t.columns[0].default, Some(DefaultValue::SnowflakeId));
    assert_eq!(t.columns[1].default, Some(DefaultValue::SnowflakeId));
    // Column names are folded to lower case.
    let t = table_of("CREATE USER TABLE App.T (Id INT PRIMARY KEY, CamelCase TEXT)");
    assert_eq!((t.namespace.as_str(), t.name.as_str()), ("app", "t"));
    assert_eq!(t.columns[1].name, "camelcase");
}

#[test]
fn ddl_kinds_and_options() {
    assert_eq!(
        table_of("CREATE TABLE app.t (id INT PRIMARY KEY)").kind,
        TableKind::Shared
    );
    assert_eq!(
        table_of("CREATE TABLE app.t (id INT PRIMARY KEY) WITH (TYPE = 'USER')").kind,
        TableKind::User
    );
    assert_eq!(
        table_of("CREATE USER TABLE app.t (id INT PRIMARY KEY) WITH (TYPE = 'USER')").kind,
        TableKind::User
    );
    let t = table_of(
        "CREATE TABLE app.t (id INT PRIMARY KEY) USING heap WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PUBLIC', STORAGE_ID = 'local', FLUSH_POLICY = 'rows:10', DELETED_RETENTION_HOURS = 168)",
    );
    assert_eq!(
        t.options.access_level,
        Some(kalam_schema::AccessLevel::Public)
    );
    assert_eq!(t.options.storage_id.as_deref(), Some("local"));
    assert_eq!(
        t.options
            .other
            .get("DELETED_RETENTION_HOURS")
            .map(String::as_str),
        Some("168")
    );
    let t = table_of("CREATE STREAM TABLE IF NOT EXISTS app.s (x TEXT) WITH (TTL_SECONDS = 30)");
    assert_eq!(
        (t.kind, t.options.ttl_seconds),
        (TableKind::Stream, Some(30))
    );
    let t = table_of("CREATE TABLE t (id INT PRIMARY KEY)");
    assert_eq!(t.namespace, "default");

    let refused = [
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY) WITH (TYPE = 'SHARED')",
            "disagrees",
        ),
        (
            "CREATE TABLE app.t (id INT PRIMARY KEY) WITH (COLOR = 'red')",
            "Unknown table option 'COLOR'",
        ),
        ("CREATE STREAM TABLE app.s (x TEXT)", "requires TTL_SECONDS"),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY) WITH (TTL_SECONDS = 5)",
            "only allowed on STREAM",
        ),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')",
            "only allowed on SHARED",
        ),
        (
            "CREATE SHARED TABLE app.t (id INT PRIMARY KEY) WITH (USE_USER_STORAGE = TRUE)",
            "only allowed on USER",
        ),
        (
            "CREATE USER TABLE app.t (a INT, b INT, PRIMARY KEY (a, b))",
            "Composite PRIMARY KEYs",
        ),
        (
            "CREATE USER TABLE app.t (a INT PRIMARY KEY, b INT PRIMARY KEY)",
            "Composite PRIMARY KEYs",
        ),
        ("CREATE USER TABLE app.t (a INT)", "needs a PRIMARY KEY"),
        ("CREATE SHARED TABLE app.t (a INT)", "needs a PRIMARY KEY"),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY, _seq INT)",
            "reserved column name",
        ),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY, _hidden INT)",
            "cannot start with '_'",
        ),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY, ID TEXT)",
            "duplicate column name",
        ),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY, select INT)",
            "",
        ),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY) WITH (TYPE = 'SYSTEM')",
            "invalid value",
        ),
        (
            "CREATE USER TABLE app.t (id INT PRIMARY KEY) WITH (TTL_SECONDS = 'x')",
            "invalid value",
        ),
        ("CREATE TABLE app.t AS SELECT 1", ""),
        ("CREATE NAMESPACE 9lives", "namespace name"),
    ];
    for (sql, needle) in refused {
        let e = parse_ddl(sql).expect_err(sql);
        assert!(e.message.contains(needle), "{sql}: {e}");
        assert!(e.location.is_some(), "{sql}");
    }
}

#[test]
fn ddl_namespaces_alter_drop_and_topics() {
    assert_eq!(
        one("CREATE NAMESPACE IF NOT EXISTS app"),
        DdlStatement::CreateNamespace {
            name: "app".into(),
            if_not_exists: true
        }
    );
    assert_eq!(
        one("DROP NAMESPACE IF EXISTS app CASCADE"),
        DdlStatement::DropNamespace {
            name: "app".into(),
            if_exists: true,
            cascade: true
        }
    );
    assert_eq!(
        one("USE NAMESPACE app"),
        DdlStatement::UseNamespace { name: "app".into() }
    );
    assert_eq!(
        one("SET NAMESPACE app"),
        DdlStatement::UseNamespace { name: "app".into() }
    );
    let alter = |sql: &str| match one(sql) {
        DdlStatement::AlterTable {
            namespace,
            table,
            ops,
        } => {
            assert_eq!((namespace.as_str(), table.as_str()), ("app", "t"));
            ops
        }
        other => panic!("{other:?}"),
    };
    let ops = alter("ALTER TABLE app.t ADD COLUMN c INT NOT NULL DEFAULT 0");
    assert!(
        matches!(&ops[0], AlterTableOp::AddColumn { column, if_not_exists: false } if column.name == "c" && !column.nullable)
    );
    assert_eq!(
        alter("ALTER TABLE app.t DROP COLUMN c"),
        [AlterTableOp::DropColumn {
            name: "c".into(),
            if_exists: false
        }]
    );
    assert_eq!(
        alter("ALTER USER TABLE app.t MODIFY COLUMN c BIGINT NULL"),
        [AlterTableOp::ModifyColumn {
            name: "c".into(),
            ty: SqlType::BigInt,
            nullable: Some(true)
        }]
    );
    assert_eq!(
        alter("ALTER TABLE app.t ALTER COLUMN c TYPE TEXT"),
        [AlterTableOp::ModifyColumn {
            name: "c".into(),
            ty: SqlType::Text,
            nullable: None
        }]
    );
    assert_eq!(
        alter("ALTER TABLE app.t ALTER COLUMN c DROP NOT NULL"),
        [AlterTableOp::SetNullable {
            name: "c".into(),
            nullable: true
        }]
    );
    assert_eq!(
        alter("ALTER TABLE app.t ALTER COLUMN c SET DEFAULT NOW()"),
        [AlterTableOp::SetDefault {
            name: "c".into(),
            default: Some(DefaultValue::Now)
        }]
    );
    assert_eq!(
        alter("ALTER TABLE app.t ALTER COLUMN c DROP DEFAULT"),
        [AlterTableOp::SetDefault {
            name: "c".into(),
            default: None
        }]
    );
    assert_eq!(
        alter("ALTER TABLE app.t RENAME COLUMN a TO B"),
        [AlterTableOp::RenameColumn {
            from: "a".into(),
            to: "b".into()
        }]
    );
    assert_eq!(
        alter("ALTER TABLE app.t SET ACCESS LEVEL PUBLIC"),
        [AlterTableOp::SetAccessLevel(
            kalam_schema::AccessLevel::Public
        )]
    );
    assert_eq!(
        alter("ALTER TABLE app.t SET TBLPROPERTIES (ACCESS_LEVEL = 'DBA')"),
        [AlterTableOp::SetAccessLevel(kalam_schema::AccessLevel::Dba)]
    );
    assert_eq!(
        one("DROP STREAM TABLE IF EXISTS app.t"),
        DdlStatement::DropTable {
            namespace: "app".into(),
            table: "t".into(),
            if_exists: true
        }
    );
    assert_eq!(
        one("CREATE TOPIC app.feed"),
        DdlStatement::CreateTopic {
            namespace: "app".into(),
            name: "feed".into(),
            partitions: 1,
            if_not_exists: false
        }
    );
    assert_eq!(
        one("DROP TOPIC app.feed"),
        DdlStatement::DropTopic {
            namespace: "app".into(),
            name: "feed".into(),
            if_exists: false
        }
    );
    match one(
        "ALTER TOPIC app.feed ADD SOURCE todos ON DELETE WHERE (done = true AND x <> 'a') WITH (payload = 'key')",
    ) {
        DdlStatement::AlterTopicAddSource { source, .. } => {
            assert_eq!(source.namespace, "default");
            assert_eq!(source.filter.as_deref(), Some("(done = true AND x <> 'a')"));
            assert_eq!(source.payload, kalam_schema::PayloadMode::Key);
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        "CREATE TOPIC feed",
        "CREATE TOPIC app.feed PARTITIONS 0",
        "ALTER TOPIC app.feed ADD SOURCE app.t ON MERGE",
        "ALTER TOPIC app.feed ADD SOURCE app.t ON INSERT WITH (payload = 'all')",
        "ALTER TOPIC app.feed DROP SOURCE app.t",
        "SELECT 1",
        "CREATE NAMESPACE",
        "ALTER TABLE app.t SET ACCESS LEVEL EVERYONE",
    ] {
        assert!(parse_ddl(bad).is_err(), "{bad}");
    }
}

#[test]
fn catalog_apply_enforces_rules() {
    let mut c = Catalog::with_builtins();
    let run = |c: &mut Catalog, sql: &str| -> Result<(), kalam_schema::SchemaError> {
        for s in parse_ddl(sql)? {
            c.apply(s)?;
        }
        Ok(())
    };
    let msg = |r: Result<(), kalam_schema::SchemaError>| r.unwrap_err().message;
    assert!(
        msg(run(&mut c, "CREATE TABLE app.t (id INT PRIMARY KEY)"))
            .contains("Namespace 'app' does not exist")
    );
    assert!(msg(run(&mut c, "CREATE NAMESPACE main")).contains("reserved"));
    run(
        &mut c,
        "CREATE NAMESPACE app; CREATE NAMESPACE IF NOT EXISTS app",
    )
    .unwrap();
    assert!(msg(run(&mut c, "CREATE NAMESPACE app")).contains("already exists"));
    run(
        &mut c,
        "CREATE USER TABLE app.t (id INT PRIMARY KEY, a TEXT)",
    )
    .unwrap();
    assert!(
        msg(run(&mut c, "CREATE USER TABLE app.t (id INT PRIMARY KEY)")).contains("already exists")
    );
    run(
        &mut c,
        "CREATE USER TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY)",
    )
    .unwrap();
    assert!(msg(run(&mut c, "ALTER TABLE app.nope ADD COLUMN b INT")).contains("unknown table"));
    assert!(msg(run(&mut c, "ALTER TABLE app.t ADD COLUMN a INT")).contains("already exists"));
    assert!(msg(run(&mut c, "ALTER TABLE app.t DROP COLUMN id")).contains("primary key"));
    assert!(msg(run(&mut c, "ALTER TABLE app.t DROP COLUMN _seq")).contains("system column"));
    assert!(msg(run(&mut c, "ALTER TABLE app.t DROP COLUMN zz")).contains("unknown column"));
    assert!(msg(run(&mut c, "ALTER TABLE app.t SET ACCESS LEVEL PUBLIC")).contains("SHARED"));
    run(&mut c, "ALTER TABLE app.t ADD COLUMN b INT; ALTER TABLE app.t RENAME COLUMN b TO c; ALTER TABLE app.t DROP COLUMN IF EXISTS zz").unwrap();
    let t = c.table("app", "t").unwrap();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "a", "c", "_seq", "_deleted"]);
    assert!(msg(run(&mut c, "DROP TABLE app.nope")).contains("unknown table"));
    run(&mut c, "DROP TABLE IF EXISTS app.nope; CREATE TOPIC app.f").unwrap();
    assert!(
        msg(run(&mut c, "ALTER TOPIC app.f ADD SOURCE app.zz ON INSERT")).contains("unknown table")
    );
    run(&mut c, "ALTER TOPIC app.f ADD SOURCE app.t ON INSERT").unwrap();
    assert!(
        msg(run(&mut c, "ALTER TOPIC app.f ADD SOURCE app.t ON INSERT"))
            .contains("already has a source")
    );
    assert!(
        msg(run(&mut c, "ALTER TOPIC app.g ADD SOURCE app.t ON INSERT")).contains("unknown topic")
    );
    run(
        &mut c,
        "DROP TABLE app.t; DROP TOPIC app.f; DROP NAMESPACE app",
    )
    .unwrap();
    assert!(!c.namespaces.contains_key("app"));
}

#[test]
fn schema_file_errors_name_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("kalam-schema-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.sql"),
        "CREATE NAMESPACE app;\n\nCREATE TABLE app.t (\n  id INT PRIMARY KEY,\n  x FANCYTYPE\n);\n",
    )
    .unwrap();
    let e = load_dir(&dir).unwrap_err();
    let loc = e.location.clone().unwrap();
    assert_eq!(loc.file.as_deref(), Some(dir.join("a.sql").as_path()));
    assert_eq!((loc.line, loc.column), (5, 3));
    std::fs::write(
        dir.join("a.sql"),
        "CREATE NAMESPACE app;\nCREATE TABLE ap.t (id INT PRIMARY KEY);\n",
    )
    .unwrap();
    let e = load_dir(&dir).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownNamespace);
    assert_eq!(e.suggestion.as_deref(), Some("app"));
    assert_eq!(
        e.location.as_ref().map(|l| (l.line, l.column)),
        Some((2, 17))
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(load_dir(&dir).unwrap_err().kind, ErrorKind::Io);
}

#[test]
fn live_accepted_forms() {
    let accepted = [
        ("SELECT * FROM app.todos", None, None),
        (
            "SELECT id, title FROM app.todos",
            Some(vec!["id", "title"]),
            None,
        ),
        ("SELECT todos.id FROM app.todos", Some(vec!["id"]), None),
        ("SELECT * FROM app.todos WHERE n = 3", None, Some("n = 3")),
        ("SELECT * FROM app.todos WHERE n <> 5", None, Some("n <> 5")),
        ("SELECT * FROM app.todos WHERE n != 5", None, Some("n <> 5")),
        (
            "SELECT * FROM app.todos WHERE n > 2 AND body = 'x'",
            None,
            Some("n > 2 AND body = 'x'"),
        ),
        (
            "SELECT * FROM app.todos WHERE n = 1 OR n = 3",
            None,
            Some("n = 1 OR n = 3"),
        ),
        (
            "SELECT * FROM app.todos WHERE NOT (n = 5)",
            None,
            Some("NOT (n = 5)"),
        ),
        (
            "SELECT * FROM app.todos WHERE body LIKE 'x%'",
            None,
            Some("body LIKE 'x%'"),
        ),
        (
            "SELECT * FROM app.todos WHERE body ILIKE 'x%'",
            None,
            Some("body ILIKE 'x%'"),
        ),
        (
            "SELECT * FROM app.todos WHERE n >= -1 AND n <= 2.5 AND done = true AND x < 1",
            None,
            None,
        ),
        ("SELECT * FROM app.todos WHERE 3 < n", None, Some("3 < n")),
        (
            "SELECT * FROM app.todos WHERE body = NULL",
            None,
            Some("body = NULL"),
        ),
        (
            "SELECT * FROM app.todos WHERE todos.n = 1",
            None,
            Some("todos.n = 1"),
        ),
    ];
    for (sql, cols, filter) in accepted {
        let q = live_query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!((q.namespace.as_str(), q.table.as_str()), ("app", "todos"));
        assert_eq!(
            q.columns,
            cols.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>()),
            "{sql}"
        );
        if let Some(f) = filter {
            assert_eq!(q.filter.as_deref(), Some(f), "{sql}");
        }
    }
}

#[test]
fn live_refused_forms() {
    use ErrorKind::{LiveQueryShape as S, Syntax};
    let refused: &[(&str, ErrorKind, &str)] = &[
        ("SELECT * FROM todos", S, "namespace.table"),
        ("SELECT * FROM app.todos ORDER BY id", S, "ORDER BY"),
        ("WITH x AS (SELECT 1) SELECT * FROM app.todos", S, "WITH"),
        (
            "SELECT * FROM app.todos a JOIN app.board b ON a.id = b.id",
            S,
            "JOIN",
        ),
        ("SELECT * FROM app.todos LIMIT 5", S, "LIMIT"),
        ("SELECT * FROM app.todos OFFSET 5", S, "LIMIT"),
        ("SELECT DISTINCT id FROM app.todos", S, "DISTINCT"),
        ("SELECT COUNT(*) FROM app.todos", S, "expression"),
        ("SELECT id FROM app.todos GROUP BY id", S, "GROUP BY"),
        ("DELETE FROM app.todos", S, "Only SELECT"),
        (
            "SELECT * FROM app.todos; SELECT * FROM app.board",
            S,
            "exactly one",
        ),
        ("SELECT id AS x FROM app.todos", S, "alias"),
        ("SELECT UPPER(body) AS u FROM app.todos", S, "alias"),
        ("SELECT id, n + 1 FROM app.todos", S, "expression"),
        ("SELECT * FROM app.todos t", S, "alias"),
        ("SELECT * FROM (SELECT * FROM app.todos) s", S, "subquery"),
        ("SELECT * FROM app.todos, app.board", S, "exactly one table"),
        (
            "SELECT * FROM app.todos UNION SELECT * FROM app.board",
            S,
            "UNION",
        ),
        ("SELECT * FROM app.todos WHERE id = $1", S, "no parameters"),
        (
            "SELECT * FROM app.todos WHERE id = 1 OR (n IN (1, $2))",
            S,
            "no parameters",
        ),
        ("SELECT * FROM app.todos WHERE", Syntax, "syntax error"),
    ];
    for (sql, kind, needle) in refused {
        let e = live_query(sql).expect_err(sql);
        assert_eq!(e.kind, *kind, "{sql}: {e}");
        assert!(e.message.contains(needle), "{sql}: {e}");
        assert!(e.location.is_some(), "{sql}");
    }
    // The shape check leaves every WHERE form to the filter modes.
    for sql in [
        "SELECT * FROM app.todos WHERE n IN (1, 3)",
        "SELECT * FROM app.todos WHERE LOWER(body) = 'x' OR done",
        "SELECT * FROM app.todos WHERE n > -1 AND body = CURRENT_USER()",
    ] {
        let q = live_query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(q.where_clause().is_some(), "{sql}");
    }
}

#[test]
fn live_filters_checked_per_mode() {
    use kalam_schema::filter::{EXACT_MODE_HELP, FilterMode};
    let c = catalog();
    // Exact mode evaluates every form below on the client; server mode refuses them.
    let server_refused: &[(&str, &str)] = &[
        ("priority IN (1, 3)", "IN"),
        ("priority NOT IN (1, 3)", "IN"),
        ("priority BETWEEN 2 AND 4", "BETWEEN"),
        ("priority IS NULL", "IS [NOT] NULL"),
        ("body IS NOT NULL", "IS [NOT] NULL"),
        ("LOWER(body) = 'x'", "function"),
        ("length(body) > 1", "function"),
        ("priority + 1 = 4", "arithmetic"),
        ("priority > -1", "negative"),
        ("done", "alone"),
        ("NOT done", "alone"),
        ("created_at > '2025-01-01T00:00:00Z'", "TIMESTAMP"),
        ("title > 'a'", "ordering text"),
        ("title = body", "two columns"),
        ("body = CURRENT_USER()", "function"),
        ("priority > 2 OR done = false", "NULL"),
    ];
    for (condition, needle) in server_refused {
        let sql = format!("SELECT id, title FROM app.todos WHERE {condition}");
        check_live(&c, &sql, FilterMode::Exact).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let e = check_live(&c, &sql, FilterMode::Server).expect_err(&sql);
        assert_eq!(e.kind, ErrorKind::LiveQueryFilter, "{sql}: {e}");
        assert!(e.message.contains(needle), "{sql}: {e}");
        assert!(
            e.suggestion
                .as_deref()
                .unwrap_or("")
                .starts_with(EXACT_MODE_HELP)
        );
    }
    for condition in [
        "priority = 3 AND title = 'x'",
        "done = false OR title LIKE 'a%'",
        "NOT (priority = 5)",
        "priority > $1 AND title = $2",
    ] {
        let sql = format!("SELECT * FROM app.todos WHERE {condition}");
        for mode in [FilterMode::Exact, FilterMode::Server] {
            check_live(&c, &sql, mode).unwrap_or_else(|e| panic!("{sql} ({mode:?}): {e}"));
        }
    }
    // Exact mode refuses what the client's evaluator does not evaluate.
    let sql = "SELECT * FROM app.todos WHERE CASE WHEN done THEN 1 ELSE 0 END = 1";
    let e = check_live(&c, sql, FilterMode::Exact).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let sql = "SELECT * FROM app.todos WHERE done = true AND priority IN (1, 3)";
    let e = check_live(&c, sql, FilterMode::Server).unwrap_err();
    assert_eq!(e.location.as_ref().map(|l| l.column), Some(47));
    let r = e.render(sql);
    assert!(
        r.contains(&format!("  | {}^^^^^^^^^^^^^^^^^\n", " ".repeat(46))),
        "{r}"
    );
    assert!(
        r.contains("rewrite as: priority = 1 OR priority = 3"),
        "{r}"
    );
}

#[test]
fn live_checked_against_catalog() {
    use kalam_schema::filter::FilterMode;
    let c = catalog();
    let (q, d) = kalam_schema::check_live(
        &c,
        "SELECT id, title FROM app.todos WHERE done = false",
        FilterMode::Exact,
    )
    .unwrap();
    assert_eq!(q.table, "todos");
    assert_eq!(d.columns.len(), 2);
    let e = kalam_schema::check_live(&c, "SELECT * FROM app.todoz", FilterMode::Exact).unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("app.todos"));
    let e = kalam_schema::check_live(
        &c,
        "SELECT * FROM app.todos WHERE done = 'x'",
        FilterMode::Exact,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TypeMismatch);
}
