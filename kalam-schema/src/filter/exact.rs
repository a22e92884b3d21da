//! Exact-mode compiling: every expression typed as the server's SELECT types it (string
//! literals read as DATE, TIMESTAMP, TIME or DECIMAL next to such a column), and whatever the
//! client cannot evaluate exactly refused.

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, TrimWhereField, UnaryOperator, Value,
};

use super::Datum;
use super::compile::Compiler;
use super::node::{ArithOp, CmpOp, Func, Like, Node, Side};
use crate::datum::{parse_date, parse_datetime, parse_decimal, parse_time};
use crate::error::{ErrorKind, SchemaError};
use crate::types::SqlType;

/// The static type of an exact-mode expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
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
    pub(super) fn of(t: SqlType) -> Ty {
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

    pub(super) fn name(self) -> &'static str {
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

    pub(super) fn unknown(self) -> bool {
        matches!(self, Ty::Null | Ty::Param)
    }

    pub(super) fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Decimal)
    }

    pub(super) fn fits(self, want: Ty) -> bool {
        self == want || self.unknown()
    }
}

/// Whether values of the two types compare (after literal coercion).
pub(super) fn comparable(a: Ty, b: Ty) -> bool {
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
pub(super) struct Typed {
    pub(super) node: Node,
    pub(super) ty: Ty,
    pub(super) text: Option<String>,
}

impl Typed {
    pub(super) fn new(node: Node, ty: Ty) -> Typed {
        Typed {
            node,
            ty,
            text: None,
        }
    }

    pub(super) fn boxed(self) -> Box<Node> {
        Box::new(self.node)
    }
}

impl Compiler<'_> {
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
    pub(super) fn coerce(&self, t: Typed, target: Ty, e: &Expr) -> Result<Typed, SchemaError> {
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
    pub(super) fn pair(
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

    pub(super) fn condition(&mut self, e: &Expr, depth: usize) -> Result<Box<Node>, SchemaError> {
        let t = self.exact(e, depth)?;
        if !t.ty.fits(Ty::Bool) {
            return Err(self.mismatch(format!("`{e}` is {}, not BOOLEAN", t.ty.name()), e));
        }
        Ok(t.boxed())
    }

    pub(super) fn exact(&mut self, e: &Expr, depth: usize) -> Result<Typed, SchemaError> {
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
}
