//! The one table of what the server's live filter does with each form of WHERE (protocol 3.6
//! step 4 and 3.7), and the server's semantics for the forms it evaluates.
//!
//! The table is read three ways: the server-mode compile turns every [`ServerEvaluation::Dropped`]
//! form into a node that fails (so the emulator drops exactly the changes the server drops),
//! the server-mode check (`live!(…, filter = server)`, `FilterMode::Server` at run time) accepts
//! only [`ServerEvaluation::Delivered`] forms, and the client pushes a conjunct over stable
//! columns to the server only when that check passes for it.

use std::borrow::Cow;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};

use super::{Datum, FilterColumn};
use crate::types::SqlType;

/// A form of WHERE expression, as the server's live filter tells them apart. Comparisons are
/// classified by the kinds of their two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterForm {
    /// `AND`, `OR`, `NOT` and parentheses.
    Logic,
    /// An integer column compared with a number, or a FLOAT/DOUBLE column ordered against one
    /// (`n = 3`, `n <> 5`, `n > 2`, `score < 0.5`).
    NumberComparison,
    /// A DECIMAL column compared with a number, a FLOAT/DOUBLE column tested with `=`/`<>`, or
    /// a number literal of magnitude 2^53 or more.
    ImpreciseNumberComparison,
    /// A TEXT, JSON or FILE column tested with `=`/`<>` against a string (`title = 'x'`).
    TextEquality,
    /// A text column ordered against a string (`title > 'a'`).
    TextRange,
    /// A BOOLEAN column tested with `=`/`<>` against `TRUE`/`FALSE` (`done = false`).
    BooleanEquality,
    /// A DATE, TIME, TIMESTAMP or DATETIME column tested with `=`/`<>`.
    TemporalEquality,
    /// A DATE, TIME, TIMESTAMP or DATETIME column ordered (`created_at > '2025-01-01'`).
    TemporalRange,
    /// `=`/`<>` between a column and a literal of another kind, or on UUID, BYTES and
    /// EMBEDDING columns.
    OtherEquality,
    /// `<`, `>`, `<=`, `>=` on booleans, UUIDs, bytes, NULL or mismatched kinds.
    OtherRange,
    /// `=`/`<>` with the `NULL` literal.
    NullEquality,
    /// Two columns compared (`a = b`).
    ColumnComparison,
    /// Two literals compared (`1 = 1`).
    ConstantComparison,
    /// A text column `[NOT] LIKE`/`ILIKE` a string literal.
    Like,
    /// `LIKE` on something other than a text column, or with a column as the pattern.
    LikeOther,
    /// `LIKE … ESCAPE`, `LIKE ANY`, or a pattern that is not a string.
    LikeUnsupported,
    /// A negative number (`n > -1`).
    NegativeNumber,
    /// A column or literal standing alone as a condition (`WHERE done`).
    BareBoolean,
    /// `IS [NOT] TRUE`, `IS [NOT] FALSE`, `IS [NOT] UNKNOWN`, `IS [NOT] DISTINCT FROM`.
    IsBoolean,
    /// `[NOT] IN (…)`.
    InList,
    /// `[NOT] BETWEEN … AND …`.
    Between,
    /// `IS [NOT] NULL`.
    IsNull,
    /// A function call (`LOWER(title)`, `CURRENT_USER()`).
    Function,
    /// Arithmetic or string concatenation (`n + 1`, `a || b`).
    Arithmetic,
    /// `CAST`, `::` or a typed literal (`DATE '2025-01-01'`).
    Cast,
    /// A column the table does not have.
    UnknownColumn,
    /// Anything else (`CASE`, subqueries, parenthesized operands, …).
    Other,
}

/// What the server's live filter does with a [`FilterForm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerEvaluation {
    /// Evaluated as SQL evaluates it for non-NULL values: matching changes are delivered.
    Delivered,
    /// Evaluated through `f64` (`=` within an absolute 2^-52): near-equal values can be judged
    /// wrongly, so changes can be lost.
    Approximate,
    /// Evaluated, but not as SQL does: changes are lost or delivered by mistake.
    Wrong,
    /// Evaluated according to the server's code but never observed on a server.
    Unverified,
    /// The evaluation fails and the change is dropped: no change is ever delivered.
    Dropped,
}

/// One row of [`SERVER_RULES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerRule {
    /// The form.
    pub form: FilterForm,
    /// An example of it.
    pub example: &'static str,
    /// What the server's live filter does with it.
    pub evaluation: ServerEvaluation,
    /// Why, in the words used by error messages.
    pub reason: &'static str,
}

use FilterForm as F;
use ServerEvaluation as E;

/// What the server's live filter does with each [`FilterForm`] (observed on KalamDB 0.4.3 where
/// the protocol says so; the kalam-macros README prints this table against the filter modes).
///
/// ```
/// use kalam_schema::filter::{server_rule, FilterForm, ServerEvaluation};
/// assert_eq!(server_rule(FilterForm::InList).evaluation, ServerEvaluation::Dropped);
/// assert_eq!(server_rule(FilterForm::TextEquality).evaluation, ServerEvaluation::Delivered);
/// ```
pub const SERVER_RULES: &[ServerRule] = &[
    rule(
        F::Logic,
        "a AND (b OR NOT c)",
        E::Delivered,
        "evaluated with two-valued logic: a NULL column is just unequal",
    ),
    rule(
        F::NumberComparison,
        "n = 3, n <> 5, n > 2",
        E::Delivered,
        "numbers are compared",
    ),
    rule(
        F::ImpreciseNumberComparison,
        "price > 9.99, score = 0.5",
        E::Approximate,
        "the server compares DECIMAL and floating-point values through f64, `=` within 2^-52, so near-equal values are misjudged",
    ),
    rule(
        F::TextEquality,
        "title = 'x', title <> 'y'",
        E::Delivered,
        "strings are compared",
    ),
    rule(
        F::TextRange,
        "title > 'a'",
        E::Dropped,
        "the server orders numbers only: ordering text fails and drops every change",
    ),
    rule(
        F::BooleanEquality,
        "done = false",
        E::Delivered,
        "booleans are compared",
    ),
    rule(
        F::TemporalEquality,
        "due = '2025-06-01'",
        E::Wrong,
        "the server sees DATE, TIME and TIMESTAMP values as opaque: `=` never matches and `<>` always does",
    ),
    rule(
        F::TemporalRange,
        "created_at > '2025-01-01'",
        E::Dropped,
        "the server orders numbers only: ordering a DATE, TIME or TIMESTAMP fails and drops every change",
    ),
    rule(
        F::OtherEquality,
        "id = 'x', u = '…'",
        E::Wrong,
        "the two sides are of different kinds (or of a kind the server sees as opaque): `=` never matches and `<>` always does",
    ),
    rule(
        F::OtherRange,
        "flag > false, n > NULL",
        E::Dropped,
        "the server orders numbers only: this comparison fails and drops every change",
    ),
    rule(
        F::NullEquality,
        "note = NULL, note <> NULL",
        E::Wrong,
        "the server compares with NULL in two-valued logic: `<> NULL` matches every row",
    ),
    rule(
        F::ColumnComparison,
        "a = b",
        E::Unverified,
        "comparing two columns is only known from the server's code, never observed",
    ),
    rule(
        F::ConstantComparison,
        "1 = 1",
        E::Unverified,
        "comparing two literals is only known from the server's code, never observed",
    ),
    rule(
        F::Like,
        "title LIKE 'x%', title ILIKE 'a_c'",
        E::Delivered,
        "patterns are matched",
    ),
    rule(
        F::LikeOther,
        "n LIKE '1%', title LIKE other",
        E::Unverified,
        "LIKE on a non-text column or with a column pattern is only known from the server's code",
    ),
    rule(
        F::LikeUnsupported,
        "title LIKE 'a!%' ESCAPE '!'",
        E::Dropped,
        "LIKE with ESCAPE, ANY or a pattern that is not a string fails and drops every change",
    ),
    rule(
        F::NegativeNumber,
        "n > -1",
        E::Dropped,
        "negative numbers are not literals to the server's evaluator: every change is dropped",
    ),
    rule(
        F::BareBoolean,
        "WHERE done",
        E::Dropped,
        "a column alone is not a condition to the server's evaluator: every change is dropped",
    ),
    rule(
        F::IsBoolean,
        "done IS TRUE",
        E::Dropped,
        "IS [NOT] TRUE/FALSE/UNKNOWN/DISTINCT FROM is not evaluated: every change is dropped",
    ),
    rule(
        F::InList,
        "n IN (1, 3)",
        E::Dropped,
        "IN is not evaluated: every change is dropped",
    ),
    rule(
        F::Between,
        "n BETWEEN 2 AND 4",
        E::Dropped,
        "BETWEEN is not evaluated: every change is dropped",
    ),
    rule(
        F::IsNull,
        "n IS NULL",
        E::Dropped,
        "IS [NOT] NULL is not evaluated: every change is dropped",
    ),
    rule(
        F::Function,
        "LOWER(title) = 'x'",
        E::Dropped,
        "function calls are not evaluated: every change is dropped",
    ),
    rule(
        F::Arithmetic,
        "n + 1 = 4",
        E::Dropped,
        "arithmetic is not evaluated: every change is dropped",
    ),
    rule(
        F::Cast,
        "n = CAST('1' AS INT)",
        E::Dropped,
        "casts and typed literals are not evaluated: every change is dropped",
    ),
    rule(
        F::UnknownColumn,
        "nope = 1",
        E::Dropped,
        "an unknown column fails the evaluation: every change is dropped",
    ),
    rule(
        F::Other,
        "CASE …, (n) = 1",
        E::Dropped,
        "the server's evaluator knows only comparisons of columns with literals, AND, OR, NOT and LIKE: every change is dropped",
    ),
];

const fn rule(
    form: FilterForm,
    example: &'static str,
    evaluation: ServerEvaluation,
    reason: &'static str,
) -> ServerRule {
    ServerRule {
        form,
        example,
        evaluation,
        reason,
    }
}

/// The row of [`SERVER_RULES`] for `form`.
pub fn server_rule(form: FilterForm) -> &'static ServerRule {
    const FALLBACK: ServerRule = rule(F::Other, "", E::Dropped, "not evaluated");
    SERVER_RULES
        .iter()
        .find(|r| r.form == form)
        .unwrap_or(&FALLBACK)
}

/// How the server's evaluator sees a column of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Integer,
    Float,
    Decimal,
    Text,
    Bool,
    Temporal,
    Opaque,
}

pub(crate) fn class_of(ty: SqlType) -> Class {
    match ty {
        SqlType::SmallInt | SqlType::Int | SqlType::BigInt => Class::Integer,
        SqlType::Float | SqlType::Double => Class::Float,
        SqlType::Decimal { .. } => Class::Decimal,
        SqlType::Text | SqlType::Json | SqlType::File => Class::Text,
        SqlType::Boolean => Class::Bool,
        SqlType::Timestamp | SqlType::DateTime | SqlType::Date | SqlType::Time => Class::Temporal,
        SqlType::Uuid | SqlType::Bytes | SqlType::Embedding(_) => Class::Opaque,
    }
}

/// One side of a comparison as the classification sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operand {
    Column {
        class: Class,
        nullable: bool,
    },
    /// A number literal; `big` when its magnitude is 2^53 or more.
    Number {
        big: bool,
    },
    Text,
    Bool,
    Null,
    /// A `{value}` of `live!`, rendered later as a literal of the compared column's kind.
    Param,
    /// Not a column or a literal: the form of what it is.
    Bad(FilterForm),
}

/// 2^53: integers up to here are exact in `f64`.
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

/// The kind of a number literal's text.
pub(crate) fn number_operand(text: &str) -> Operand {
    if let Ok(v) = text.parse::<i64>() {
        return Operand::Number {
            big: (v as f64).abs() >= EXACT_F64,
        };
    }
    match text.parse::<f64>() {
        Ok(f) => Operand::Number {
            big: !f.is_finite() || f.abs() >= EXACT_F64,
        },
        Err(_) => Operand::Bad(F::Other),
    }
}

/// Resolves a column name as the server's evaluator does: exact, then lower case, then
/// upper case.
pub(crate) fn resolve_server(columns: &[FilterColumn], name: &str) -> Option<usize> {
    let find = |n: &str| columns.iter().position(|c| c.name == n);
    find(name)
        .or_else(|| find(&name.to_lowercase()))
        .or_else(|| find(&name.to_uppercase()))
}

/// Classifies one side of a comparison or LIKE.
pub(crate) fn operand(e: &Expr, columns: &[FilterColumn]) -> Operand {
    let column = |name: &str| match resolve_server(columns, name) {
        Some(i) => Operand::Column {
            class: class_of(columns[i].ty),
            nullable: columns[i].nullable,
        },
        None => Operand::Bad(F::UnknownColumn),
    };
    match e {
        Expr::Identifier(i) => column(&i.value),
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(i) => column(&i.value),
            None => Operand::Bad(F::Other),
        },
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => number_operand(n),
            Value::SingleQuotedString(_) | Value::DoubleQuotedString(_) => Operand::Text,
            Value::Boolean(_) => Operand::Bool,
            Value::Null => Operand::Null,
            Value::Placeholder(_) => Operand::Param,
            _ => Operand::Bad(F::Other),
        },
        other => Operand::Bad(form_of_value(other)),
    }
}

/// The form of an expression that is not a column or a literal.
fn form_of_value(e: &Expr) -> FilterForm {
    match e {
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(..))) => {
            F::NegativeNumber
        }
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            ..
        } => F::Arithmetic,
        Expr::BinaryOp { op, .. } if is_arithmetic(op) => F::Arithmetic,
        Expr::Function(_) => F::Function,
        Expr::Cast { .. } | Expr::TypedString(_) => F::Cast,
        _ => F::Other,
    }
}

pub(crate) fn is_arithmetic(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo
            | BinaryOperator::StringConcat
    )
}

pub(crate) fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

/// The literal kind a `{value}` takes when compared with a column of this class.
fn param_kind(class: Class) -> Operand {
    match class {
        Class::Integer | Class::Float | Class::Decimal => Operand::Number { big: false },
        Class::Bool => Operand::Bool,
        Class::Text | Class::Temporal | Class::Opaque => Operand::Text,
    }
}

/// Classifies `a <op> b`.
pub(crate) fn classify_compare(equality: bool, a: Operand, b: Operand) -> FilterForm {
    use Operand as O;
    let (class, lit) = match (a, b) {
        (O::Bad(f), _) | (_, O::Bad(f)) => return f,
        (O::Column { .. }, O::Column { .. }) => return F::ColumnComparison,
        (O::Column { class, .. }, lit) | (lit, O::Column { class, .. }) => (class, lit),
        _ => return F::ConstantComparison,
    };
    let lit = if lit == O::Param {
        param_kind(class)
    } else {
        lit
    };
    let by_op = |eq: FilterForm, range: FilterForm| if equality { eq } else { range };
    match (class, lit) {
        (_, O::Null) => by_op(F::NullEquality, F::OtherRange),
        (Class::Temporal, _) => by_op(F::TemporalEquality, F::TemporalRange),
        (Class::Opaque, _) => by_op(F::OtherEquality, F::OtherRange),
        (Class::Text, O::Text) => by_op(F::TextEquality, F::TextRange),
        (Class::Bool, O::Bool) => by_op(F::BooleanEquality, F::OtherRange),
        (Class::Integer, O::Number { big: false }) => F::NumberComparison,
        (Class::Float, O::Number { big: false }) if !equality => F::NumberComparison,
        (Class::Integer | Class::Float | Class::Decimal, O::Number { .. }) => {
            F::ImpreciseNumberComparison
        }
        _ => by_op(F::OtherEquality, F::OtherRange),
    }
}

/// Classifies `a [NOT] LIKE b` (without ESCAPE or ANY).
pub(crate) fn classify_like(a: Operand, b: Operand) -> FilterForm {
    use Operand as O;
    match (a, b) {
        (O::Bad(f), _) | (_, O::Bad(f)) => f,
        (_, O::Number { .. } | O::Bool | O::Null) => F::LikeUnsupported,
        (
            O::Column {
                class: Class::Text, ..
            },
            O::Text | O::Param,
        ) => F::Like,
        _ => F::LikeOther,
    }
}

/// The form of a condition (an expression in boolean position).
pub(crate) fn classify(e: &Expr, columns: &[FilterColumn]) -> FilterForm {
    match e {
        Expr::Nested(_)
        | Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => F::Logic,
        Expr::BinaryOp {
            op: BinaryOperator::And | BinaryOperator::Or,
            ..
        } => F::Logic,
        Expr::BinaryOp { left, op, right } if is_comparison(op) => classify_compare(
            matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq),
            operand(left, columns),
            operand(right, columns),
        ),
        Expr::Like {
            any, escape_char, ..
        }
        | Expr::ILike {
            any, escape_char, ..
        } if *any || escape_char.is_some() => F::LikeUnsupported,
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            classify_like(operand(expr, columns), operand(pattern, columns))
        }
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_) => F::BareBoolean,
        Expr::IsNull(_) | Expr::IsNotNull(_) => F::IsNull,
        Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotUnknown(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..) => F::IsBoolean,
        Expr::InList { .. } | Expr::InSubquery { .. } | Expr::InUnnest { .. } => F::InList,
        Expr::Between { .. } => F::Between,
        other => form_of_value(other),
    }
}

/// A value as the server's evaluator sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// The literal `NULL`.
    Null,
    /// A NULL column value (it never equals the literal `NULL`).
    NullCell,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// Temporal values, UUIDs, bytes, vectors: equal only to the same value.
    Other(Opaque<'a>),
}

/// An opaque value, compared as the server compares their JSON cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Opaque<'a> {
    /// DATE, TIME, TIMESTAMP (a JSON number).
    Number(i64),
    Uuid(u128),
    Bytes(Cow<'a, [u8]>),
    Vector(Cow<'a, [f32]>),
}

impl<'a> Scalar<'a> {
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A row value as the server sees it: DECIMAL through `f64`, text kinds as strings.
    pub(crate) fn of(d: Datum<'a>) -> Scalar<'a> {
        match d {
            Datum::Null => Scalar::NullCell,
            Datum::Bool(b) => Scalar::Bool(b),
            Datum::Int(i) => Scalar::Int(i),
            Datum::Float(f) => Scalar::Float(f),
            Datum::Decimal(m, s) => Scalar::Float(m as f64 / 10f64.powi(i32::from(s))),
            Datum::Text(t) => Scalar::Str(t),
            Datum::Date(d) => Scalar::Other(Opaque::Number(i64::from(d))),
            Datum::Timestamp(v) | Datum::Time(v) => Scalar::Other(Opaque::Number(v)),
            Datum::Uuid(u) => Scalar::Other(Opaque::Uuid(u)),
            Datum::Bytes(b) => Scalar::Other(Opaque::Bytes(b)),
            Datum::Embedding(v) => Scalar::Other(Opaque::Vector(v)),
        }
    }

    /// A literal as the server's evaluator reads it; `None` when it cannot (the change is
    /// dropped).
    pub(crate) fn literal(v: &Value) -> Option<Scalar<'static>> {
        match v {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Some(Scalar::Str(Cow::Owned(s.clone())))
            }
            Value::Number(n, _) => n
                .parse::<i64>()
                .map(Scalar::Int)
                .or_else(|_| n.parse::<f64>().map(Scalar::Float))
                .ok(),
            Value::Boolean(b) => Some(Scalar::Bool(*b)),
            Value::Null => Some(Scalar::Null),
            _ => None,
        }
    }

    pub(crate) fn borrowed(&self) -> Scalar<'_> {
        match self {
            Scalar::Str(s) => Scalar::Str(Cow::Borrowed(s)),
            Scalar::Null => Scalar::Null,
            Scalar::NullCell => Scalar::NullCell,
            Scalar::Bool(b) => Scalar::Bool(*b),
            Scalar::Int(i) => Scalar::Int(*i),
            Scalar::Float(f) => Scalar::Float(*f),
            Scalar::Other(o) => Scalar::Other(o.clone()),
        }
    }
}

/// The server's equality: the same value, or two numbers within `f64::EPSILON`.
pub(crate) fn server_equal(l: &Scalar<'_>, r: &Scalar<'_>) -> bool {
    if l == r {
        return true;
    }
    match (l.as_f64(), r.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < f64::EPSILON,
        _ => false,
    }
}

/// What the server-mode check found out about a condition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery {
    /// Evaluating it never fails (a failure drops the whole change).
    pub(crate) never_fails: bool,
    /// When SQL says TRUE, the server's evaluation says true.
    pub(crate) keeps_true: bool,
    /// When SQL says FALSE, the server's evaluation says false.
    pub(crate) keeps_false: bool,
}

impl Delivery {
    /// A comparison or LIKE the server evaluates as SQL does for non-NULL values; ordering
    /// comparisons fail on a NULL column.
    pub(crate) fn leaf(may_fail: bool) -> Delivery {
        Delivery {
            never_fails: !may_fail,
            keeps_true: true,
            keeps_false: true,
        }
    }

    pub(crate) fn not(self) -> Delivery {
        Delivery {
            never_fails: self.never_fails,
            keeps_true: self.keeps_false,
            keeps_false: self.keeps_true,
        }
    }

    /// `a AND b` (`and`) or `a OR b`. The server may evaluate either side first, so a side
    /// that can fail breaks the answer whenever the other side alone decides it.
    pub(crate) fn combine(self, other: Delivery, and: bool) -> Delivery {
        let never_fails = self.never_fails && other.never_fails;
        let all = self.keeps_true && self.keeps_false && other.keeps_true && other.keeps_false;
        let (keeps_true, keeps_false) = if and {
            (self.keeps_true && other.keeps_true, all && never_fails)
        } else {
            (all && never_fails, self.keeps_false && other.keeps_false)
        };
        Delivery {
            never_fails,
            keeps_true,
            keeps_false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_has_one_rule() {
        let forms = [
            F::Logic,
            F::NumberComparison,
            F::ImpreciseNumberComparison,
            F::TextEquality,
            F::TextRange,
            F::BooleanEquality,
            F::TemporalEquality,
            F::TemporalRange,
            F::OtherEquality,
            F::OtherRange,
            F::NullEquality,
            F::ColumnComparison,
            F::ConstantComparison,
            F::Like,
            F::LikeOther,
            F::LikeUnsupported,
            F::NegativeNumber,
            F::BareBoolean,
            F::IsBoolean,
            F::InList,
            F::Between,
            F::IsNull,
            F::Function,
            F::Arithmetic,
            F::Cast,
            F::UnknownColumn,
            F::Other,
        ];
        assert_eq!(forms.len(), SERVER_RULES.len());
        for f in forms {
            assert_eq!(
                SERVER_RULES.iter().filter(|r| r.form == f).count(),
                1,
                "{f:?}"
            );
        }
    }

    #[test]
    fn comparisons_are_classified_by_their_sides() {
        use Operand as O;
        let col = |class| O::Column {
            class,
            nullable: true,
        };
        let small = O::Number { big: false };
        assert_eq!(
            classify_compare(true, col(Class::Integer), small),
            F::NumberComparison
        );
        assert_eq!(
            classify_compare(false, small, col(Class::Integer)),
            F::NumberComparison
        );
        assert_eq!(
            classify_compare(true, col(Class::Integer), O::Number { big: true }),
            F::ImpreciseNumberComparison
        );
        assert_eq!(
            classify_compare(false, col(Class::Float), small),
            F::NumberComparison
        );
        assert_eq!(
            classify_compare(true, col(Class::Float), small),
            F::ImpreciseNumberComparison
        );
        assert_eq!(
            classify_compare(false, col(Class::Decimal), small),
            F::ImpreciseNumberComparison
        );
        assert_eq!(
            classify_compare(false, col(Class::Text), O::Text),
            F::TextRange
        );
        assert_eq!(
            classify_compare(true, col(Class::Temporal), O::Param),
            F::TemporalEquality
        );
        assert_eq!(
            classify_compare(true, col(Class::Text), O::Param),
            F::TextEquality
        );
        assert_eq!(
            classify_compare(true, col(Class::Bool), O::Null),
            F::NullEquality
        );
        assert_eq!(
            classify_compare(false, col(Class::Bool), O::Bool),
            F::OtherRange
        );
        assert_eq!(
            classify_compare(true, col(Class::Bool), O::Bad(F::NegativeNumber)),
            F::NegativeNumber
        );
        assert_eq!(classify_compare(true, small, small), F::ConstantComparison);
        assert_eq!(number_operand("9007199254740993"), O::Number { big: true });
        assert_eq!(number_operand("1e400"), O::Number { big: true });
        assert_eq!(number_operand("x"), O::Bad(F::Other));
    }

    #[test]
    fn a_condition_that_can_fail_breaks_or_and_negated_and() {
        let ok = Delivery::leaf(false);
        let fails = Delivery::leaf(true);
        // `n > 2 AND ok`: a failure means NULL, and NULL AND x is never TRUE.
        assert!(fails.combine(ok, true).keeps_true);
        // `n > 2 OR ok`: the server drops a row that `ok` alone accepts.
        assert!(!fails.combine(ok, false).keeps_true);
        // `NOT (n > 2 AND ok)`: TRUE when `ok` is FALSE, whatever n is.
        assert!(!fails.combine(ok, true).not().keeps_true);
        // `NOT (n > 2 OR ok)`: TRUE only when both are FALSE, so n is not NULL.
        assert!(fails.combine(ok, false).not().keeps_true);
        assert!(ok.combine(ok, false).not().keeps_true);
    }
}
