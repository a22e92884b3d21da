//! The server-mode check: does the server's live filter deliver a WHERE faithfully?

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator};

use super::compile::column_names;
use super::server::{self, ServerEvaluation};
use super::{FilterColumn, WhereClause, location};
use crate::error::{ErrorKind, SchemaError};

/// The help of server-mode errors: it names the mode that evaluates every filter.
pub const EXACT_MODE_HELP: &str =
    "use exact mode (`FilterMode::Exact`, the default), which evaluates the filter on the client";

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
