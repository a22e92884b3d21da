//! The function catalog of this engine configuration, as kalam-schema's checker reads it
//! (`kalam-schema/src/functions.tsv`): every scalar and aggregate function the session
//! registers, probed with DataFusion's own coercion and return-type code over the argument
//! types a KalamDB query can produce. The unit test below fails when the committed table and
//! the engine disagree; `KALAM_BLESS=1` rewrites the table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{AggregateUDF, ReturnFieldArgs, ScalarUDF};

/// Argument types probed, by token. The first [`ARITY3`] of them are also probed as third
/// arguments (the full set would be 18³ probes per function).
const TYPES: &[&str] = &[
    "null", "bool", "i32", "i64", "f64", "text", "dec", "ts", "date", "ival", "list", "i16", "f32",
    "bytes", "uuid", "tstz", "time",
];
const ARITY3: usize = 11;

/// The reference decimal types: the table records decimal results relative to the first.
const DEC1: (u8, i8) = (10, 2);
const DEC2: (u8, i8) = (20, 5);

fn arrow(tok: &str, dec: (u8, i8)) -> DataType {
    match tok {
        "null" => DataType::Null,
        "bool" => DataType::Boolean,
        "i16" => DataType::Int16,
        "i32" => DataType::Int32,
        "i64" => DataType::Int64,
        "f32" => DataType::Float32,
        "f64" => DataType::Float64,
        "text" => DataType::Utf8,
        "bytes" => DataType::Binary,
        "uuid" => DataType::FixedSizeBinary(16),
        "dec" => DataType::Decimal128(dec.0, dec.1),
        "ts" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "tstz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "date" => DataType::Date32,
        "time" => DataType::Time64(TimeUnit::Microsecond),
        "ival" => DataType::Interval(IntervalUnit::MonthDayNano),
        "list" => DataType::new_list(DataType::Int64, true),
        other => unreachable!("unknown token {other}"),
    }
}

/// The token of a result type, with the server's rule for what it can send (protocol 1.7,
/// 1.8): `drop` for types whose cells it cannot encode.
fn token(dt: &DataType) -> String {
    match dt {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int8 | DataType::UInt8 | DataType::Int16 => "i16".into(),
        DataType::UInt16 | DataType::Int32 => "i32".into(),
        DataType::UInt32 | DataType::UInt64 | DataType::Int64 => "i64".into(),
        DataType::Float32 => "f32".into(),
        DataType::Float64 => "f64".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::FixedSizeBinary(16) => "uuid".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytes".into(),
        DataType::Decimal128(p, s) => format!("dec:{p}:{s}"),
        DataType::Timestamp(TimeUnit::Second, _) => "drop".into(),
        DataType::Timestamp(_, None) => "ts".into(),
        DataType::Timestamp(_, Some(_)) => "tstz".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => "list".into(),
        _ => "drop".into(),
    }
}

/// One probe's answer: the result token and whether the result may be null, as a function of
/// which arguments may be null.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Answer {
    ret: String,
    nullable: String,
}

enum Func<'a> {
    Scalar(&'a ScalarUDF),
    Aggregate(&'a AggregateUDF),
}

impl Func<'_> {
    /// The result field for these argument types and nullability, if the engine plans it.
    fn field(&self, types: &[DataType], nullable: &[bool], literals: bool) -> Option<FieldRef> {
        let fields: Vec<FieldRef> = types
            .iter()
            .zip(nullable)
            .enumerate()
            .map(|(i, (t, n))| Arc::new(Field::new(format!("a{i}"), t.clone(), *n)))
            .collect();
        match self {
            Func::Scalar(f) => {
                let coerced = fields_with_udf(&fields, *f).ok()?;
                let year = ScalarValue::Utf8(Some("year".into()));
                let scalars: Vec<Option<&ScalarValue>> = types
                    .iter()
                    .map(|t| (literals && *t == DataType::Utf8).then_some(&year))
                    .collect();
                f.return_field_from_args(ReturnFieldArgs {
                    arg_fields: &coerced,
                    scalar_arguments: &scalars,
                })
                .ok()
            }
            Func::Aggregate(f) => {
                let coerced = fields_with_udf(&fields, *f).ok()?;
                f.return_field(&coerced).ok()
            }
        }
    }

    /// Probes one argument-type tuple. Text arguments are tried as columns first, then as
    /// string literals (some functions need a constant, `date_part('year', …)`): a tuple only
    /// planned with literals records its text positions as `lit`.
    fn probe(&self, toks: &[&str]) -> Option<(Vec<String>, Answer)> {
        let types: Vec<DataType> = toks.iter().map(|t| arrow(t, DEC1)).collect();
        let n = toks.len();
        let mut literals = false;
        let none = match self.field(&types, &vec![false; n], false) {
            Some(f) => f,
            None => {
                literals = true;
                self.field(&types, &vec![false; n], true)?
            }
        };
        let mut ret = token(none.data_type());
        if ret.starts_with("dec:") {
            let types2: Vec<DataType> = toks.iter().map(|t| arrow(t, DEC2)).collect();
            let other = self
                .field(&types2, &vec![false; n], literals)
                .map(|f| token(f.data_type()));
            ret = decimal_rule(&ret, other.as_deref(), toks.contains(&"dec"));
        }
        let nullable = if none.is_nullable() {
            "y".to_owned()
        } else {
            let all = self
                .field(&types, &vec![true; n], literals)
                .is_some_and(|f| f.is_nullable());
            let single: String = (0..n)
                .filter(|&i| {
                    let mut v = vec![false; n];
                    v[i] = true;
                    self.field(&types, &v, literals)
                        .is_some_and(|f| f.is_nullable())
                })
                .map(|i| char::from(b'0' + i as u8))
                .collect();
            match (all, single.is_empty()) {
                (false, _) => "n".to_owned(),
                (true, true) => "a".to_owned(),
                (true, false) => single,
            }
        };
        let args = toks
            .iter()
            .map(|t| {
                if literals && *t == "text" {
                    "lit".to_owned()
                } else {
                    (*t).to_owned()
                }
            })
            .collect();
        Some((args, Answer { ret, nullable }))
    }
}

/// `dec+A+B` (precision and scale shifted from the first decimal argument's, capped at 38)
/// when the two reference decimals say so, else the fixed `dec:P:S`.
fn decimal_rule(first: &str, second: Option<&str>, has_dec_arg: bool) -> String {
    let parse = |s: &str| -> Option<(i32, i32)> {
        let mut it = s.strip_prefix("dec:")?.split(':');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    let (Some((p1, s1)), Some((p2, s2))) = (parse(first), second.and_then(parse)) else {
        return first.to_owned();
    };
    let (dp, ds) = (
        i32::from(DEC2.0) - i32::from(DEC1.0),
        i32::from(DEC2.1) - i32::from(DEC1.1),
    );
    if has_dec_arg && p2 - p1 == dp && s2 - s1 == ds {
        format!(
            "dec{:+}{:+}",
            p1 - i32::from(DEC1.0),
            s1 - i32::from(DEC1.1)
        )
    } else {
        first.to_owned()
    }
}

/// Every tuple of `arity` tokens drawn from `set`.
fn tuples<'a>(set: &[&'a str], arity: usize) -> Vec<Vec<&'a str>> {
    let mut out: Vec<Vec<&str>> = vec![Vec::new()];
    for _ in 0..arity {
        out = out
            .into_iter()
            .flat_map(|t| {
                set.iter().map(move |x| {
                    let mut t = t.clone();
                    t.push(*x);
                    t
                })
            })
            .collect();
    }
    out
}

/// Covers a set of equal-length tuples with products of per-position sets (each row of the
/// table is one product).
fn cover(tuples: &BTreeSet<Vec<String>>) -> Vec<Vec<BTreeSet<String>>> {
    let Some(first) = tuples.iter().next() else {
        return Vec::new();
    };
    if first.is_empty() {
        return vec![Vec::new()];
    }
    // Rest-patterns → the first elements that have exactly that cover of rests.
    let mut by_head: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for t in tuples {
        by_head
            .entry(t[0].clone())
            .or_default()
            .insert(t[1..].to_vec());
    }
    let mut merged: BTreeMap<Vec<Vec<BTreeSet<String>>>, BTreeSet<String>> = BTreeMap::new();
    for (head, rests) in by_head {
        merged.entry(cover(&rests)).or_default().insert(head);
    }
    let mut rows = Vec::new();
    for (rest_cover, heads) in merged {
        for row in rest_cover {
            let mut r = vec![heads.clone()];
            r.extend(row);
            rows.push(r);
        }
    }
    rows
}

/// The catalog text for a session configured as the emulator configures it.
pub(crate) fn function_catalog(state: &SessionState) -> String {
    let mut out = String::from(
        "# The function catalog of KalamDB's engine (DataFusion 53.1 with the server's features\n\
         # and datafusion-functions-json 0.53), generated from the emulator's session by the\n\
         # kalam-emulator unit test `engine::catalog::tests::committed_catalog_matches_the_engine`\n\
         # (run it with KALAM_BLESS=1 to rewrite this file). Do not edit by hand.\n\
         # f <name> <scalar|aggregate> <variadic 0|1> <aliases>: a function;\n\
         # s <args> <result> <nullable>: accepted argument types (`,` between positions, `|`\n\
         # between alternatives, `-` for none; `lit` = a string literal only), the result\n\
         # (`drop` = the server cannot send it; `dec+P+S` = the first decimal argument's\n\
         # precision and scale shifted) and when it is null (y, n, a = all arguments nullable,\n\
         # digits = any of these arguments nullable).\n",
    );
    let mut names: BTreeMap<String, (Func<'_>, Vec<String>)> = BTreeMap::new();
    let scalars = state
        .scalar_functions()
        .iter()
        .map(|(key, f)| (key, f.name(), Func::Scalar(f.as_ref())));
    let aggregates = state
        .aggregate_functions()
        .iter()
        .map(|(key, f)| (key, f.name(), Func::Aggregate(f.as_ref())));
    for (key, name, func) in scalars.chain(aggregates) {
        let e = names
            .entry(name.to_owned())
            .or_insert_with(|| (func, Vec::new()));
        if key != name {
            e.1.push(key.clone());
        }
    }
    for (name, (func, mut aliases)) in names {
        aliases.sort();
        let mut groups: BTreeMap<(usize, Answer), BTreeSet<Vec<String>>> = BTreeMap::new();
        for arity in 0..=3 {
            let set = if arity == 3 { &TYPES[..ARITY3] } else { TYPES };
            for t in tuples(set, arity) {
                if let Some((args, answer)) = func.probe(&t) {
                    groups.entry((arity, answer)).or_default().insert(args);
                }
            }
        }
        if groups.is_empty() {
            continue;
        }
        let variadic = TYPES[..ARITY3]
            .iter()
            .any(|t| func.probe(&[t, t, t, t, t]).is_some());
        let kind = match func {
            Func::Scalar(_) => "scalar",
            Func::Aggregate(_) => "aggregate",
        };
        let _ = writeln!(
            out,
            "f\t{name}\t{kind}\t{}\t{}",
            u8::from(variadic),
            aliases.join(",")
        );
        for ((_, answer), set) in groups {
            for row in cover(&set) {
                let args = if row.is_empty() {
                    "-".to_owned()
                } else {
                    row.iter()
                        .map(|p| p.iter().cloned().collect::<Vec<_>>().join("|"))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let _ = writeln!(out, "s\t{args}\t{}\t{}", answer.ret, answer.nullable);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::FunctionRegistry as _;

    #[test]
    fn committed_catalog_matches_the_engine() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kalam-schema/src/functions.tsv"
        );
        let mut state = crate::engine::base_state();
        let seq = Arc::new(crate::store::seq::SeqGen::new());
        for f in crate::engine::udf::functions(seq, "root", "system") {
            let _ = state.register_udf(Arc::new(f));
        }
        let generated = function_catalog(&state);
        if std::env::var_os("KALAM_BLESS").is_some() {
            std::fs::write(path, &generated).expect("write the catalog");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if committed != generated {
            let diff = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(committed.lines().count().min(generated.lines().count()));
            panic!(
                "kalam-schema/src/functions.tsv disagrees with the engine from line {}: \
                 committed {:?}, engine {:?}; rerun this test with KALAM_BLESS=1 and review \
                 the diff",
                diff + 1,
                committed.lines().nth(diff),
                generated.lines().nth(diff)
            );
        }
    }
}
