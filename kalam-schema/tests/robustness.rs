//! Truncated and garbled inputs never panic: every prefix of the fixture schema files and query
//! cases, and random byte garbling with a fixed seed, go through every entry point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kalam_schema::{Catalog, describe, live_query, load_dir, parse_ddl};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// xorshift64*: a fixed-seed generator, enough to garble bytes reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(catalog: &Catalog, text: &str) {
    if let Err(e) = describe(catalog, text, None) {
        let _ = e.render(text);
        let _ = e.to_string();
    }
    if let Err(e) = live_query(text) {
        let _ = e.render(text);
    }
    match parse_ddl(text) {
        Ok(stmts) => {
            let mut c = catalog.clone();
            for s in stmts {
                let _ = c.apply(s);
            }
        }
        Err(e) => {
            let _ = e.render(text);
        }
    }
}

fn prefixes(text: &str) -> impl Iterator<Item = &str> {
    (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .map(move |i| &text[..i])
}

fn schema_texts() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(format!("{FIXTURES}/schema"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn query_texts() -> Vec<String> {
    let mut out = Vec::new();
    for file in ["queries.sql", "errors.sql"] {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
        for para in text.split("\n\n") {
            let sql: Vec<&str> = para
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect();
            if !sql.is_empty() {
                out.push(sql.join("\n"));
            }
        }
    }
    out
}

#[test]
fn every_prefix_of_schema_files_and_queries() {
    let catalog = load_dir(format!("{FIXTURES}/schema")).unwrap().catalog;
    for text in schema_texts() {
        for p in prefixes(&text) {
            if let Err(e) = parse_ddl(p) {
                let _ = e.render(p);
            }
        }
    }
    for q in query_texts() {
        for p in prefixes(&q) {
            exercise(&catalog, p);
        }
    }
}

#[test]
fn garbled_bytes_with_a_fixed_seed() {
    let catalog = load_dir(format!("{FIXTURES}/schema")).unwrap().catalog;
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    const ALPHABET: &[u8] =
        b"();,.'\"`$-+*/=<>!| \n\t0123456789abcxyzSELECTFROMWHERE_\\\x00\xff\xc3\xa9";
    let mut inputs = query_texts();
    inputs.extend(schema_texts());
    for text in &inputs {
        for _ in 0..24 {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                }
            }
            let garbled = String::from_utf8_lossy(&bytes);
            exercise(&catalog, &garbled);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let catalog = load_dir(format!("{FIXTURES}/schema")).unwrap().catalog;
    for depth in [50, 200, 5000] {
        let sql = format!(
            "SELECT {}1{} FROM app.todos",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let _ = describe(&catalog, &sql, None);
        let sql = format!(
            "SELECT id FROM app.todos WHERE {}",
            vec!["id = 1"; depth].join(" AND ")
        );
        let _ = describe(&catalog, &sql, None);
        let _ = live_query(&sql);
        let sql = format!("SELECT {}id FROM app.todos", "- ".repeat(depth));
        let _ = describe(&catalog, &sql, None);
    }
}

// Property tests (proptest, a bounded number of cases so the suite stays fast): arbitrary text
// never panics any entry point, and generated schemas and queries mean what they say.
mod properties {
    use kalam_schema::{Catalog, SqlType, describe, load_str, parse_ddl};
    use proptest::prelude::*;

    /// Column types with the SQL spelling the parser reads.
    const TYPES: [(&str, SqlType); 8] = [
        ("BIGINT", SqlType::BigInt),
        ("INT", SqlType::Int),
        ("SMALLINT", SqlType::SmallInt),
        ("TEXT", SqlType::Text),
        ("BOOLEAN", SqlType::Boolean),
        ("DOUBLE", SqlType::Double),
        ("TIMESTAMP", SqlType::Timestamp),
        ("DATE", SqlType::Date),
    ];

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 96,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Text built from SQL-ish pieces, so that random input reaches deep into the parsers.
    fn sqlish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("CREATE "),
            Just("TABLE "),
            Just("NAMESPACE "),
            Just("USER "),
            Just("SHARED "),
            Just("SELECT "),
            Just("FROM "),
            Just("WHERE "),
            Just("ALTER "),
            Just("TOPIC "),
            Just("app.t "),
            Just("(id BIGINT PRIMARY KEY"),
            Just(", v TEXT"),
            Just(")"),
            Just("("),
            Just("'"),
            Just("\""),
            Just(";"),
            Just("--"),
            Just("/*"),
            Just("*/"),
            Just("$1"),
            Just(" = "),
            Just("WITH (TYPE = 'USER')"),
            Just("DEFAULT "),
            Just("NOT NULL"),
            Just("EXECUTE AS USER 'a' "),
            Just("é"),
            Just("\n"),
            Just("1"),
            Just("x"),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    /// A column name that is never a keyword.
    fn column_name() -> impl Strategy<Value = String> {
        "c_[a-z0-9]{1,8}"
    }

    fn table_columns() -> impl Strategy<Value = Vec<(String, usize)>> {
        prop::collection::btree_map(column_name(), 0..TYPES.len(), 1..6)
            .prop_map(|m| m.into_iter().collect())
    }

    fn create_table(ns: &str, table: &str, columns: &[(String, usize)]) -> String {
        let cols: Vec<String> = columns
            .iter()
            .map(|(name, ty)| format!("{name} {}", TYPES[*ty].0))
            .collect();
        format!(
            "CREATE TABLE {ns}.{table} (id BIGINT PRIMARY KEY, {}) WITH (TYPE = 'USER')",
            cols.join(", ")
        )
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn arbitrary_text_never_panics(text in sqlish(), raw in any::<String>()) {
            let catalog = Catalog::with_builtins();
            for t in [&text, &raw] {
                super::exercise(&catalog, t);
            }
        }

        #[test]
        fn generated_tables_parse_into_their_columns(columns in table_columns()) {
            let ddl = format!("CREATE NAMESPACE app;\n{}", create_table("app", "t", &columns));
            prop_assert_eq!(parse_ddl(&ddl).unwrap().len(), 2);
            let catalog = load_str(&ddl).unwrap();
            let table = catalog.table("app", "t").unwrap();
            prop_assert_eq!(table.user_columns().count(), columns.len() + 1);
            for (name, ty) in &columns {
                let column = table.column(name).unwrap();
                prop_assert_eq!(column.ty, TYPES[*ty].1);
                prop_assert!(column.nullable);
            }
        }

        #[test]
        fn selected_columns_are_described_with_their_types(
            columns in table_columns(),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
        ) {
            let ddl = format!("CREATE NAMESPACE app;\n{}", create_table("app", "t", &columns));
            let catalog = load_str(&ddl).unwrap();
            // Distinct columns, in the order picked (a repeated name needs an alias).
            let mut picked: Vec<&(String, usize)> = Vec::new();
            for column in picks.iter().map(|i| i.get(&columns)) {
                if !picked.contains(&column) {
                    picked.push(column);
                }
            }
            let list: Vec<&str> = picked.iter().map(|(n, _)| n.as_str()).collect();
            let sql = format!("SELECT {} FROM app.t WHERE id = $1", list.join(", "));
            let d = describe(&catalog, &sql, None).unwrap();
            prop_assert_eq!(d.columns.len(), picked.len());
            for (out, (name, ty)) in d.columns.iter().zip(&picked) {
                prop_assert_eq!(&out.name, name);
                prop_assert_eq!(out.ty, TYPES[*ty].1);
            }
            prop_assert_eq!(d.params.len(), 1);
            prop_assert_eq!(d.params[0].ty, SqlType::BigInt);
            // A column the table does not have is an error, never a guess.
            let missing = format!("SELECT nope_{} FROM app.t", list[0]);
            prop_assert!(describe(&catalog, &missing, None).is_err());
        }

        /// The statement splitter: statements joined by `;`, with comments, blank lines and
        /// `;` inside string literals and comments, are applied one by one.
        #[test]
        fn the_splitter_finds_every_statement(
            tables in prop::collection::vec(table_columns(), 1..5),
            noise in prop::collection::vec(0..4usize, 5),
        ) {
            let mut text = String::from("CREATE NAMESPACE app");
            for (i, columns) in tables.iter().enumerate() {
                let sep = match noise[i % noise.len()] {
                    0 => ";\n".to_owned(),
                    1 => "; -- a comment; with a semicolon\n".to_owned(),
                    2 => ";/* ; */ ;\n\n".to_owned(),
                    _ => " ; ".to_owned(),
                };
                text.push_str(&sep);
                let ddl = create_table("app", &format!("t{i}"), columns).replacen(") WITH", ", note TEXT DEFAULT 'a;b') WITH", 1);
                text.push_str(&ddl);
            }
            let catalog = load_str(&text).unwrap();
            for (i, columns) in tables.iter().enumerate() {
                let table = catalog.table("app", &format!("t{i}")).unwrap();
                prop_assert_eq!(table.user_columns().count(), columns.len() + 2);
            }
            prop_assert_eq!(parse_ddl(&text).unwrap().len(), tables.len() + 1);
        }
    }
}
