//! The engine's function catalog: which scalar and aggregate functions KalamDB plans, for which
//! argument types, with which result type and nullability. The table (`functions.tsv`) is
//! generated from the engine itself (DataFusion 53.1 configured as the server configures it;
//! see the file's header) and read once, on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::dtype::DType;

/// The generated table.
const TABLE: &str = include_str!("functions.tsv");

/// An argument or result type of the table, as a bit in a position mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tok {
    Null,
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    /// A string literal (functions that need a constant, `date_part('year', …)`).
    Lit,
    Bytes,
    Uuid,
    Dec,
    Ts,
    Tstz,
    Date,
    Time,
    Ival,
    List,
}

impl Tok {
    fn parse(s: &str) -> Option<Tok> {
        Some(match s {
            "null" => Tok::Null,
            "bool" => Tok::Bool,
            "i16" => Tok::I16,
            "i32" => Tok::I32,
            "i64" => Tok::I64,
            "f32" => Tok::F32,
            "f64" => Tok::F64,
            "text" => Tok::Text,
            "lit" => Tok::Lit,
            "bytes" => Tok::Bytes,
            "uuid" => Tok::Uuid,
            "dec" => Tok::Dec,
            "ts" => Tok::Ts,
            "tstz" => Tok::Tstz,
            "date" => Tok::Date,
            "time" => Tok::Time,
            "ival" => Tok::Ival,
            "list" => Tok::List,
            _ => return None,
        })
    }

    fn sql_name(self) -> &'static str {
        match self {
            Tok::Null => "NULL",
            Tok::Bool => "BOOLEAN",
            Tok::I16 => "SMALLINT",
            Tok::I32 => "INT",
            Tok::I64 => "BIGINT",
            Tok::F32 => "FLOAT",
            Tok::F64 => "DOUBLE",
            Tok::Text => "TEXT",
            Tok::Lit => "a string literal",
            Tok::Bytes => "BYTES",
            Tok::Uuid => "UUID",
            Tok::Dec => "DECIMAL",
            Tok::Ts => "TIMESTAMP",
            Tok::Tstz => "DATETIME",
            Tok::Date => "DATE",
            Tok::Time => "TIME",
            Tok::Ival => "INTERVAL",
            Tok::List => "an array",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }

    /// The token of an argument's type (`None`: no function takes it).
    fn of(dt: DType) -> Option<Tok> {
        Some(match dt {
            DType::Null => Tok::Null,
            DType::Boolean => Tok::Bool,
            DType::Int16 => Tok::I16,
            DType::Int32 => Tok::I32,
            DType::Int64 => Tok::I64,
            DType::Float32 => Tok::F32,
            DType::Float64 => Tok::F64,
            DType::Utf8 => Tok::Text,
            DType::Binary => Tok::Bytes,
            DType::Uuid => Tok::Uuid,
            DType::Decimal(..) => Tok::Dec,
            DType::Timestamp { tz: false } => Tok::Ts,
            DType::Timestamp { tz: true } => Tok::Tstz,
            DType::Date => Tok::Date,
            DType::Time => Tok::Time,
            DType::Interval => Tok::Ival,
            DType::List => Tok::List,
            DType::Embedding(_) => return None,
        })
    }

    fn dtype(self) -> DType {
        match self {
            Tok::Null => DType::Null,
            Tok::Bool => DType::Boolean,
            Tok::I16 => DType::Int16,
            Tok::I32 => DType::Int32,
            Tok::I64 => DType::Int64,
            Tok::F32 => DType::Float32,
            Tok::F64 => DType::Float64,
            Tok::Text | Tok::Lit => DType::Utf8,
            Tok::Bytes => DType::Binary,
            Tok::Uuid => DType::Uuid,
            Tok::Dec => DType::Decimal(10, 2),
            Tok::Ts => DType::Timestamp { tz: false },
            Tok::Tstz => DType::Timestamp { tz: true },
            Tok::Date => DType::Date,
            Tok::Time => DType::Time,
            Tok::Ival => DType::Interval,
            Tok::List => DType::List,
        }
    }
}

/// A function's result type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ret {
    Type(Tok),
    /// A decimal whose precision and scale are the first decimal argument's, shifted.
    DecShift(i8, i8),
    Dec(u8, u8),
    /// A type the server cannot send (protocol 1.8): it closes the connection.
    Drop,
}

/// When the result is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nulls {
    Always,
    Never,
    /// When every argument may be null.
    All,
    /// When one of these arguments (bit mask of positions) may be null.
    Any(u8),
}

/// One accepted family of argument types.
#[derive(Debug)]
struct Sig {
    /// A mask of accepted tokens per position.
    args: Vec<u32>,
    ret: Ret,
    nulls: Nulls,
}

/// A function of the catalog.
#[derive(Debug)]
pub(crate) struct Function {
    /// The name DataFusion shows (`character_length` for `char_length`).
    pub(crate) name: &'static str,
    pub(crate) aggregate: bool,
    variadic: bool,
    sigs: Vec<Sig>,
}

/// An argument as the catalog sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arg {
    pub(crate) dt: DType,
    pub(crate) nullable: bool,
    /// A string literal.
    pub(crate) literal: bool,
}

/// What a call resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    Value {
        dt: DType,
        nullable: bool,
    },
    /// Planned, but the server cannot send the result (it closes the connection).
    Unsendable,
}

struct Catalog {
    functions: Vec<Function>,
    by_name: HashMap<&'static str, usize>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| parse(TABLE))
}

fn parse(text: &'static str) -> Catalog {
    let mut functions: Vec<Function> = Vec::new();
    let mut by_name = HashMap::new();
    for line in text.lines() {
        let mut cols = line.split('\t');
        match cols.next() {
            Some("f") => {
                let name = cols.next().unwrap_or_default();
                let aggregate = cols.next() == Some("aggregate");
                let variadic = cols.next() == Some("1");
                let i = functions.len();
                by_name.insert(name, i);
                for alias in cols.next().unwrap_or_default().split(',') {
                    if !alias.is_empty() {
                        by_name.insert(alias, i);
                    }
                }
                functions.push(Function {
                    name,
                    aggregate,
                    variadic,
                    sigs: Vec::new(),
                });
            }
            Some("s") => {
                let (Some(args), Some(ret), Some(nulls), Some(f)) =
                    (cols.next(), cols.next(), cols.next(), functions.last_mut())
                else {
                    continue;
                };
                let args = if args == "-" {
                    Vec::new()
                } else {
                    args.split(',')
                        .map(|p| {
                            p.split('|')
                                .filter_map(Tok::parse)
                                .fold(0, |m, t| m | t.bit())
                        })
                        .collect()
                };
                f.sigs.push(Sig {
                    args,
                    ret: parse_ret(ret),
                    nulls: match nulls {
                        "y" => Nulls::Always,
                        "n" => Nulls::Never,
                        "a" => Nulls::All,
                        digits => Nulls::Any(
                            digits
                                .bytes()
                                .filter(u8::is_ascii_digit)
                                .fold(0, |m, d| m | (1 << (d - b'0'))),
                        ),
                    },
                });
            }
            _ => {}
        }
    }
    Catalog { functions, by_name }
}

fn parse_ret(s: &str) -> Ret {
    if let Some(rest) = s.strip_prefix("dec:") {
        let mut it = rest.split(':').map(|x| x.parse::<u8>().unwrap_or(0));
        return Ret::Dec(it.next().unwrap_or(38), it.next().unwrap_or(0));
    }
    if let Some(rest) = s.strip_prefix("dec") {
        // `+A+B` / `+A-B`
        let split = rest[1..].find(['+', '-']).map_or(rest.len(), |i| i + 1);
        let p = rest[..split].parse().unwrap_or(0);
        let sc = rest[split..].parse().unwrap_or(0);
        return Ret::DecShift(p, sc);
    }
    match Tok::parse(s) {
        Some(t) => Ret::Type(t),
        None => Ret::Drop,
    }
}

/// The function called `name` (lower case; aliases included).
pub(crate) fn lookup(name: &str) -> Option<&'static Function> {
    let c = catalog();
    c.by_name.get(name).map(|&i| &c.functions[i])
}

/// Every name the catalog knows (for did-you-mean suggestions).
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    catalog().by_name.keys().copied()
}

impl Function {
    fn sig(&self, args: &[Arg]) -> Option<&Sig> {
        let bits = |a: &Arg| Tok::of(a.dt).map_or(0, |t| t.bit() | lit_bit(a));
        self.sigs.iter().find(|s| {
            s.args.len() == args.len() && s.args.iter().zip(args).all(|(m, a)| m & bits(a) != 0)
        })
    }

    /// The result of calling this function with `args`, or `None` when the engine refuses
    /// these argument types. Calls with more than three arguments (variadic functions only)
    /// are checked three at a time: the first two arguments with each further one.
    pub(crate) fn resolve(&self, args: &[Arg]) -> Option<Resolved> {
        if args.len() <= 3 {
            let sig = self.sig(args)?;
            return Some(apply(sig, args));
        }
        if !self.variadic {
            return None;
        }
        let mut out: Option<Resolved> = None;
        for k in 2..args.len() {
            let triple = [args[0], args[1], args[k]];
            let r = apply(self.sig(&triple)?, &triple);
            out = Some(match (out, r) {
                (None, r) => r,
                (Some(Resolved::Unsendable), _) | (_, Resolved::Unsendable) => Resolved::Unsendable,
                (
                    Some(Resolved::Value {
                        dt: a,
                        nullable: na,
                    }),
                    Resolved::Value {
                        dt: b,
                        nullable: nb,
                    },
                ) => Resolved::Value {
                    dt: crate::dtype::common(a, b).unwrap_or(a),
                    nullable: na || nb,
                },
            });
        }
        out
    }

    /// When the call fails only because of argument `i`: the SQL names of the types the
    /// function takes there (with the other arguments as they are).
    pub(crate) fn expected_at(&self, args: &[Arg], i: usize) -> Vec<&'static str> {
        let mut mask = 0u32;
        for s in self.sigs.iter().filter(|s| s.args.len() == args.len()) {
            let others_fit = args.iter().enumerate().all(|(k, a)| {
                k == i || Tok::of(a.dt).is_some_and(|t| s.args[k] & (t.bit() | lit_bit(a)) != 0)
            });
            if others_fit {
                mask |= s.args[i];
            }
        }
        ALL.iter()
            .filter(|t| mask & t.bit() != 0 && **t != Tok::Null)
            .map(|t| t.sql_name())
            .collect()
    }

    /// Whether some signature takes exactly `n` arguments (or more, for variadic functions).
    pub(crate) fn takes(&self, n: usize) -> bool {
        self.sigs
            .iter()
            .any(|s| s.args.len() == n || (self.variadic && n > 3 && s.args.len() == 3))
    }
}

fn lit_bit(a: &Arg) -> u32 {
    if a.literal { Tok::Lit.bit() } else { 0 }
}

const ALL: [Tok; 18] = [
    Tok::Bool,
    Tok::I16,
    Tok::I32,
    Tok::I64,
    Tok::F32,
    Tok::F64,
    Tok::Dec,
    Tok::Text,
    Tok::Lit,
    Tok::Bytes,
    Tok::Uuid,
    Tok::Ts,
    Tok::Tstz,
    Tok::Date,
    Tok::Time,
    Tok::Ival,
    Tok::List,
    Tok::Null,
];

fn apply(sig: &Sig, args: &[Arg]) -> Resolved {
    let dt = match sig.ret {
        Ret::Drop => return Resolved::Unsendable,
        Ret::Type(t) => t.dtype(),
        Ret::Dec(p, s) => DType::Decimal(p, s),
        Ret::DecShift(dp, ds) => {
            let (p, s) = args
                .iter()
                .find_map(|a| match a.dt {
                    DType::Decimal(p, s) => Some((p, s)),
                    _ => None,
                })
                .unwrap_or((10, 2));
            let p = (i16::from(p) + i16::from(dp)).clamp(1, 38);
            let s = (i16::from(s) + i16::from(ds)).clamp(0, p);
            DType::Decimal(p as u8, s as u8)
        }
    };
    let nullable = match sig.nulls {
        Nulls::Always => true,
        Nulls::Never => false,
        Nulls::All => !args.is_empty() && args.iter().all(|a| a.nullable),
        Nulls::Any(mask) => args
            .iter()
            .enumerate()
            .any(|(i, a)| a.nullable && i < 8 && mask & (1 << i) != 0),
    };
    Resolved::Value { dt, nullable }
}
