//! Evaluating compiled [`Node`]s on a row: SQL's three-valued semantics (exact mode), or the
//! server's live filter (server mode).

use std::borrow::Cow;

use super::compile::{ArithOp, CmpOp, Func, Like, Node, Side};
use super::like::like_match;
use super::server::{Scalar, server_equal};
use super::{Datum, FilterRow};

type Value<'a> = Datum<'a>;

/// SQL truth of a value: `Some(bool)` for booleans, `None` for NULL.
fn truth(v: &Value<'_>) -> Option<bool> {
    match v {
        Datum::Bool(b) => Some(*b),
        _ => None,
    }
}

fn bool_or_null(b: Option<bool>) -> Value<'static> {
    b.map_or(Datum::Null, Datum::Bool)
}

/// Evaluates an exact-mode expression.
pub(crate) fn eval<'a, R: FilterRow + ?Sized>(
    n: &'a Node,
    row: &'a R,
) -> Result<Value<'a>, R::Error> {
    Ok(match n {
        Node::Column(i) => row.value(*i)?,
        Node::Const(d) => d.borrowed(),
        Node::Not(x) => bool_or_null(truth(&eval(x, row)?).map(|b| !b)),
        Node::And(a, b) | Node::Or(a, b) => {
            // AND stops at the first FALSE, OR at the first TRUE; otherwise NULL wins.
            let decisive = matches!(n, Node::Or(..));
            let l = truth(&eval(a, row)?);
            if l == Some(decisive) {
                return Ok(Datum::Bool(decisive));
            }
            match (l, truth(&eval(b, row)?)) {
                (_, Some(r)) if r == decisive => Datum::Bool(decisive),
                (Some(_), Some(_)) => Datum::Bool(!decisive),
                _ => Datum::Null,
            }
        }
        Node::Cmp(op, a, b) => compare(*op, &eval(a, row)?, &eval(b, row)?),
        Node::Like(like) => sql_like(like, row)?,
        Node::In {
            expr,
            list,
            negated,
        } => {
            let x = eval(expr, row)?;
            let mut result = Some(false);
            if x.is_null() {
                result = None;
            } else {
                for item in list {
                    match truth(&compare(CmpOp::Eq, &x, &eval(item, row)?)) {
                        Some(true) => {
                            result = Some(true);
                            break;
                        }
                        Some(false) => {}
                        None => result = None,
                    }
                }
            }
            bool_or_null(result.map(|b| b != *negated))
        }
        Node::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let x = eval(expr, row)?;
            let above = truth(&compare(CmpOp::GtEq, &x, &eval(low, row)?));
            let below = truth(&compare(CmpOp::LtEq, &x, &eval(high, row)?));
            let within = match (above, below) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            bool_or_null(within.map(|b| b != *negated))
        }
        Node::IsNull(x, not) => Datum::Bool(eval(x, row)?.is_null() != *not),
        Node::IsBool {
            expr,
            value,
            negated,
        } => {
            let t = truth(&eval(expr, row)?);
            Datum::Bool((t == *value) != *negated)
        }
        Node::Distinct(a, b, not) => {
            let (l, r) = (eval(a, row)?, eval(b, row)?);
            let distinct = match (l.is_null(), r.is_null()) {
                (true, true) => false,
                (true, false) | (false, true) => true,
                (false, false) => l.sql_cmp(&r) != Some(std::cmp::Ordering::Equal),
            };
            Datum::Bool(distinct != *not)
        }
        Node::Neg(x) => match eval(x, row)? {
            Datum::Int(v) => Datum::Int(v.wrapping_neg()),
            Datum::Float(v) => Datum::Float(-v),
            Datum::Decimal(m, s) => Datum::Decimal(m.wrapping_neg(), s),
            _ => Datum::Null,
        },
        Node::Arith(op, a, b) => arith(*op, &eval(a, row)?, &eval(b, row)?),
        Node::Concat(a, b) => match (eval(a, row)?, eval(b, row)?) {
            (Datum::Text(l), Datum::Text(r)) => Datum::Text(Cow::Owned(format!("{l}{r}"))),
            _ => Datum::Null,
        },
        Node::Call(f, args) => call(*f, args, row)?,
        Node::Lit(_) | Node::Fail => Datum::Null,
    })
}

fn compare(op: CmpOp, l: &Value<'_>, r: &Value<'_>) -> Value<'static> {
    bool_or_null(l.sql_cmp(r).map(|o| op.holds(o)))
}

fn sql_like<'a, R: FilterRow + ?Sized>(like: &'a Like, row: &'a R) -> Result<Value<'a>, R::Error> {
    let (Datum::Text(s), Datum::Text(p)) = (eval(&like.expr, row)?, eval(&like.pattern, row)?)
    else {
        return Ok(Datum::Null);
    };
    let m = if like.fold {
        like_match(&s.to_lowercase(), &p.to_lowercase(), false)
    } else {
        like_match(&s, &p, false)
    };
    Ok(Datum::Bool(m != like.negated))
}

/// Integer arithmetic wraps (as DataFusion's does); a division by zero is NULL.
fn arith(op: ArithOp, l: &Value<'_>, r: &Value<'_>) -> Value<'static> {
    use Datum as D;
    match (l, r) {
        (D::Int(a), D::Int(b)) => {
            let (a, b) = (*a, *b);
            match op {
                ArithOp::Add => D::Int(a.wrapping_add(b)),
                ArithOp::Sub => D::Int(a.wrapping_sub(b)),
                ArithOp::Mul => D::Int(a.wrapping_mul(b)),
                ArithOp::Div if b == 0 => D::Null,
                ArithOp::Div => D::Int(a.wrapping_div(b)),
                ArithOp::Mod if b == 0 => D::Null,
                ArithOp::Mod => D::Int(a.wrapping_rem(b)),
            }
        }
        (D::Float(_), _) | (_, D::Float(_)) => {
            let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
                return D::Null;
            };
            match op {
                ArithOp::Add => D::Float(a + b),
                ArithOp::Sub => D::Float(a - b),
                ArithOp::Mul => D::Float(a * b),
                ArithOp::Div if b == 0.0 => D::Null,
                ArithOp::Div => D::Float(a / b),
                ArithOp::Mod if b == 0.0 => D::Null,
                ArithOp::Mod => D::Float(a % b),
            }
        }
        _ => {
            let (Some((a, sa)), Some((b, sb))) = (decimal(l), decimal(r)) else {
                return D::Null;
            };
            decimal_arith(op, a, sa, b, sb).map_or(D::Null, |(m, s)| D::Decimal(m, s))
        }
    }
}

fn decimal(v: &Value<'_>) -> Option<(i128, u8)> {
    match v {
        Datum::Int(i) => Some((i128::from(*i), 0)),
        Datum::Decimal(m, s) => Some((*m, *s)),
        _ => None,
    }
}

/// `+`, `-`, `*` on decimals, exactly; `None` on overflow (or for `/`, `%`, refused when
/// compiling).
fn decimal_arith(op: ArithOp, a: i128, sa: u8, b: i128, sb: u8) -> Option<(i128, u8)> {
    let up = |m: i128, from: u8, to: u8| m.checked_mul(10i128.checked_pow(u32::from(to - from))?);
    match op {
        ArithOp::Add | ArithOp::Sub => {
            let s = sa.max(sb);
            let (x, y) = (up(a, sa, s)?, up(b, sb, s)?);
            let m = if op == ArithOp::Add {
                x.checked_add(y)?
            } else {
                x.checked_sub(y)?
            };
            Some((m, s))
        }
        ArithOp::Mul => Some((a.checked_mul(b)?, sa.checked_add(sb)?)),
        ArithOp::Div | ArithOp::Mod => None,
    }
}

fn text<'v>(v: &'v Value<'_>) -> Option<&'v str> {
    match v {
        Datum::Text(t) => Some(t),
        _ => None,
    }
}

fn trim_with<'s>(s: &'s str, chars: &str, side: Side) -> &'s str {
    let set = |c: char| chars.contains(c);
    match side {
        Side::Both => s.trim_matches(set),
        Side::Leading => s.trim_start_matches(set),
        Side::Trailing => s.trim_end_matches(set),
    }
}

/// `n` characters from the start (`right`: the end); a negative `n` drops `|n|` from the
/// other end (PostgreSQL's and DataFusion's LEFT/RIGHT).
fn take_chars(s: &str, n: i64, right: bool) -> String {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) };
    let keep = usize::try_from(keep).unwrap_or(0);
    if right {
        let skip = s.chars().count() - keep;
        s.chars().skip(skip).collect()
    } else {
        s.chars().take(keep).collect()
    }
}

fn int_of_len(n: usize) -> Value<'static> {
    i64::try_from(n).map_or(Datum::Null, Datum::Int)
}

fn call<'a, R: FilterRow + ?Sized>(
    f: Func,
    args: &'a [Node],
    row: &'a R,
) -> Result<Value<'a>, R::Error> {
    let mut values = Vec::with_capacity(args.len());
    if f == Func::Coalesce {
        // The first non-NULL argument; the rest are not evaluated.
        for a in args {
            let v = eval(a, row)?;
            if !v.is_null() {
                return Ok(v);
            }
        }
        return Ok(Datum::Null);
    }
    for a in args {
        values.push(eval(a, row)?);
    }
    if f == Func::Concat {
        let mut out = String::new();
        for v in &values {
            if let Some(t) = text(v) {
                out.push_str(t);
            }
        }
        return Ok(Datum::Text(Cow::Owned(out)));
    }
    if f == Func::NullIf {
        let [a, b] = <[Value<'a>; 2]>::try_from(values).unwrap_or([Datum::Null, Datum::Null]);
        return Ok(if a.sql_cmp(&b) == Some(std::cmp::Ordering::Equal) {
            Datum::Null
        } else {
            a
        });
    }
    if values.iter().any(Datum::is_null) {
        return Ok(Datum::Null);
    }
    let s = values.first().and_then(text).unwrap_or("");
    let arg = |i: usize| values.get(i).and_then(text).unwrap_or("");
    Ok(match f {
        Func::Lower => Datum::Text(Cow::Owned(s.to_lowercase())),
        Func::Upper => Datum::Text(Cow::Owned(s.to_uppercase())),
        Func::CharLength => int_of_len(s.chars().count()),
        Func::OctetLength => int_of_len(s.len()),
        Func::Trim(side) => {
            let chars = if values.len() > 1 { arg(1) } else { " " };
            Datum::Text(Cow::Owned(trim_with(s, chars, side).to_owned()))
        }
        Func::StartsWith => Datum::Bool(s.starts_with(arg(1))),
        Func::EndsWith => Datum::Bool(s.ends_with(arg(1))),
        Func::Replace if arg(1).is_empty() => Datum::Text(Cow::Owned(s.to_owned())),
        Func::Replace => Datum::Text(Cow::Owned(s.replace(arg(1), arg(2)))),
        Func::Left | Func::Right => match values.get(1) {
            Some(Datum::Int(n)) => Datum::Text(Cow::Owned(take_chars(s, *n, f == Func::Right))),
            _ => Datum::Null,
        },
        Func::Reverse => Datum::Text(Cow::Owned(s.chars().rev().collect())),
        Func::Strpos => match s.find(arg(1)) {
            Some(byte) => int_of_len(s[..byte].chars().count() + 1),
            None => Datum::Int(0),
        },
        Func::Abs => match values.first() {
            Some(Datum::Int(v)) => Datum::Int(v.wrapping_abs()),
            Some(Datum::Float(v)) => Datum::Float(v.abs()),
            Some(Datum::Decimal(m, s)) => Datum::Decimal(m.wrapping_abs(), *s),
            _ => Datum::Null,
        },
        Func::Concat | Func::Coalesce | Func::NullIf => Datum::Null,
    })
}

// ---- server mode ----

/// Why a server-mode evaluation stopped: the server's evaluation failed (the change is
/// dropped), or the row could not be read.
enum Stop<E> {
    Dropped,
    Row(E),
}

/// Whether the server's live filter delivers a change whose new row is `row`.
pub(crate) fn server_matches<R: FilterRow + ?Sized>(
    root: &Node,
    row: &R,
) -> Result<bool, R::Error> {
    match server_cond(root, row) {
        Ok(b) => Ok(b),
        Err(Stop::Dropped) => Ok(false),
        Err(Stop::Row(e)) => Err(e),
    }
}

fn server_cond<R: FilterRow + ?Sized>(n: &Node, row: &R) -> Result<bool, Stop<R::Error>> {
    match n {
        Node::Not(x) => Ok(!server_cond(x, row)?),
        Node::And(a, b) => Ok(server_cond(a, row)? && server_cond(b, row)?),
        Node::Or(a, b) => Ok(server_cond(a, row)? || server_cond(b, row)?),
        Node::Cmp(op, a, b) if op.is_equality() => {
            let equal = server_equal(&server_value(a, row)?, &server_value(b, row)?);
            Ok(equal == (*op == CmpOp::Eq))
        }
        Node::Cmp(op, a, b) => {
            let l = server_value(a, row)?.as_f64().ok_or(Stop::Dropped)?;
            let r = server_value(b, row)?.as_f64().ok_or(Stop::Dropped)?;
            Ok(match op {
                CmpOp::Lt => l < r,
                CmpOp::Gt => l > r,
                CmpOp::LtEq => l <= r,
                _ => l >= r,
            })
        }
        Node::Like(like) => {
            let Scalar::Str(p) = server_value(&like.pattern, row)? else {
                return Err(Stop::Dropped);
            };
            let m = match server_value(&like.expr, row)? {
                Scalar::Str(s) if like.fold => {
                    like_match(&s.to_lowercase(), &p.to_lowercase(), true)
                }
                Scalar::Str(s) => like_match(&s, &p, true),
                Scalar::NullCell => false,
                _ => return Err(Stop::Dropped),
            };
            Ok(m != like.negated)
        }
        _ => Err(Stop::Dropped),
    }
}

fn server_value<'a, R: FilterRow + ?Sized>(
    n: &'a Node,
    row: &'a R,
) -> Result<Scalar<'a>, Stop<R::Error>> {
    match n {
        Node::Column(i) => Ok(Scalar::of(row.value(*i).map_err(Stop::Row)?)),
        Node::Lit(s) => Ok(s.borrowed()),
        _ => Err(Stop::Dropped),
    }
}
