//! Exact-mode compiling of function calls.

use sqlparser::ast::Expr;

use super::Datum;
use super::compile::Compiler;
use super::exact::{Ty, Typed, comparable};
use super::node::{Func, Node, Side};
use crate::error::{ErrorKind, SchemaError};

impl Compiler<'_> {
    /// A call with fixed argument types (the last ones optional when `params` is longer than
    /// the arguments given, down to one).
    pub(super) fn typed_call(
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

    pub(super) fn call(
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
}
