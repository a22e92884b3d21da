//! Formatting: tokens → prettyplease text, one table or topic at a time on all cores, then
//! assembled into the single-file or the directory layout.

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit_rust::{Tokens, doc, ident, rust_header, table_items, topic_items};
use crate::error::EmitError;
use crate::plan::{NsPlan, TablePlan, TopicPlan};

/// Formats tokens as a file, with the generated-by header.
pub(crate) fn format_file(what: &str, tokens: TokenStream) -> Result<String, EmitError> {
    let file: syn::File = syn::parse2(tokens).map_err(|source| EmitError::InvalidTokens {
        what: what.to_owned(),
        source,
    })?;
    let body = space_items(&prettyplease::unparse(&file));
    Ok(format!("{}\n\n{body}", rust_header()))
}

/// prettyplease puts items right after each other; a blank line after every closing brace
/// that is followed by another item at the same depth reads better.
fn space_items(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        let Some(next) = lines.get(i + 1) else {
            continue;
        };
        let indent = |s: &str| s.len() - s.trim_start().len();
        let closes = line.trim() == "}"
            || (line.trim_start().starts_with("pub mod ") && line.ends_with(';'));
        if closes
            && indent(line) == indent(next)
            && !next.trim_start().starts_with('}')
            && !next.trim().is_empty()
        {
            out.push('\n');
        }
    }
    out
}

/// One table's or one topic's items: the unit rendered (and parallelized) at a time.
enum Unit<'p, 'a> {
    Table(&'p TablePlan<'a>),
    Topic(&'p TopicPlan<'a>),
}

/// Formats one unit with prettyplease. `nested` renders it inside a module (four more spaces
/// of indentation, and line breaks decided at that depth), as in the single-file layout.
fn render_unit(
    unit: &Unit<'_, '_>,
    nested: bool,
    tokens: &mut Tokens,
) -> Result<String, EmitError> {
    let (items, what) = match unit {
        Unit::Table(t) => (table_items(t, tokens)?, t.table.qualified_name()),
        Unit::Topic(t) => (topic_items(t, tokens)?, format!("topic {}", t.topic.name)),
    };
    let wrapped = if nested {
        quote!(mod m { #items })
    } else {
        items
    };
    let file: syn::File =
        syn::parse2(wrapped).map_err(|source| EmitError::InvalidTokens { what, source })?;
    let text = space_items(&prettyplease::unparse(&file));
    if !nested {
        return Ok(text);
    }
    // Drop the `mod m {` and `}` lines around the items.
    let lines: Vec<&str> = text.lines().collect();
    let inner = lines
        .get(1..lines.len().saturating_sub(1))
        .unwrap_or_default();
    Ok(inner
        .iter()
        .fold(String::with_capacity(text.len()), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        }))
}

/// The formatted items of every namespace, rendered on all cores (output order is fixed).
fn namespace_bodies(namespaces: &[NsPlan<'_>], nested: bool) -> Result<Vec<String>, EmitError> {
    let units: Vec<(usize, Unit<'_, '_>)> = namespaces
        .iter()
        .enumerate()
        .flat_map(|(i, ns)| {
            let tables = ns.tables.iter().map(move |t| (i, Unit::Table(t)));
            tables.chain(ns.topics.iter().map(move |t| (i, Unit::Topic(t))))
        })
        .collect();
    let rendered = parallel(&units, |chunk| {
        let mut tokens = Tokens::default();
        chunk
            .iter()
            .map(|(_, unit)| render_unit(unit, nested, &mut tokens))
            .collect()
    });
    let mut bodies = vec![String::new(); namespaces.len()];
    for ((ns, _), text) in units.iter().zip(rendered) {
        let body = &mut bodies[*ns];
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&text?);
    }
    Ok(bodies)
}

/// Runs `f` over chunks of `items` on up to `available_parallelism` threads and concatenates
/// the results in order. Small inputs stay on the calling thread.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if threads < 2 || items.len() < 64 {
        return f(items);
    }
    let size = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|chunk| scope.spawn(|| f(chunk)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn namespace_doc(ns: &NsPlan<'_>) -> String {
    format!(
        "Tables and topics of the KalamDB namespace `{}`.",
        ns.ns.name
    )
}

/// The whole catalog as one file of inline modules (for `include!` and single-file output).
pub(crate) fn single_file(namespaces: &[NsPlan<'_>]) -> Result<String, EmitError> {
    let bodies = namespace_bodies(namespaces, true)?;
    let mut out = rust_header();
    out.push_str("\n\n");
    for (i, (ns, body)) in namespaces.iter().zip(bodies).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "/// {}\npub mod {} {{",
            namespace_doc(ns),
            ns.module
        ));
        if body.is_empty() {
            out.push_str("}\n");
        } else {
            out.push('\n');
            out.push_str(&body);
            out.push_str("}\n");
        }
    }
    Ok(out)
}

/// `mod.rs` plus one `<module>.rs` per namespace.
pub(crate) fn directory(namespaces: &[NsPlan<'_>]) -> Result<Vec<(String, String)>, EmitError> {
    let mods = namespaces.iter().map(|ns| {
        let doc = doc(&namespace_doc(ns));
        let module = ident(&ns.module);
        quote!(#doc pub mod #module;)
    });
    let mut files = vec![(
        "mod.rs".to_owned(),
        format_file("mod.rs", quote!(#(#mods)*))?,
    )];
    for (ns, body) in namespaces.iter().zip(namespace_bodies(namespaces, false)?) {
        files.push((
            format!("{}.rs", ns.module),
            format!("{}\n\n{body}", rust_header()),
        ));
    }
    Ok(files)
}
