//! The evaluator in both modes, the server-mode check and the pushdown split.

use std::convert::Infallible;

use super::*;
use crate::ErrorKind;

/// `t (id BIGINT PK, title TEXT NOT NULL, note TEXT, n INT, done BOOLEAN NOT NULL, due DATE,
/// at TIMESTAMP, price DECIMAL(10, 2), score DOUBLE, u UUID, tm TIME)` plus system columns.
fn columns() -> Vec<FilterColumn> {
    let c = |n: &str, ty, nullable| FilterColumn::new(n, ty, nullable);
    vec![
        c("id", SqlType::BigInt, false),
        c("title", SqlType::Text, false),
        c("note", SqlType::Text, true),
        c("n", SqlType::Int, true),
        c("done", SqlType::Boolean, false),
        c("due", SqlType::Date, true),
        c("at", SqlType::Timestamp, true),
        c(
            "price",
            SqlType::Decimal {
                precision: 10,
                scale: 2,
            },
            true,
        ),
        c("score", SqlType::Double, true),
        c("u", SqlType::Uuid, true),
        c("tm", SqlType::Time, true),
        c("_seq", SqlType::BigInt, false),
        c("_deleted", SqlType::Boolean, false),
    ]
}

/// A row by column name; absent columns are NULL.
struct Row {
    filter_columns: Vec<String>,
    values: Vec<(&'static str, Datum<'static>)>,
}

impl FilterRow for Row {
    type Error = Infallible;
    fn value(&self, column: usize) -> Result<Datum<'_>, Infallible> {
        let name = &self.filter_columns[column];
        Ok(self
            .values
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Datum::Null, |(_, v)| v.borrowed()))
    }
}

/// A row: id 7, title 'Buy milk', note 'x', n 5, done false, due 2025-06-01 (day 20240),
/// at 2025-06-02T00:00:00Z, price 3.50, score 0.5, tm 12:00; `edit` changes it.
fn row(
    edit: impl FnOnce(&mut Vec<(&'static str, Datum<'static>)>),
) -> Vec<(&'static str, Datum<'static>)> {
    let mut v = vec![
        ("id", Datum::Int(7)),
        ("title", Datum::Text("Buy milk".into())),
        ("note", Datum::Text("x".into())),
        ("n", Datum::Int(5)),
        ("done", Datum::Bool(false)),
        ("due", Datum::Date(20240)),
        ("at", Datum::Timestamp(1_748_822_400_000_000)),
        ("price", Datum::Decimal(350, 2)),
        ("score", Datum::Float(0.5)),
        ("tm", Datum::Time(43_200_000_000)),
        ("_seq", Datum::Int(1)),
        ("_deleted", Datum::Bool(false)),
    ];
    edit(&mut v);
    v
}

fn set(v: &mut Vec<(&'static str, Datum<'static>)>, name: &'static str, d: Datum<'static>) {
    v.retain(|(n, _)| *n != name);
    v.push((name, d));
}

fn eval_in(
    mode: FilterMode,
    condition: &str,
    values: Vec<(&'static str, Datum<'static>)>,
) -> Option<bool> {
    let filter = WhereClause::parse(condition)
        .and_then(|w| w.compile_for_user(&columns(), mode, "alice"))
        .unwrap_or_else(|e| panic!("{condition}: {e}"));
    let r = Row {
        filter_columns: filter.columns().iter().map(|c| c.name.clone()).collect(),
        values,
    };
    match filter.evaluate(&r) {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

fn exact(condition: &str, values: Vec<(&'static str, Datum<'static>)>) -> Option<bool> {
    eval_in(FilterMode::Exact, condition, values)
}

fn server(condition: &str, values: Vec<(&'static str, Datum<'static>)>) -> bool {
    eval_in(FilterMode::Server, condition, values) == Some(true)
}

#[test]
fn exact_mode_is_sql() {
    let t = Some(true);
    let f = Some(false);
    let cases: &[(&str, Option<bool>)] = &[
        ("n = 5", t),
        ("n <> 5", f),
        ("n != 4", t),
        ("n < 6 AND n <= 5 AND n > 4 AND n >= 5", t),
        ("5 = n", t),
        ("n > -1", t),
        ("n = -3", f),
        ("-n < 0", t),
        (
            "n + 1 = 6 AND n * 2 = 10 AND n / 2 = 2 AND n % 2 = 1 AND n - 6 = -1",
            t,
        ),
        ("n / 0 = 1", None),
        ("done", f),
        ("NOT done", t),
        ("done = false", t),
        ("done IS FALSE AND done IS NOT TRUE", t),
        ("title > 'Buy'", t),
        ("title < 'buy'", t), // bytes: 'B' < 'b'
        ("title >= 'C'", f),
        ("title LIKE 'Buy%'", t),
        ("title NOT LIKE '%milk'", f),
        ("title LIKE 'buy%'", f),
        ("title ILIKE 'buy%'", t),
        ("title LIKE 'Buy_milk'", t),
        ("title LIKE 'Buy\\_milk'", f),
        ("LOWER(title) = 'buy milk'", t),
        ("UPPER(title) LIKE 'BUY%'", t),
        (
            "LENGTH(title) = 8 AND CHAR_LENGTH(title) = 8 AND OCTET_LENGTH(title) = 8",
            t,
        ),
        (
            "TRIM('  x ') = 'x' AND LTRIM('  x') = 'x' AND RTRIM('x  ') = 'x' AND TRIM(BOTH 'x' FROM 'xax') = 'a'",
            t,
        ),
        (
            "CONCAT(title, '!', NULL) = 'Buy milk!' AND title || '?' = 'Buy milk?'",
            t,
        ),
        ("STARTS_WITH(title, 'Buy') AND ENDS_WITH(title, 'milk')", t),
        (
            "REPLACE(title, 'milk', 'tea') = 'Buy tea' AND REVERSE('ab') = 'ba'",
            t,
        ),
        (
            "LEFT(title, 3) = 'Buy' AND RIGHT(title, 4) = 'milk' AND LEFT(title, -5) = 'Buy'",
            t,
        ),
        ("STRPOS(title, 'milk') = 5 AND STRPOS(title, 'tea') = 0", t),
        ("ABS(-n) = 5 AND ABS(price - 4) = 0.5", t),
        ("n IN (1, 5)", t),
        ("n IN (1, 2)", f),
        ("n IN (1, NULL)", None),
        ("n NOT IN (1, 2)", t),
        ("n NOT IN (1, NULL)", None),
        ("n BETWEEN 5 AND 9", t),
        ("n NOT BETWEEN 5 AND 9", f),
        ("n IS NOT NULL AND u IS NULL", t),
        (
            "(u IS NOT DISTINCT FROM NULL) AND (n IS DISTINCT FROM 6)",
            t,
        ),
        ("due = '2025-06-01'", t),
        ("due > '2025-05-31' AND due < DATE '2025-06-02'", t),
        ("due = CAST('2025-06-01' AS DATE)", t),
        ("at = '2025-06-02T00:00:00Z'", t),
        ("at = '2025-06-02 02:00:00+02:00'", t),
        ("at > '2025-06-01'", t),
        ("at > due", t),
        ("tm >= '12:00' AND tm < '12:00:00.000001'", t),
        (
            "price = '3.5' AND price = 3.5 AND price > 3 AND price < 4",
            t,
        ),
        ("price * 2 = 7", t),
        ("score = 0.5 AND score > 0", t),
        ("score > n", f),
        ("note = 'x' OR note IS NULL", t),
        (
            "COALESCE(u, NULL) IS NULL AND NULLIF(n, 5) IS NULL AND COALESCE(NULL, n) = 5",
            t,
        ),
        ("title = CURRENT_USER()", f),
        ("_seq = 1 AND NOT _deleted", t),
    ];
    for (condition, want) in cases {
        assert_eq!(exact(condition, row(|_| {})), *want, "{condition}");
    }
}

#[test]
fn exact_mode_three_valued_logic() {
    let null_n = || row(|v| set(v, "n", Datum::Null));
    assert_eq!(exact("n = 5", null_n()), None);
    assert_eq!(exact("n <> 5", null_n()), None);
    assert_eq!(exact("NOT (n = 5)", null_n()), None);
    assert_eq!(exact("n = 5 OR done = false", null_n()), Some(true));
    assert_eq!(exact("n = 5 AND done = false", null_n()), None);
    assert_eq!(exact("n = 5 AND done = true", null_n()), Some(false));
    assert_eq!(exact("n IS NULL", null_n()), Some(true));
    assert_eq!(exact("(n > 1) IS UNKNOWN", null_n()), Some(true));
    assert_eq!(exact("n = NULL", row(|_| {})), None);
    // The server's two-valued logic delivers what SQL rejects, and drops what SQL accepts.
    assert!(server(
        "(n = 5 OR n = 6) AND NOT title = 'zzz'",
        row(|v| set(v, "title", Datum::Null))
    ));
    assert_eq!(
        exact(
            "(n = 5 OR n = 6) AND NOT title = 'zzz'",
            row(|v| set(v, "title", Datum::Null))
        ),
        None
    );
    assert!(!server("n > 2 OR done = false", null_n()));
    assert_eq!(exact("n > 2 OR done = false", null_n()), Some(true));
}

#[test]
fn server_mode_mirrors_the_live_filter() {
    // Protocol 3.6 step 4 and 3.7: what the server delivers for a row that matches in SQL.
    let delivered = [
        "n = 5",
        "n <> 6",
        "n > 1 AND title = 'Buy milk'",
        "n = 1 OR n = 5",
        "NOT (n = 6)",
        "title LIKE 'Buy%'",
        "title ILIKE 'bUY_MILK'",
        "t.n = 5",
        "N = 5",
        "n < 6",
        "done = false",
        "n = 5.0",
        "due <> '2024-01-01'", // opaque: `<>` always holds
    ];
    for c in delivered {
        assert!(server(c, row(|_| {})), "{c}");
    }
    let dropped = [
        "n IN (5, 6)",
        "n BETWEEN 0 AND 10",
        "title IS NOT NULL",
        "length(title) > 0",
        "n + 1 > 0",
        "LOWER(title) = 'buy milk'",
        "title = CURRENT_USER()",
        "n > -1",
        "n = -3 OR n = 5",
        "title > 'a'",
        "done",
        "NOT done",
        "done IS FALSE",
        "due = '2025-06-01'", // opaque: `=` never holds
        "at > '2025-06-01'",
        "price = 3.5", // through f64: equal, so delivered (checked below)
        "(n) = 5",
        "title LIKE 'B%' ESCAPE '!'",
        "nope = 1",
    ];
    for c in dropped {
        let expect = c == "price = 3.5";
        assert_eq!(server(c, row(|_| {})), expect, "{c}");
    }
    // A NULL column is simply unequal: `<>` and `NOT =` hold, ordering fails.
    let null_n = || row(|v| set(v, "n", Datum::Null));
    assert!(server("n <> 5", null_n()));
    assert!(server("NOT n = 5", null_n()));
    assert!(!server("n = NULL", null_n()));
    assert!(server("n <> NULL", null_n()));
    assert!(!server("n > 2", null_n()));
    assert!(!server("NOT n > 2", null_n()));
    assert!(!server("n LIKE '5'", row(|_| {})));
    assert!(server("n NOT LIKE '5'", null_n()));
    // Short-circuit: a failing right side is never reached.
    assert!(server("n = 5 OR n > -1", row(|_| {})));
    assert!(!server("n = 6 AND n > -1", row(|_| {})));
    assert!(!server("n > -1 OR n = 5", row(|_| {})));
    // Columns, literal against literal.
    assert!(server("n = n AND 1 = 1 AND title <> note", row(|_| {})));
}

#[test]
fn deep_nesting_is_handled_like_the_server() {
    let deep = |n: usize| format!("{}n = 5{}", "(".repeat(n), ")".repeat(n));
    assert!(server(&deep(20), row(|_| {})));
    assert_eq!(exact(&deep(20), row(|_| {})), Some(true));
    // Beyond sqlparser's recursion limit the server cannot parse the WHERE and filters
    // nothing (`of_select` is `None`); checked compiles report a syntax error.
    assert!(WhereClause::of_select(&format!("SELECT * FROM a.t WHERE {}", deep(66))).is_none());
    assert_eq!(
        WhereClause::parse(&deep(66)).unwrap_err().kind,
        ErrorKind::Syntax
    );
}

#[test]
fn exact_mode_refuses_what_it_cannot_evaluate() {
    let cases: &[(&str, ErrorKind, &str)] = &[
        ("nope = 1", ErrorKind::UnknownColumn, "nope"),
        ("titel = 'x'", ErrorKind::UnknownColumn, "titel"),
        ("n = 'x'", ErrorKind::TypeMismatch, "cannot compare"),
        ("title + 1 = 2", ErrorKind::TypeMismatch, "needs numbers"),
        ("n", ErrorKind::TypeMismatch, "not BOOLEAN"),
        ("due = '2025-6-1'", ErrorKind::Literal, "DATE"),
        ("at > 'soon'", ErrorKind::Literal, "TIMESTAMP"),
        (
            "u = '0191b0f8-0000-7000-8000-000000000000'",
            ErrorKind::TypeMismatch,
            "UUID",
        ),
        ("md5(title) = 'x'", ErrorKind::Unsupported, "md5"),
        (
            "CASE WHEN done THEN 1 ELSE 0 END = 1",
            ErrorKind::Unsupported,
            "CASE",
        ),
        ("CAST(n AS TEXT) = '5'", ErrorKind::Unsupported, "CAST"),
        ("price / 2 > 1", ErrorKind::Unsupported, "DECIMAL"),
        (
            "title LIKE 'a' ESCAPE '!'",
            ErrorKind::Unsupported,
            "ESCAPE",
        ),
        ("n = $1", ErrorKind::LiveQueryShape, "no parameters"),
        (
            "n = 99999999999999999999",
            ErrorKind::Literal,
            "out of range",
        ),
    ];
    for (condition, kind, needle) in cases {
        let e = WhereClause::parse(condition)
            .and_then(|w| w.compile(&columns(), FilterMode::Exact))
            .expect_err(condition);
        assert_eq!(e.kind, *kind, "{condition}: {e}");
        assert!(e.message.contains(needle), "{condition}: {e}");
        assert!(e.location.is_some(), "{condition}");
    }
    let e = WhereClause::parse("titel = 'x'")
        .and_then(|w| w.compile(&columns(), FilterMode::Exact))
        .unwrap_err();
    assert_eq!(e.suggestion.as_deref(), Some("title"));
    // CURRENT_USER() needs the subscriber, `$n` is fine when checking a template.
    let w = WhereClause::parse("title = CURRENT_USER() AND n > $1 AND due = $2").unwrap();
    assert!(w.compile(&columns(), FilterMode::Exact).is_err());
    assert!(w.check_exact(&columns()).is_ok());
    // Server mode compiles anything.
    assert!(
        WhereClause::parse("CASE WHEN done THEN 1 END = 1")
            .unwrap()
            .compile(&columns(), FilterMode::Server)
            .is_ok()
    );
}

#[test]
fn the_server_mode_check_follows_the_table() {
    let cols = columns();
    let check = |c: &str| WhereClause::parse(c).unwrap().check_server(&cols);
    for ok in [
        "n = 3",
        "n <> 5 AND title = 'x'",
        "n = 1 OR n = 3",
        "NOT (n = 5)",
        "title LIKE 'x%' OR title ILIKE 'y'",
        "done = false",
        "id > 5 OR n = 1",        // `id` is NOT NULL: ordering it never fails
        "n > 2 AND done = false", // a failure at the top level only drops a NULL row
        "NOT (n > 2 OR title = 'x')",
        "n > $1 AND title = $2",
    ] {
        assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
    }
    let refused: &[(&str, &str)] = &[
        ("n IN (1, 3)", "IN"),
        ("n NOT IN (1, 3)", "IN"),
        ("n BETWEEN 2 AND 4", "BETWEEN"),
        ("n IS NULL", "IS [NOT] NULL"),
        ("n IS NOT NULL", "IS [NOT] NULL"),
        ("n > -1", "negative"),
        ("n = -3", "negative"),
        ("done", "alone"),
        ("done IS TRUE", "IS [NOT] TRUE"),
        ("due = '2025-06-01'", "DATE"),
        ("due = $1", "DATE"),
        ("at > '2025-06-01'", "TIMESTAMP"),
        ("title > 'a'", "ordering text"),
        ("LOWER(title) = 'x'", "function"),
        ("title = CURRENT_USER()", "function"),
        ("n + 1 = 4", "arithmetic"),
        ("n = CAST('1' AS INT)", "casts"),
        ("n = id", "two columns"),
        ("price > 1", "f64"),
        ("score = 0.5", "f64"),
        ("n = 9007199254740993", "f64"),
        ("note = NULL", "two-valued"),
        ("u = 'x'", "opaque"),
        ("title LIKE 'a!%' ESCAPE '!'", "ESCAPE"),
        ("n > 2 OR title = 'x'", "NULL"),
        ("NOT (n > 2 AND title = 'x')", "NULL"),
    ];
    for (c, needle) in refused {
        let e = check(c).expect_err(c);
        assert_eq!(e.kind, ErrorKind::LiveQueryFilter, "{c}");
        assert!(e.message.contains(needle), "{c}: {e}");
        assert!(
            e.suggestion
                .as_deref()
                .is_some_and(|s| s.starts_with(EXACT_MODE_HELP)),
            "{c}: {e}"
        );
    }
    let e = check("n IN (1, 3)").unwrap_err();
    assert_eq!(
        e.suggestion.as_deref(),
        Some(format!("{EXACT_MODE_HELP}; or rewrite as: n = 1 OR n = 3").as_str())
    );
    let sql = "done = true AND n IN (1, 3)";
    let e = check(sql).unwrap_err();
    assert_eq!(e.location.as_ref().map(|l| l.column), Some(17));
}

#[test]
fn every_refused_form_is_dropped_or_misjudged_by_the_server_mode_evaluator() {
    // The server-mode check refuses a form exactly when the table says the server does not
    // deliver it; forms marked dropped never deliver in the server-mode evaluator.
    for r in SERVER_RULES {
        if r.evaluation == ServerEvaluation::Dropped {
            assert_ne!(r.form, FilterForm::Logic);
        }
    }
    for c in [
        "n IN (5)",
        "title > 'A'",
        "due > '2000-01-01'",
        "n > -1",
        "done",
    ] {
        assert!(!server(c, row(|_| {})), "{c}");
        assert_eq!(exact(c, row(|_| {})), Some(c != "done"), "{c}");
    }
}

#[test]
fn pushdown_keeps_only_stable_terms_the_server_delivers() {
    let cols = columns();
    let w = WhereClause::parse("title = 'x' AND (n > 2 AND done = false) AND due = '2025-01-01'")
        .unwrap();
    assert_eq!(
        w.server_part(&cols, &["title", "done", "due", "n"])
            .as_deref(),
        Some("(title = 'x') AND (n > 2) AND (done = false)")
    );
    assert_eq!(
        w.server_part(&cols, &["title"]).as_deref(),
        Some("title = 'x'")
    );
    assert_eq!(w.server_part(&cols, &[]), None);
    let w = WhereClause::parse("title = 'x' OR done = false").unwrap();
    assert_eq!(w.server_part(&cols, &["title"]), None);
    assert_eq!(
        w.server_part(&cols, &["title", "done"]).as_deref(),
        Some("title = 'x' OR done = false")
    );
}

#[test]
fn columns_and_select_parsing() {
    let w = WhereClause::of_select("SELECT * FROM a.t WHERE Title = 'x' AND t.n > 1").unwrap();
    assert_eq!(w.columns(), ["title", "n"]);
    assert_eq!(w.to_sql(), "Title = 'x' AND t.n > 1");
    assert!(WhereClause::of_select("SELECT * FROM a.t").is_none());
    assert!(WhereClause::of_select("SELEC * FROM a.t WHERE x").is_none());
    let f = w.compile(&columns(), FilterMode::Exact).unwrap();
    assert_eq!(
        f.columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["title", "n"]
    );
    assert_eq!(f.mode(), FilterMode::Exact);
}
