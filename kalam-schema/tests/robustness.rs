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
