//! Offline tests: generated Rust and SQL snapshots, DDL round trips, config, naming, `check`
//! against generated files, schema diagnostics, and the CLI's exit codes without a server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::Path;
use std::process::Command;

use kalam_codegen::{
    Config, ConfigError, Error, FileStatus, Generator, emit_sql, generate_rust, load_schemas,
    user_catalog,
};
use support::{TempDir, all_text, copy_dir, fixture, workspace_schemas};

fn generator(case: &Path, out: &Path) -> Generator {
    let g = Generator::new()
        .schemas(case.join("schemas"))
        .out_modules(out)
        .cargo_rerun_lines(false);
    let config = case.join("kalam-codegen.toml");
    if config.is_file() {
        g.config_file(config)
    } else {
        g.config(Config::default())
    }
}

/// Snapshots every generated file of a case into `tests/fixtures/<case>/`.
fn snapshot_rust(case: &str, schemas_case: &Path) {
    let tmp = TempDir::new(case);
    let generated = generator(schemas_case, tmp.path()).generate().unwrap();
    insta::with_settings!({
        snapshot_path => fixture(case),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        for (name, text) in generated.files.files() {
            let stem = name.to_str().unwrap().trim_end_matches(".rs");
            insta::assert_snapshot!(format!("rust_{stem}"), text);
        }
    });
}

fn snapshot_sql(case: &str, schemas: &Path) {
    let catalog = user_catalog(load_schemas(schemas).unwrap().catalog);
    insta::with_settings!({
        snapshot_path => fixture(case),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        for (name, text) in emit_sql::catalog_sql(&catalog) {
            insta::assert_snapshot!(format!("sql_{}", name.trim_end_matches(".sql")), text);
        }
    });
}

/// The workspace's `schemas/` (every column type, every table kind, a topic).
#[test]
fn workspace_schemas_generate_rust_and_sql() {
    let case = TempDir::new("workspace-case");
    std::fs::create_dir_all(case.path()).unwrap();
    let schemas = workspace_schemas();
    let generated = Generator::new()
        .schemas(&schemas)
        .config(Config::default())
        .out_modules(case.path().join("out"))
        .cargo_rerun_lines(false)
        .generate()
        .unwrap();
    insta::with_settings!({
        snapshot_path => fixture("workspace"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        for (name, text) in generated.files.files() {
            let stem = name.to_str().unwrap().trim_end_matches(".rs");
            insta::assert_snapshot!(format!("rust_{stem}"), text);
        }
    });
    snapshot_sql("workspace", &schemas);
    // The inputs are the directory and every file, for cargo:rerun-if-changed.
    assert!(generated.inputs.contains(&schemas));
    assert!(generated.inputs.iter().any(|p| p.ends_with("support.sql")));
}

/// `tests/fixtures/workspace/kalam.rs` is the single-file output for the workspace schemas,
/// checked in so `tests/server.rs` can compile it against kalam-client and run it against the
/// emulator. Regenerate with `KALAM_CODEGEN_BLESS=1`.
#[test]
fn checked_in_generated_code_is_up_to_date() {
    let generator = Generator::new()
        .schemas(workspace_schemas())
        .config(Config::default())
        .out_file(fixture("workspace").join("kalam.rs"))
        .cargo_rerun_lines(false);
    if std::env::var_os("KALAM_CODEGEN_BLESS").is_some() {
        generator.run().unwrap();
    }
    let checks = generator.check().unwrap();
    assert!(
        checks.iter().all(|c| c.status == FileStatus::UpToDate),
        "{checks:?}: rerun with KALAM_CODEGEN_BLESS=1 and review the diff"
    );
}

#[test]
fn keywords_and_collisions_get_rust_names() {
    snapshot_rust("naming", &fixture("naming"));
    let text = generate_rust(
        &user_catalog(
            load_schemas(fixture("naming").join("schemas"))
                .unwrap()
                .catalog,
        ),
        &Config::default(),
    )
    .unwrap();
    for expected in [
        "pub struct Self_ {",
        "#[kalam(rename = \"type\")]\n        pub type_: ::std::string::String,",
        "#[kalam(rename = \"type_\")]\n        pub type_2:",
        "#[kalam(rename = \"fn\")]\n        pub fn_:",
        "pub struct UserEvent {",
        "pub struct UserEvent2 {",
        "pub struct NewItem {",
        "pub struct NewItem2 {",
        "pub enum UserEventTopic {",
        "Item(super::app::Item),",
        "AppItem(super::app::Item),",
    ] {
        let found =
            text.contains(expected) || text.contains(&expected.replace("\n        ", "\n    "));
        assert!(found, "missing `{expected}` in\n{text}");
    }
}

#[test]
fn config_overrides_types_names_derives_and_filters() {
    snapshot_rust("overrides", &fixture("overrides"));
    let tmp = TempDir::new("overrides-check");
    let text = all_text(
        &generator(&fixture("overrides"), tmp.path())
            .generate()
            .unwrap()
            .files,
    );
    assert!(text.contains("pub placed_at: ::chrono::NaiveDateTime,"));
    assert!(text.contains("pub shipped_at: ::std::option::Option<::chrono::NaiveDateTime>,"));
    assert!(text.contains("pub total: ::rust_decimal::Decimal,"));
    assert!(text.contains("pub embedding: ::std::option::Option<[f32; 4]>,"));
    assert!(text.contains("#[kalam(rename = \"meta\")]"));
    assert!(text.contains("pub metadata: ::std::option::Option<::serde_json::Value>,"));
    assert!(text.contains("pub struct PurchaseOrder {"));
    assert!(text.contains("pub struct PlaceOrder {"));
    assert!(
        text.contains(
            "::kalam_client::KalamRow,\n    ::serde::Serialize,\n    ::std::hash::Hash\n)]"
        )
    );
    assert!(text.contains("#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::std::hash::Hash)]\npub struct PlaceOrder"));
    assert!(!text.contains("audit"), "excluded table generated");
    // Doc comments from `--` lines, above and after a column.
    assert!(text.contains("/// Server-assigned order id."));
    assert!(text.contains("/// Free text from the buyer."));
}

type ErrorCheck = fn(&Error) -> bool;

#[test]
fn bad_config_is_a_typed_error() {
    let catalog = user_catalog(
        load_schemas(fixture("overrides").join("schemas"))
            .unwrap()
            .catalog,
    );
    let cases: [(&str, ErrorCheck); 6] = [
        (
            "[columns.\"shop.orders.nope\"]\nrename = \"x\"",
            |e| matches!(e, Error::Config(ConfigError::UnknownColumn(c)) if c == "shop.orders.nope"),
        ),
        ("[tables.\"shop.nope\"]\nrename = \"X\"", |e| {
            matches!(e, Error::Config(ConfigError::UnknownTable(_)))
        }),
        (
            "[types]\nTINYINT = \"i8\"",
            |e| matches!(e, Error::Config(ConfigError::UnknownType(t)) if t == "TINYINT"),
        ),
        ("[types]\nTEXT = \"not a type!\"", |e| {
            matches!(e, Error::Config(ConfigError::InvalidRustType { .. }))
        }),
        ("[columns.\"shop.orders.note\"]\nrename = \"fn\"", |e| {
            matches!(e, Error::Config(ConfigError::InvalidName { .. }))
        }),
        ("includ = []", |e| {
            matches!(e, Error::Config(ConfigError::Parse { .. }))
        }),
    ];
    for (toml, check) in cases {
        let result = Config::from_toml(toml).and_then(|c| generate_rust(&catalog, &c));
        let err = result.expect_err(toml);
        assert!(check(&err), "{toml}: {err:?}");
    }
}

type Loaded = Result<kalam_schema::LoadedSchema, Error>;

fn load_plain(dir: &Path) -> Loaded {
    Ok(kalam_schema::load_dir(dir)?)
}

fn load_with_comments(dir: &Path) -> Loaded {
    load_schemas(dir)
}

/// Catalog → SQL → catalog gives the same catalog, and the SQL is a fixed point.
#[test]
fn ddl_round_trips_to_the_identical_catalog() {
    for schemas in [
        workspace_schemas(),
        fixture("roundtrip").join("schemas"),
        fixture("naming").join("schemas"),
    ] {
        for load in [load_plain, load_with_comments] {
            let original = user_catalog(load(&schemas).unwrap().catalog);
            let files = emit_sql::catalog_sql(&original);
            let tmp = TempDir::new("roundtrip");
            for (name, text) in &files {
                std::fs::create_dir_all(tmp.path()).unwrap();
                std::fs::write(tmp.path().join(name), text).unwrap();
            }
            let back = user_catalog(load(tmp.path()).unwrap().catalog);
            assert_eq!(back, original, "{}", schemas.display());
            assert_eq!(emit_sql::catalog_sql(&back), files);
        }
    }
    snapshot_sql("roundtrip", &fixture("roundtrip").join("schemas"));
}

#[test]
fn check_mode_reports_up_to_date_stale_missing_and_orphaned_files() {
    let tmp = TempDir::new("check-mode");
    let out = tmp.path().join("generated");
    let g = generator(&fixture("naming"), &out);
    assert!(
        g.check()
            .unwrap()
            .iter()
            .all(|c| c.status == FileStatus::Missing)
    );
    let written = g.run().unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
    assert!(g.is_up_to_date().unwrap());
    // A second run writes nothing (mtimes stay, so Cargo does not rebuild).
    assert!(g.run().unwrap().is_empty());

    std::fs::write(out.join("app.rs"), "// hand edit\n").unwrap();
    std::fs::remove_file(out.join("billing.rs")).unwrap();
    std::fs::write(
        out.join("gone.rs"),
        "// @generated by kalam-codegen 0.0.1\n",
    )
    .unwrap();
    std::fs::write(out.join("mine.rs"), "// not generated\n").unwrap();
    let mut statuses: Vec<(String, FileStatus)> = g
        .check()
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.path.file_name().unwrap().to_string_lossy().into_owned(),
                c.status,
            )
        })
        .collect();
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        statuses,
        [
            ("app.rs".to_owned(), FileStatus::Stale),
            ("billing.rs".to_owned(), FileStatus::Missing),
            ("gone.rs".to_owned(), FileStatus::Orphaned),
            ("mod.rs".to_owned(), FileStatus::UpToDate),
        ]
    );
    g.run().unwrap();
    assert!(g.is_up_to_date().unwrap());
    assert!(!out.join("gone.rs").exists());
    assert!(
        out.join("mine.rs").exists(),
        "a file without the header is not ours"
    );
}

#[test]
fn build_rs_mode_writes_one_include_file() {
    let tmp = TempDir::new("out-dir");
    let written = Generator::new()
        .schemas(workspace_schemas())
        .config(Config::default())
        .out_dir(tmp.path())
        .cargo_rerun_lines(false)
        .run()
        .unwrap();
    assert_eq!(written, [tmp.path().join(kalam_codegen::INCLUDE_FILE)]);
    let text = std::fs::read_to_string(&written[0]).unwrap();
    assert!(text.starts_with("// @generated by kalam-codegen"));
    assert!(text.contains("pub mod support {") && text.contains("pub mod types {"));
    // No inner attributes or inner doc comments: the file must work with `include!`.
    assert!(!text.contains("#!") && !text.contains("//!"));
}

#[test]
fn missing_settings_are_errors() {
    let err = Generator::new().out_dir("x").generate().unwrap_err();
    assert!(matches!(err, Error::Missing(_)));
    let err = Generator::new().schemas("x").generate().unwrap_err();
    assert!(matches!(err, Error::Missing(_)));
}

#[test]
fn bad_schema_file_is_reported_with_file_line_column_and_snippet() {
    let tmp = TempDir::new("bad-schema");
    let schemas = tmp.path().join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    std::fs::write(
        schemas.join("app.sql"),
        "CREATE NAMESPACE app;\n\nCREATE TABLE app.t (\n    id BIGINT PRIMARY KEY,\n    n NUMERIC NOT NULL\n) WITH (TYPE = 'USER');\n",
    )
    .unwrap();
    let err = Generator::new()
        .schemas(&schemas)
        .config(Config::default())
        .out_dir(tmp.path())
        .generate()
        .unwrap_err();
    let Error::Schema(diag) = &err else {
        panic!("{err:?}")
    };
    let loc = diag.error.location.clone().unwrap();
    assert_eq!((loc.line, loc.column), (5, 5));
    assert!(loc.file.unwrap().ends_with("app.sql"));
    let rendered = diag.render();
    assert!(rendered.contains("app.sql:5:5"), "{rendered}");
    assert!(
        rendered.contains("5 |     n NUMERIC NOT NULL"),
        "{rendered}"
    );
    assert!(rendered.contains("|     ^"), "{rendered}");

    // The CLI prints the same and exits with 2.
    let output = cli(&[
        "generate",
        "--schemas",
        schemas.to_str().unwrap(),
        "--out",
        tmp.path().join("g").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("app.sql:5:5") && stderr.contains("n NUMERIC NOT NULL"),
        "{stderr}"
    );
}

/// Runs the CLI with a server named in the environment that nothing listens on: the offline
/// commands must not try to reach it (only `check --url` goes online).
fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kalam-codegen"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KALAMDB_SERVER_URL", "http://127.0.0.1:9")
        .env("KALAMDB_USER", "nobody")
        .env("KALAMDB_PASSWORD", "nothing")
        .output()
        .unwrap()
}

#[test]
fn cli_generate_then_check_offline_exit_codes() {
    let tmp = TempDir::new("cli-offline");
    let schemas = tmp.path().join("schemas");
    copy_dir(&workspace_schemas(), &schemas);
    let out = tmp.path().join("src/generated");
    let (s, o) = (schemas.to_str().unwrap(), out.to_str().unwrap());

    let generated = cli(&["generate", "--schemas", s, "--out", o]);
    assert_eq!(
        generated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let clean = cli(&["check", "--schemas", s, "--out", o]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("up to date"));

    // A schema change makes the generated code stale: exit code 1, JSON names the file.
    let support = schemas.join("support.sql");
    let text = std::fs::read_to_string(&support).unwrap();
    std::fs::write(
        &support,
        text.replace(
            "body TEXT NOT NULL,",
            "body TEXT NOT NULL,\n    edited_at TIMESTAMP,",
        ),
    )
    .unwrap();
    let stale = cli(&["check", "--schemas", s, "--out", o, "--format", "json"]);
    assert_eq!(stale.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&stale.stdout).unwrap();
    assert_eq!(report["status"], "drift");
    let stale_files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "stale")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(stale_files.len(), 1);
    assert!(stale_files[0].ends_with("support.rs"));

    // Nothing to check, and a missing schema directory: exit code 2.
    assert_eq!(cli(&["check", "--schemas", s]).status.code(), Some(2));
    let missing = cli(&[
        "check",
        "--schemas",
        "/nonexistent/schemas",
        "--out",
        o,
        "--format",
        "json",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert_eq!(report["status"], "error");
}
