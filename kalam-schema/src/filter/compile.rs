//! WHERE → [`Node`]s. Exact mode types every expression as the server's SELECT does and
//! refuses what it cannot evaluate; server mode reads the expression as the server's live
//! filter does, and compiles every form [`SERVER_RULES`](super::SERVER_RULES) marks as dropped
//! into [`Node::Fail`].

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
};

use super::exact::Ty;
use super::node::{CmpOp, Like, Node};
use super::scalar::Scalar;
use super::server::{self, FilterForm, ServerEvaluation};
use super::{Filter, FilterColumn, FilterMode, WhereClause, location};
use crate::error::{ErrorKind, SchemaError};

/// How deep the server's evaluator follows conditions before it gives up (and drops).
const SERVER_MAX_DEPTH: usize = 64;

/// What compiling may use beyond the columns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Extras<'a> {
    /// The value of `CURRENT_USER()`.
    pub(crate) user: Option<&'a str>,
    /// Accept `$n` (a literal of the type its context gives), for checking only.
    pub(crate) params: bool,
}

/// Compiles one WHERE (exact mode: `exact.rs` and `func.rs`; server mode: here).
pub(super) struct Compiler<'a> {
    pub(super) clause: &'a WhereClause,
    pub(super) columns: &'a [FilterColumn],
    pub(super) extras: Extras<'a>,
    /// The columns read, in the order first read: the filter's columns.
    pub(super) used: Vec<FilterColumn>,
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
    pub(super) fn error(&self, kind: ErrorKind, message: String, e: &Expr) -> SchemaError {
        SchemaError::new(kind, message).at(location(self.clause, e))
    }

    pub(super) fn mismatch(&self, message: String, e: &Expr) -> SchemaError {
        self.error(ErrorKind::TypeMismatch, message, e)
    }

    pub(super) fn unsupported(&self, what: impl std::fmt::Display, e: &Expr) -> SchemaError {
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
    pub(super) fn slot(&mut self, index: usize) -> usize {
        let column = &self.columns[index];
        match self.used.iter().position(|c| c.name == column.name) {
            Some(i) => i,
            None => {
                self.used.push(column.clone());
                self.used.len() - 1
            }
        }
    }

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
