//! Snapshot tests of the expansions (insta, pretty-printed with prettyplease), against the
//! trybuild schema in `tests/ui/schema`. Absolute paths are shown relative to the crate.
//! Review changes with `cargo insta review` or `INSTA_UPDATE=always` and `git diff`.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

use crate::query::Mode;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn use_test_schema() {
    crate::schema::test_dir::set(manifest_dir().join("tests/ui/schema"));
}

/// Items as a pretty-printed file; an expression inside `fn expansion()`.
fn pretty(tokens: TokenStream, expression: bool) -> String {
    let tokens = if expression {
        quote!(fn expansion() { let _ = #tokens; })
    } else {
        tokens
    };
    // The checkout's absolute path is replaced before formatting: prettyplease wraps lines by
    // width, so replacing it afterwards made the snapshots depend on the path's length.
    let text = tokens
        .to_string()
        .replace(&manifest_dir().display().to_string(), "$CARGO_MANIFEST_DIR");
    let file: syn::File = syn::parse_str(&text).unwrap();
    prettyplease::unparse(&file)
}

fn expand_query(mode: Mode, input: TokenStream) -> String {
    use_test_schema();
    pretty(crate::query::expand_macro(input, mode).unwrap(), true)
}

#[test]
fn derive_with_table_and_attributes() {
    use_test_schema();
    let input: syn::DeriveInput = syn::parse_quote! {
        #[kalam(table = "app.todos")]
        struct Todo {
            id: i64,
            #[kalam(rename = "title")]
            text: String,
            owner: Option<String>,
            #[kalam(json)]
            meta: Option<Vec<String>>,
            #[kalam(default)]
            score: i32,
            #[kalam(skip)]
            seen: bool,
        }
    };
    insta::assert_snapshot!(pretty(crate::row::expand_derive(&input), false));
}

#[test]
fn derive_with_flatten() {
    use_test_schema();
    let input: syn::DeriveInput = syn::parse_quote! {
        #[kalam(rename_all = "camelCase")]
        struct WithComment {
            #[kalam(flatten)]
            head: Head,
            comment_body: Option<String>,
        }
    };
    insta::assert_snapshot!(pretty(crate::row::expand_derive(&input), false));
}

#[test]
fn derive_plain_columns() {
    // Plain columns only: `from_row` reads through the tuple decoder, a JSON column's
    // wrapper unwrapped as the field is filled.
    let input: syn::DeriveInput = syn::parse_quote! {
        struct Todo {
            id: i64,
            #[kalam(rename = "title")]
            name: String,
            #[kalam(json)]
            meta: Option<Meta>,
        }
    };
    insta::assert_snapshot!(pretty(crate::row::expand_derive(&input), false));
}

#[test]
fn query_record() {
    insta::assert_snapshot!(expand_query(
        Mode::Record,
        quote!(
            "SELECT t.id, t.title, c.body FROM app.todos t LEFT JOIN app.comments c ON c.todo_id = t.id WHERE t.done = $1",
            done
        ),
    ));
}

#[test]
fn query_record_with_overrides() {
    insta::assert_snapshot!(expand_query(
        Mode::Record,
        quote!(r#"SELECT owner AS "owner!", due_at AS "due: Option<i64>" FROM app.todos"#),
    ));
}

#[test]
fn query_as() {
    insta::assert_snapshot!(expand_query(
        Mode::As,
        quote!(
            Todo,
            "SELECT id, title FROM app.todos WHERE owner = $1",
            &owner
        ),
    ));
}

#[test]
fn query_scalar() {
    insta::assert_snapshot!(expand_query(
        Mode::Scalar,
        quote!(
            "SELECT COUNT(*) AS n FROM app.todos WHERE priority > $1",
            2_i16
        ),
    ));
}

#[test]
fn execute_as() {
    insta::assert_snapshot!(expand_query(
        Mode::ExecuteAs,
        quote!(
            user,
            "INSERT INTO app.todos (id, title) VALUES ($1, $2)",
            1_i64,
            "x"
        ),
    ));
}

#[test]
fn live() {
    use_test_schema();
    let tokens = crate::live::expand_macro(quote!(
        client,
        Todo,
        "SELECT id, title FROM app.todos WHERE owner = {owner} AND priority > {2_i16}"
    ))
    .unwrap();
    insta::assert_snapshot!(pretty(tokens, true));
}

#[test]
fn expansion_is_deterministic() {
    let input = quote!("SELECT id, title FROM app.todos WHERE done = $1", false);
    let first = expand_query(Mode::Record, input.clone());
    for _ in 0..3 {
        assert_eq!(expand_query(Mode::Record, input.clone()), first);
    }
}

/// An expansion names as inputs exactly the schema files that define the tables it uses (so
/// its cost does not grow with the schema directory, and editing an unrelated file does not
/// re-expand it).
#[test]
fn expansions_include_only_the_files_of_their_tables() {
    let included = |input: TokenStream| -> Vec<String> {
        let text = expand_query(Mode::Record, input);
        let mut files: Vec<String> = text
            .split("include_str!(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter_map(|path| path.rsplit('/').next().map(str::to_owned))
            .collect();
        files.sort();
        files
    };
    assert_eq!(
        included(quote!("SELECT id FROM types.all_types")),
        ["types.sql"]
    );
    assert_eq!(included(quote!("SELECT id FROM app.todos")), ["app.sql"]);
    assert_eq!(
        included(quote!(
            "SELECT t.id, a.id AS other FROM app.todos t JOIN types.all_types a ON a.id = t.id"
        )),
        ["app.sql", "types.sql"]
    );
    // No table, no schema input.
    assert!(included(quote!("SELECT 1 AS one")).is_empty());
}
