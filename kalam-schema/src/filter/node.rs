//! The compiled form of a WHERE: [`Node`]s and their operators.

use std::cmp::Ordering;

use sqlparser::ast::BinaryOperator;

use super::Datum;
use super::scalar::Scalar;

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
    pub(super) fn of(op: &BinaryOperator) -> Option<CmpOp> {
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
