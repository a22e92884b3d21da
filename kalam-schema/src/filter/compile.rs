//! WHERE → [`Node`]s. Exact mode types every expression as the server's SELECT does and
//! refuses what it cannot evaluate; server mode reads the expression as the server's live
//! filter does, and compiles every form [`SERVER_RULES`](super::SERVER_RULES) marks as dropped
//! into [`Node::Fail`].

use std::cmp::Ordering;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, TrimWhereField, UnaryOperator, Value,
};

use super::server::{self, Delivery, FilterForm, Scalar, ServerEvaluation};
use super::{Datum, Filter, FilterColumn, FilterMode, WhereClause, location};
use crate::datum::{parse_date, parse_datetime, parse_decimal, parse_time};
use crate::error::{ErrorKind, SchemaError};
use crate::types::SqlType;

/// The help of server-mode errors: it names the mode that evaluates every filter.
pub const EXACT_MODE_HELP: &str =
    "use exact mode (`FilterMode::Exact`, the default), which evaluates the filter on the client";

/// How deep the server's evaluator follows conditions before it gives up (and drops).
const SERVER_MAX_DEPTH: usize = 64;

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A value of the row: index into the filter's columns.
    Column(usize),
    /// A typed literal (exact mode).
    Const(Datum<'static>),
    /// A literal as the server's evaluator reads it (server mode).
    Lit(Scalar<'static>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    Like(Box<Like>),
    In {
        expr: Box<Node>,
        list: Vec<Node>,
        negated: bool,
    },
    Between {
        expr: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
        negated: bool,
    },
    /// `IS [NOT] NULL` (`true`: `IS NOT NULL`).
    IsNull(Box<Node>, bool),
    /// `IS [NOT] TRUE|FALSE|UNKNOWN` (`value` `None`: UNKNOWN).
    IsBool {
        expr: Box<Node>,
        value: Option<bool>,
        negated: bool,
    },
    /// `IS [NOT] DISTINCT FROM` (`true`: `IS NOT DISTINCT FROM`).
    Distinct(Box<Node>, Box<Node>, bool),
    Neg(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Concat(Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
    /// A form the server's live filter cannot evaluate (server mode): the change is dropped.
    Fail,
}

#[derive(Debug, Clone)]
pub(crate) struct Like {
    pub(crate) expr: Node,
    pub(crate) pattern: Node,
    pub(crate) negated: bool,
    /// ILIKE.
    pub(crate) fold: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    fn of(op: &BinaryOperator) -> Option<CmpOp> {
        Some(match op {
            BinaryOperator::Eq => CmpOp::Eq,
            BinaryOperator::NotEq => CmpOp::NotEq,
            BinaryOperator::Lt => CmpOp::Lt,
            BinaryOperator::LtEq => CmpOp::LtEq,
            BinaryOperator::Gt => CmpOp::Gt,
            BinaryOperator::GtEq => CmpOp::GtEq,
            _ => return None,
        })
    }

    pub(crate) fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o.is_eq(),
            CmpOp::NotEq => o.is_ne(),
            CmpOp::Lt => o.is_lt(),
            CmpOp::LtEq => o.is_le(),
            CmpOp::Gt => o.is_gt(),
            CmpOp::GtEq => o.is_ge(),
        }
    }

    pub(crate) fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::NotEq)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Which end(s) `TRIM` trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Both,
    Leading,
    Trailing,
}

/// The functions exact mode evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Lower,
    Upper,
    CharLength,
    OctetLength,
    Trim(Side),
    Concat,
    Coalesce,
    NullIf,
    Abs,
    StartsWith,
    EndsWith,
    Replace,
    Left,
    Right,
    Reverse,
    Strpos,
}

/// What compiling may use beyond the columns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Extras<'a> {
    /// The value of `CURRENT_USER()`.
    pub(crate) user: Option<&'a str>,
    /// Accept `$n` (a literal of the type its context gives), for checking only.
    pub(crate) params: bool,
}

/// The static type of an exact-mode expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Null,
    /// A `$n` being checked: takes the type of its context.
    Param,
    Bool,
    Int,
    Float,
    Decimal,
    Text,
    Date,
    Timestamp,
    Time,
    Uuid,
    Bytes,
    Embedding,
}

impl Ty {
    fn of(t: SqlType) -> Ty {
        match t {
            SqlType::Boolean => Ty::Bool,
            SqlType::SmallInt | SqlType::Int | SqlType::BigInt => Ty::Int,
            SqlType::Float | SqlType::Double => Ty::Float,
            SqlType::Decimal { .. } => Ty::Decimal,
            SqlType::Text | SqlType::Json | SqlType::File => Ty::Text,
            SqlType::Timestamp | SqlType::DateTime => Ty::Timestamp,
            SqlType::Date => Ty::Date,
            SqlType::Time => Ty::Time,
            SqlType::Uuid => Ty::Uuid,
            SqlType::Bytes => Ty::Bytes,
            SqlType::Embedding(_) => Ty::Embedding,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Null => "NULL",
            Ty::Param => "a parameter",
            Ty::Bool => "BOOLEAN",
            Ty::Int => "an integer",
            Ty::Float => "a FLOAT/DOUBLE",
            Ty::Decimal => "a DECIMAL",
            Ty::Text => "text",
            Ty::Date => "a DATE",
            Ty::Timestamp => "a TIMESTAMP",
            Ty::Time => "a TIME",
            Ty::Uuid => "a UUID",
            Ty::Bytes => "BYTES",
            Ty::Embedding => "an EMBEDDING",
        }
    }

    fn unknown(self) -> bool {
        matches!(self, Ty::Null | Ty::Param)
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Decimal)
    }

    fn fits(self, want: Ty) -> bool {
        self == want || self.unknown()
    }
}

/// Whether values of the two types compare (after literal coercion).
fn comparable(a: Ty, b: Ty) -> bool {
    match (a, b) {
        (Ty::Embedding, _) | (_, Ty::Embedding) => false,
        _ if a.unknown() || b.unknown() => true,
        _ if a.numeric() && b.numeric() => true,
        (Ty::Date | Ty::Timestamp, Ty::Date | Ty::Timestamp) => true,
        _ => a == b,
    }
}

/// An exact-mode expression with its type; `text` is the text of a string literal, which
/// takes the type of what it is compared with (DATE, TIMESTAMP, TIME, DECIMAL).
struct Typed {
    node: Node,
    ty: Ty,
    text: Option<String>,
}

impl Typed {
    fn new(node: Node, ty: Ty) -> Typed {
        Typed {
            node,
            ty,
            text: None,
        }
    }

    fn boxed(self) -> Box<Node> {
        Box::new(self.node)
    }
}

struct Compiler<'a> {
    clause: &'a WhereClause,
    columns: &'a [FilterColumn],
    extras: Extras<'a>,
    /// The columns read, in the order first read: the filter's columns.
    used: Vec<FilterColumn>,
}

pub(crate) fn compile(
    clause: &WhereClause,
    columns: &[FilterColumn],
    mode: FilterMode,
    extras: Extras<'_>,
) -> Result<Filter, SchemaError> {
    let mut c = Compiler {
        clause,
        columns,
        extras,
        used: Vec::new(),
    };
    let root = match mode {
        FilterMode::Exact => {
            let t = c.exact(clause.expr(), 0)?;
            if !t.ty.fits(Ty::Bool) {
                return Err(c.mismatch(
                    format!(
                        "the condition `{}` is {}, not BOOLEAN",
                        clause.expr(),
                        t.ty.name()
                    ),
                    clause.expr(),
                ));
            }
            t.node
        }
        FilterMode::Server => c.server_cond(clause.expr(), 0),
    };
    Ok(Filter {
        mode,
        root,
        columns: c.used,
    })
}

impl Compiler<'_> {
    fn error(&self, kind: ErrorKind, message: String, e: &Expr) -> SchemaError {
        SchemaError::new(kind, message).at(location(self.clause, e))
    }

    fn mismatch(&self, message: String, e: &Expr) -> SchemaError {
        self.error(ErrorKind::TypeMismatch, message, e)
    }

    fn unsupported(&self, what: impl std::fmt::Display, e: &Expr) -> SchemaError {
        self.error(
            ErrorKind::Unsupported,
            format!("{what} is not evaluated by the client-side live filter"),
            e,
        )
        .with_suggestion(
            "the client evaluates comparisons, AND/OR/NOT, [NOT] LIKE/ILIKE, [NOT] IN, \
             [NOT] BETWEEN, IS [NOT] NULL/TRUE/FALSE/DISTINCT FROM, arithmetic, CAST of literals \
             and the functions listed in kalam_schema::filter; rewrite the condition with those",
        )
    }

    /// The filter's slot for table column `index`.
    fn slot(&mut self, index: usize) -> usize {
        let column = &self.columns[index];
        match self.used.iter().position(|c| c.name == column.name) {
            Some(i) => i,
            None => {
                self.used.push(column.clone());
                self.used.len() - 1
            }
        }
    }

    // ---- exact mode ----

    fn column(&mut self, ident: &Ident, e: &Expr) -> Result<Typed, SchemaError> {
        let found = if ident.quote_style.is_some() {
            self.columns.iter().position(|c| c.name == ident.value)
        } else {
            self.columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(&ident.value))
        };
        let Some(index) = found else {
            let mut err = self.error(
                ErrorKind::UnknownColumn,
                format!("unknown column `{}`", ident.value),
                e,
            );
            if let Some(near) =
                crate::error::nearest(&ident.value, self.columns.iter().map(|c| c.name.as_str()))
            {
                err = err.with_suggestion(near);
            }
            return Err(err);
        };
        let ty = Ty::of(self.columns[index].ty);
        Ok(Typed::new(Node::Column(self.slot(index)), ty))
    }

    fn literal(&self, v: &Value, e: &Expr, negative: bool) -> Result<Typed, SchemaError> {
        let constant = |d: Datum<'static>, ty| Ok(Typed::new(Node::Const(d), ty));
        match v {
            Value::Number(n, _) => {
                let text = if negative { format!("-{n}") } else { n.clone() };
                if let Ok(i) = text.parse::<i64>() {
                    return constant(Datum::Int(i), Ty::Int);
                }
                let integral = n.bytes().all(|b| b.is_ascii_digit());
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() && !integral => constant(Datum::Float(f), Ty::Float),
                    _ => Err(self.error(
                        ErrorKind::Literal,
                        format!("the number `{text}` is out of range"),
                        e,
                    )),
                }
            }
            _ if negative => Err(self.mismatch(format!("cannot negate `{v}`"), e)),
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Ok(Typed {
                node: Node::Const(Datum::Text(s.clone().into())),
                ty: Ty::Text,
                text: Some(s.clone()),
            }),
            Value::Boolean(b) => constant(Datum::Bool(*b), Ty::Bool),
            Value::Null => constant(Datum::Null, Ty::Null),
            Value::Placeholder(_) if self.extras.params => constant(Datum::Null, Ty::Param),
            Value::Placeholder(p) => Err(self
                .error(
                    ErrorKind::LiveQueryShape,
                    format!("live queries take no parameters (`{p}`)"),
                    e,
                )
                .with_suggestion(
                    "render the value into the SQL with kalam_schema::render_literal",
                )),
            other => Err(self.unsupported(format!("the literal `{other}`"), e)),
        }
    }

    /// A string literal read as a value of type `target` (what DataFusion's comparison
    /// coercion does); other expressions are left as they are.
    fn coerce(&self, t: Typed, target: Ty, e: &Expr) -> Result<Typed, SchemaError> {
        let Some(text) = &t.text else {
            return Ok(t);
        };
        let bad = |what: &str, form: &str| {
            Err(self.error(
                ErrorKind::Literal,
                format!("`'{text}'` is not {what} literal (write {form})"),
                e,
            ))
        };
        let value = match target {
            Ty::Date => match parse_date(text.trim()).and_then(|d| i32::try_from(d).ok()) {
                Some(d) => Datum::Date(d),
                None => return bad("a DATE", "YYYY-MM-DD"),
            },
            Ty::Timestamp => match parse_datetime(text) {
                Some(v) => Datum::Timestamp(v),
                None => return bad("a TIMESTAMP", "YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]"),
            },
            Ty::Time => match parse_time(text.trim()) {
                Some(v) => Datum::Time(v),
                None => return bad("a TIME", "HH:MM[:SS[.ffffff]]"),
            },
            Ty::Decimal => match parse_decimal(text) {
                Some((m, s)) => Datum::Decimal(m, s),
                None => return bad("a DECIMAL", "digits with an optional fraction"),
            },
            Ty::Uuid => {
                return Err(self.mismatch(
                    "a UUID column cannot be compared with text: the server's SELECT fails \
                     (FixedSizeBinary(16) = Utf8)"
                        .to_owned(),
                    e,
                ));
            }
            _ => return Ok(t),
        };
        Ok(Typed::new(Node::Const(value), target))
    }

    /// Compiles `a` and `b` for comparison: string literals take the other side's type.
    fn pair(
        &mut self,
        a: &Expr,
        b: &Expr,
        whole: &Expr,
        depth: usize,
    ) -> Result<(Typed, Typed), SchemaError> {
        let (l, r) = (self.exact(a, depth)?, self.exact(b, depth)?);
        let (lt, rt) = (l.ty, r.ty);
        let l = self.coerce(l, rt, a)?;
        let r = self.coerce(r, lt, b)?;
        if !comparable(l.ty, r.ty) {
            return Err(self.mismatch(
                format!(
                    "cannot compare {} with {} in `{whole}`",
                    l.ty.name(),
                    r.ty.name()
                ),
                whole,
            ));
        }
        Ok((l, r))
    }

    fn condition(&mut self, e: &Expr, depth: usize) -> Result<Box<Node>, SchemaError> {
        let t = self.exact(e, depth)?;
        if !t.ty.fits(Ty::Bool) {
            return Err(self.mismatch(format!("`{e}` is {}, not BOOLEAN", t.ty.name()), e));
        }
        Ok(t.boxed())
    }

    fn exact(&mut self, e: &Expr, depth: usize) -> Result<Typed, SchemaError> {
        if depth > crate::parse::MAX_EXPR_DEPTH {
            return Err(self.error(
                ErrorKind::Unsupported,
                "the WHERE clause is nested too deeply".to_owned(),
                e,
            ));
        }
        let d = depth + 1;
        let bool_node = |node| Ok(Typed::new(node, Ty::Bool));
        match e {
            Expr::Nested(x) => self.exact(x, d),
            Expr::Identifier(i) => self.column(i, e),
            Expr::CompoundIdentifier(parts) => match parts.last() {
                Some(i) => self.column(i, e),
                None => Err(self.unsupported(e, e)),
            },
            Expr::Value(v) => self.literal(&v.value, e, false),
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } if matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(..))) => {
                match expr.as_ref() {
                    Expr::Value(v) => self.literal(&v.value, e, true),
                    _ => Err(self.unsupported(e, e)),
                }
            }
            Expr::UnaryOp { op, expr } => {
                let t = self.exact(expr, d)?;
                match op {
                    UnaryOperator::Not if t.ty.fits(Ty::Bool) => bool_node(Node::Not(t.boxed())),
                    UnaryOperator::Minus if t.ty.numeric() || t.ty.unknown() => {
                        let ty = t.ty;
                        Ok(Typed::new(Node::Neg(t.boxed()), ty))
                    }
                    UnaryOperator::Plus if t.ty.numeric() || t.ty.unknown() => Ok(t),
                    UnaryOperator::Not | UnaryOperator::Minus | UnaryOperator::Plus => {
                        Err(self.mismatch(format!("`{op}` does not apply to {}", t.ty.name()), e))
                    }
                    other => Err(self.unsupported(format!("the operator `{other}`"), e)),
                }
            }
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right, e, d),
            Expr::IsNull(x) => bool_node(Node::IsNull(self.exact(x, d)?.boxed(), false)),
            Expr::IsNotNull(x) => bool_node(Node::IsNull(self.exact(x, d)?.boxed(), true)),
            Expr::IsTrue(x) | Expr::IsNotTrue(x) | Expr::IsFalse(x) | Expr::IsNotFalse(x) => {
                let value = Some(matches!(e, Expr::IsTrue(_) | Expr::IsNotTrue(_)));
                let negated = matches!(e, Expr::IsNotTrue(_) | Expr::IsNotFalse(_));
                let expr = self.condition(x, d)?;
                bool_node(Node::IsBool {
                    expr,
                    value,
                    negated,
                })
            }
            Expr::IsUnknown(x) | Expr::IsNotUnknown(x) => {
                let expr = self.condition(x, d)?;
                bool_node(Node::IsBool {
                    expr,
                    value: None,
                    negated: matches!(e, Expr::IsNotUnknown(_)),
                })
            }
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                let (l, r) = self.pair(a, b, e, d)?;
                let not = matches!(e, Expr::IsNotDistinctFrom(..));
                bool_node(Node::Distinct(l.boxed(), r.boxed(), not))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let mut items = Vec::with_capacity(list.len());
                let mut head = None;
                for item in list {
                    let (l, r) = self.pair(expr, item, e, d)?;
                    head.get_or_insert(l);
                    items.push(r.node);
                }
                let head = match head {
                    Some(h) => h,
                    None => self.exact(expr, d)?,
                };
                bool_node(Node::In {
                    expr: head.boxed(),
                    list: items,
                    negated: *negated,
                })
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, lo) = self.pair(expr, low, e, d)?;
                let (_, hi) = self.pair(expr, high, e, d)?;
                bool_node(Node::Between {
                    expr: x.boxed(),
                    low: lo.boxed(),
                    high: hi.boxed(),
                    negated: *negated,
                })
            }
            Expr::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            }
            | Expr::ILike {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any {
                    return Err(self.unsupported("LIKE ANY", e));
                }
                if let Some(c) = escape_char
                    && c.to_string() != "'\\'"
                {
                    return Err(self.error(
                        ErrorKind::Unsupported,
                        format!("`ESCAPE {c}`: the server's SELECT supports only the backslash as LIKE escape"),
                        e,
                    ));
                }
                let (x, p) = (self.exact(expr, d)?, self.exact(pattern, d)?);
                for t in [&x, &p] {
                    if !t.ty.fits(Ty::Text) {
                        return Err(self.mismatch(
                            format!("LIKE needs text, not {}, in `{e}`", t.ty.name()),
                            e,
                        ));
                    }
                }
                bool_node(Node::Like(Box::new(Like {
                    expr: x.node,
                    pattern: p.node,
                    negated: *negated,
                    fold: matches!(e, Expr::ILike { .. }),
                })))
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
                    return Err(self.unsupported(format!("`{e}`"), e));
                }
                let args: Vec<&Expr> = match &f.args {
                    FunctionArguments::None => Vec::new(),
                    FunctionArguments::List(l)
                        if l.duplicate_treatment.is_none() && l.clauses.is_empty() =>
                    {
                        l.args
                            .iter()
                            .map(|a| match a {
                                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Ok(x),
                                _ => Err(self.unsupported(format!("the argument `{a}`"), e)),
                            })
                            .collect::<Result<_, _>>()?
                    }
                    _ => return Err(self.unsupported(format!("`{e}`"), e)),
                };
                self.call(&name, &args, e, d)
            }
            Expr::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                let side = match trim_where {
                    None | Some(TrimWhereField::Both) => Side::Both,
                    Some(TrimWhereField::Leading) => Side::Leading,
                    Some(TrimWhereField::Trailing) => Side::Trailing,
                };
                let mut args = vec![expr.as_ref()];
                match (trim_what, trim_characters.as_deref()) {
                    (Some(w), None) => args.push(w),
                    (None, Some([c])) => args.push(c),
                    (None, None) => {}
                    _ => return Err(self.unsupported(format!("`{e}`"), e)),
                }
                self.typed_call(
                    Func::Trim(side),
                    &args,
                    &[Ty::Text, Ty::Text],
                    Ty::Text,
                    e,
                    d,
                )
            }
            Expr::Cast {
                kind: CastKind::Cast | CastKind::DoubleColon,
                expr,
                data_type,
                ..
            } => self.cast_literal(expr, data_type, e),
            Expr::TypedString(ts) => {
                let value = Expr::Value(ts.value.clone());
                self.cast_literal(&value, &ts.data_type, e)
            }
            other => Err(self.unsupported(format!("`{other}`"), e)),
        }
    }

    /// `CAST(<literal> AS <type>)`, folded while compiling (casts of columns are refused).
    fn cast_literal(&self, x: &Expr, to: &DataType, e: &Expr) -> Result<Typed, SchemaError> {
        let target = match to {
            DataType::Date => Ty::Date,
            DataType::Timestamp(..) | DataType::Datetime(_) => Ty::Timestamp,
            DataType::Time(..) => Ty::Time,
            DataType::Decimal(_) | DataType::Numeric(_) => Ty::Decimal,
            DataType::Text | DataType::Varchar(_) | DataType::String(_) => Ty::Text,
            _ => return Err(self.unsupported(format!("`{e}`"), e)),
        };
        let value = match x {
            Expr::Value(v) => self.literal(&v.value, e, false)?,
            _ => {
                return Err(self.unsupported(
                    format!("`{e}` (a cast of something else than a literal)"),
                    e,
                ));
            }
        };
        if value.text.is_none() && target != Ty::Text && value.ty != Ty::Null {
            return Err(self.unsupported(format!("`{e}`"), e));
        }
        self.coerce(value, target, e)
    }

    fn binary(
        &mut self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
        e: &Expr,
        d: usize,
    ) -> Result<Typed, SchemaError> {
        if let Some(cmp) = CmpOp::of(op) {
            let (l, r) = self.pair(left, right, e, d)?;
            return Ok(Typed::new(Node::Cmp(cmp, l.boxed(), r.boxed()), Ty::Bool));
        }
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let (l, r) = (self.condition(left, d)?, self.condition(right, d)?);
                let node = if *op == BinaryOperator::And {
                    Node::And(l, r)
                } else {
                    Node::Or(l, r)
                };
                Ok(Typed::new(node, Ty::Bool))
            }
            BinaryOperator::StringConcat => {
                let (l, r) = (self.exact(left, d)?, self.exact(right, d)?);
                if !l.ty.fits(Ty::Text) || !r.ty.fits(Ty::Text) {
                    return Err(self.mismatch(
                        format!("`||` needs text, not {} and {}", l.ty.name(), r.ty.name()),
                        e,
                    ));
                }
                Ok(Typed::new(Node::Concat(l.boxed(), r.boxed()), Ty::Text))
            }
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                let arith = match op {
                    BinaryOperator::Plus => ArithOp::Add,
                    BinaryOperator::Minus => ArithOp::Sub,
                    BinaryOperator::Multiply => ArithOp::Mul,
                    BinaryOperator::Divide => ArithOp::Div,
                    _ => ArithOp::Mod,
                };
                let (l, r) = (self.exact(left, d)?, self.exact(right, d)?);
                let ty = match (l.ty, r.ty) {
                    (a, b) if !(a.numeric() || a.unknown()) || !(b.numeric() || b.unknown()) => {
                        return Err(self.mismatch(
                            format!("`{op}` needs numbers, not {} and {}", a.name(), b.name()),
                            e,
                        ));
                    }
                    (Ty::Float, _) | (_, Ty::Float) => Ty::Float,
                    (Ty::Decimal, _) | (_, Ty::Decimal)
                        if matches!(arith, ArithOp::Div | ArithOp::Mod) =>
                    {
                        return Err(self.unsupported(
                            format!("`{op}` on DECIMAL values (its result scale)"),
                            e,
                        ));
                    }
                    (Ty::Decimal, _) | (_, Ty::Decimal) => Ty::Decimal,
                    (Ty::Int, _) | (_, Ty::Int) => Ty::Int,
                    (a, _) => a,
                };
                Ok(Typed::new(Node::Arith(arith, l.boxed(), r.boxed()), ty))
            }
            other => Err(self.unsupported(format!("the operator `{other}`"), e)),
        }
    }

    /// A call with fixed argument types (the last ones optional when `params` is longer than
    /// the arguments given, down to one).
    fn typed_call(
        &mut self,
        func: Func,
        args: &[&Expr],
        params: &[Ty],
        ret: Ty,
        e: &Expr,
        d: usize,
    ) -> Result<Typed, SchemaError> {
        let optional_from = match func {
            Func::Trim(_) => 1,
            _ => params.len(),
        };
        if args.len() < optional_from || args.len() > params.len() {
            return Err(self.mismatch(format!("`{e}` takes {} argument(s)", params.len()), e));
        }
        let mut nodes = Vec::with_capacity(args.len());
        for (a, want) in args.iter().zip(params) {
            let t = self.exact(a, d)?;
            let fits = match want {
                Ty::Float => t.ty.numeric() || t.ty.unknown(),
                want => t.ty.fits(*want),
            };
            if !fits {
                return Err(self.mismatch(
                    format!("`{e}` needs {} where `{a}` is {}", want.name(), t.ty.name()),
                    a,
                ));
            }
            nodes.push(t.node);
        }
        Ok(Typed::new(Node::Call(func, nodes), ret))
    }

    fn call(
        &mut self,
        name: &str,
        args: &[&Expr],
        e: &Expr,
        d: usize,
    ) -> Result<Typed, SchemaError> {
        use Ty::{Bool, Int, Text};
        let (func, params, ret): (Func, &[Ty], Ty) = match name {
            "lower" => (Func::Lower, &[Text], Text),
            "upper" => (Func::Upper, &[Text], Text),
            "length" | "char_length" | "character_length" => (Func::CharLength, &[Text], Int),
            "octet_length" => (Func::OctetLength, &[Text], Int),
            "trim" | "btrim" => (Func::Trim(Side::Both), &[Text, Text], Text),
            "ltrim" => (Func::Trim(Side::Leading), &[Text, Text], Text),
            "rtrim" => (Func::Trim(Side::Trailing), &[Text, Text], Text),
            "starts_with" => (Func::StartsWith, &[Text, Text], Bool),
            "ends_with" => (Func::EndsWith, &[Text, Text], Bool),
            "replace" => (Func::Replace, &[Text, Text, Text], Text),
            "left" => (Func::Left, &[Text, Int], Text),
            "right" => (Func::Right, &[Text, Int], Text),
            "reverse" => (Func::Reverse, &[Text], Text),
            "strpos" => (Func::Strpos, &[Text, Text], Int),
            "abs" => {
                let [x] = args else {
                    return Err(self.mismatch(format!("`{e}` takes 1 argument"), e));
                };
                let t = self.exact(x, d)?;
                if !(t.ty.numeric() || t.ty.unknown()) {
                    return Err(
                        self.mismatch(format!("ABS needs a number, not {}", t.ty.name()), e)
                    );
                }
                return Ok(Typed::new(Node::Call(Func::Abs, vec![t.node]), t.ty));
            }
            "concat" => {
                let mut nodes = Vec::with_capacity(args.len());
                for a in args {
                    let t = self.exact(a, d)?;
                    if !t.ty.fits(Text) {
                        return Err(self.mismatch(
                            format!("CONCAT needs text, not {}, in `{e}`", t.ty.name()),
                            a,
                        ));
                    }
                    nodes.push(t.node);
                }
                return Ok(Typed::new(Node::Call(Func::Concat, nodes), Text));
            }
            "coalesce" | "nullif" => {
                let func = if name == "nullif" {
                    Func::NullIf
                } else {
                    Func::Coalesce
                };
                if args.is_empty() || (func == Func::NullIf && args.len() != 2) {
                    return Err(
                        self.mismatch(format!("`{e}` has the wrong number of arguments"), e)
                    );
                }
                let mut typed = Vec::with_capacity(args.len());
                for a in args {
                    typed.push(self.exact(a, d)?);
                }
                // String literals take the type of the first argument that has one.
                let target = typed
                    .iter()
                    .find(|t| t.text.is_none() && !t.ty.unknown())
                    .map_or(Ty::Text, |t| t.ty);
                let mut nodes = Vec::with_capacity(typed.len());
                let mut ty = Ty::Null;
                for (t, a) in typed.into_iter().zip(args) {
                    let t = self.coerce(t, target, a)?;
                    if !comparable(t.ty, target) {
                        return Err(self.mismatch(
                            format!("`{e}` mixes {} and {}", target.name(), t.ty.name()),
                            e,
                        ));
                    }
                    ty = match (ty, t.ty) {
                        (a, b) if a.unknown() => b,
                        (Ty::Float, _) | (_, Ty::Float) => Ty::Float,
                        (Ty::Decimal, _) | (_, Ty::Decimal) => Ty::Decimal,
                        (a, _) => a,
                    };
                    nodes.push(t.node);
                }
                if func == Func::NullIf {
                    ty = target;
                }
                return Ok(Typed::new(Node::Call(func, nodes), ty));
            }
            "current_user" | "kdb_current_user" => {
                if !args.is_empty() {
                    return Err(self.mismatch(format!("`{e}` takes no argument"), e));
                }
                return match self.extras.user {
                    Some(user) => Ok(Typed::new(
                        Node::Const(Datum::Text(user.to_owned().into())),
                        Text,
                    )),
                    None => Err(self.error(
                        ErrorKind::Unsupported,
                        "CURRENT_USER() needs the subscriber's id (WhereClause::compile_for_user)"
                            .to_owned(),
                        e,
                    )),
                };
            }
            other => {
                return Err(self.unsupported(format!("the function `{other}`"), e).with_suggestion(
                    "the client evaluates LOWER, UPPER, LENGTH, OCTET_LENGTH, TRIM, LTRIM, RTRIM, \
                     CONCAT, COALESCE, NULLIF, ABS, STARTS_WITH, ENDS_WITH, REPLACE, LEFT, RIGHT, \
                     REVERSE, STRPOS and CURRENT_USER",
                ));
            }
        };
        self.typed_call(func, args, params, ret, e, d)
    }

    // ---- server mode ----

    fn server_cond(&mut self, e: &Expr, depth: usize) -> Node {
        if depth > SERVER_MAX_DEPTH {
            return Node::Fail;
        }
        let d = depth + 1;
        match e {
            Expr::Nested(x) => self.server_cond(x, d),
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => Node::Not(Box::new(self.server_cond(expr, d))),
            Expr::BinaryOp {
                left,
                op: op @ (BinaryOperator::And | BinaryOperator::Or),
                right,
            } => {
                let (l, r) = (self.server_cond(left, d), self.server_cond(right, d));
                if *op == BinaryOperator::And {
                    Node::And(Box::new(l), Box::new(r))
                } else {
                    Node::Or(Box::new(l), Box::new(r))
                }
            }
            _ if dropped(server::classify(e, self.columns)) => Node::Fail,
            Expr::BinaryOp { left, op, right } => match CmpOp::of(op) {
                Some(cmp) => Node::Cmp(
                    cmp,
                    Box::new(self.server_value(left)),
                    Box::new(self.server_value(right)),
                ),
                None => Node::Fail,
            },
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            }
            | Expr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => Node::Like(Box::new(Like {
                expr: self.server_value(expr),
                pattern: self.server_value(pattern),
                negated: *negated,
                fold: matches!(e, Expr::ILike { .. }),
            })),
            _ => Node::Fail,
        }
    }

    fn server_value(&mut self, e: &Expr) -> Node {
        let ident = match e {
            Expr::Identifier(i) => Some(i),
            Expr::CompoundIdentifier(parts) => parts.last(),
            Expr::Value(v) => {
                return Scalar::literal(&v.value).map_or(Node::Fail, Node::Lit);
            }
            _ => None,
        };
        match ident.and_then(|i| server::resolve_server(self.columns, &i.value)) {
            Some(index) => Node::Column(self.slot(index)),
            None => Node::Fail,
        }
    }
}

fn dropped(form: FilterForm) -> bool {
    server::server_rule(form).evaluation == ServerEvaluation::Dropped
}

/// Calls `f` on `e` and on every expression inside it that a filter can evaluate, down to
/// [`MAX_EXPR_DEPTH`](crate::parse::MAX_EXPR_DEPTH) levels; returns false when it had to stop
/// there.
pub(crate) fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) -> bool {
    let mut complete = true;
    walk_at(e, f, 0, &mut complete);
    complete
}

fn walk_at(e: &Expr, f: &mut dyn FnMut(&Expr), depth: usize, complete: &mut bool) {
    if depth > crate::parse::MAX_EXPR_DEPTH {
        *complete = false;
        return;
    }
    f(e);
    let mut inner = |x: &Expr| walk_at(x, f, depth + 1, complete);
    match e {
        Expr::Nested(x)
        | Expr::UnaryOp { expr: x, .. }
        | Expr::IsNull(x)
        | Expr::IsNotNull(x)
        | Expr::IsTrue(x)
        | Expr::IsNotTrue(x)
        | Expr::IsFalse(x)
        | Expr::IsNotFalse(x)
        | Expr::IsUnknown(x)
        | Expr::IsNotUnknown(x)
        | Expr::Cast { expr: x, .. } => inner(x),
        Expr::BinaryOp { left, right, .. }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right)
        | Expr::Like {
            expr: left,
            pattern: right,
            ..
        }
        | Expr::ILike {
            expr: left,
            pattern: right,
            ..
        } => {
            inner(left);
            inner(right);
        }
        Expr::InList { expr, list, .. } => {
            inner(expr);
            list.iter().for_each(inner);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            inner(expr);
            inner(low);
            inner(high);
        }
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            inner(expr);
            if let Some(w) = trim_what {
                inner(w);
            }
            trim_characters.iter().flatten().for_each(inner);
        }
        Expr::Function(func) => {
            if let FunctionArguments::List(l) = &func.args {
                for a in &l.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        inner(x);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Collects the column names `e` reads (lower case, each once).
pub(crate) fn column_names(e: &Expr, out: &mut Vec<String>) {
    let _ = walk(e, &mut |x| match x {
        Expr::Identifier(i) => push_name(out, &i.value),
        Expr::CompoundIdentifier(parts) => {
            if let Some(i) = parts.last() {
                push_name(out, &i.value);
            }
        }
        _ => {}
    });
}

fn push_name(out: &mut Vec<String>, name: &str) {
    let name = name.to_ascii_lowercase();
    if !out.contains(&name) {
        out.push(name);
    }
}

/// The server-mode check of [`WhereClause::check_server`] on `e`.
pub(crate) fn check_server(
    clause: &WhereClause,
    e: &Expr,
    columns: &[FilterColumn],
) -> Result<(), SchemaError> {
    if delivery(clause, e, columns, 0)?.keeps_true {
        return Ok(());
    }
    let leaf = fallible_leaf(e, columns, 0).unwrap_or(e);
    let mut names = Vec::new();
    column_names(leaf, &mut names);
    let nullable = names
        .iter()
        .find(|n| {
            columns
                .iter()
                .any(|c| c.nullable && c.name.eq_ignore_ascii_case(n))
        })
        .map_or_else(|| "column".to_owned(), |n| format!("`{n}`"));
    Err(SchemaError::new(
        ErrorKind::LiveQueryFilter,
        format!(
            "`{leaf}` fails on a row whose {nullable} is NULL, and the server then drops the \
             whole change, also when the rest of `{e}` accepts the row"
        ),
    )
    .at(location(clause, leaf))
    .with_suggestion(EXACT_MODE_HELP))
}

fn delivery(
    clause: &WhereClause,
    e: &Expr,
    columns: &[FilterColumn],
    depth: usize,
) -> Result<Delivery, SchemaError> {
    if depth > crate::parse::MAX_EXPR_DEPTH {
        return Err(SchemaError::new(
            ErrorKind::LiveQueryFilter,
            "the WHERE clause is nested too deeply",
        )
        .at(location(clause, e)));
    }
    let d = depth + 1;
    match e {
        Expr::Nested(x) => delivery(clause, x, columns, d),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Ok(delivery(clause, expr, columns, d)?.not()),
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right,
        } => {
            let l = delivery(clause, left, columns, d)?;
            let r = delivery(clause, right, columns, d)?;
            Ok(l.combine(r, *op == BinaryOperator::And))
        }
        _ => {
            let rule = server::server_rule(server::classify(e, columns));
            if rule.evaluation != ServerEvaluation::Delivered {
                return Err(form_error(clause, e, rule));
            }
            Ok(Delivery::leaf(may_fail(e, columns)))
        }
    }
}

/// An ordering comparison with a nullable column fails on NULL (the server orders numbers).
fn may_fail(e: &Expr, columns: &[FilterColumn]) -> bool {
    let Expr::BinaryOp { left, op, right } = e else {
        return false;
    };
    let ordering = matches!(
        op,
        BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq
    );
    ordering
        && [left, right].iter().any(|x| {
            matches!(
                server::operand(x, columns),
                server::Operand::Column { nullable: true, .. }
            )
        })
}

/// The first comparison under `e` that fails on NULL.
fn fallible_leaf<'e>(e: &'e Expr, columns: &[FilterColumn], depth: usize) -> Option<&'e Expr> {
    if depth > crate::parse::MAX_EXPR_DEPTH {
        return None;
    }
    match e {
        Expr::Nested(x)
        | Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: x,
        } => fallible_leaf(x, columns, depth + 1),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And | BinaryOperator::Or,
            right,
        } => fallible_leaf(left, columns, depth + 1)
            .or_else(|| fallible_leaf(right, columns, depth + 1)),
        _ if may_fail(e, columns) => Some(e),
        _ => None,
    }
}

/// The error for a form the server does not deliver faithfully, with a rewrite when the
/// server delivers one.
fn form_error(clause: &WhereClause, e: &Expr, rule: &server::ServerRule) -> SchemaError {
    let rewrite = match e {
        Expr::InList {
            expr,
            list,
            negated,
        } if !list.is_empty() => {
            let (op, join) = if *negated {
                ("<>", " AND ")
            } else {
                ("=", " OR ")
            };
            let terms: Vec<String> = list.iter().map(|v| format!("{expr} {op} {v}")).collect();
            Some(terms.join(join))
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Some(if *negated {
            format!("{expr} < {low} OR {expr} > {high}")
        } else {
            format!("{expr} >= {low} AND {expr} <= {high}")
        }),
        _ => None,
    };
    let help = match rewrite {
        Some(r) => format!("{EXACT_MODE_HELP}; or rewrite as: {r}"),
        None => EXACT_MODE_HELP.to_owned(),
    };
    SchemaError::new(
        ErrorKind::LiveQueryFilter,
        format!("`{e}`: {}", rule.reason),
    )
    .at(location(clause, e))
    .with_suggestion(help)
}
