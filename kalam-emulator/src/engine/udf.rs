//! The server's SQL functions: `SNOWFLAKE_ID()`, `UUID_V7()`, `ULID()`, `KDB_CURRENT_USER()`,
//! `KDB_CURRENT_ROLE()` (protocol 7.1, 7.6).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::store::seq::SeqGen;
use crate::store::value::format_uuid;

/// Which function a [`KalamFn`] computes.
#[derive(Debug, Clone)]
enum Kind {
    Snowflake(Arc<SeqGen>),
    UuidV7,
    Ulid,
    Constant(String),
}

/// A nullary server function.
#[derive(Debug)]
pub(crate) struct KalamFn {
    name: &'static str,
    kind: Kind,
    signature: Signature,
}

impl PartialEq for KalamFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KalamFn {}

impl Hash for KalamFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl KalamFn {
    fn udf(name: &'static str, kind: Kind, volatility: Volatility) -> ScalarUDF {
        ScalarUDF::new_from_impl(KalamFn {
            name,
            kind,
            signature: Signature::nullary(volatility),
        })
    }
}

impl ScalarUDFImpl for KalamFn {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Snowflake(_) => DataType::Int64,
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows.max(1);
        let arr: ArrayRef = match &self.kind {
            Kind::Snowflake(g) => Arc::new(Int64Array::from_iter_values((0..n).map(|_| g.next()))),
            Kind::UuidV7 => Arc::new(StringArray::from_iter_values((0..n).map(|_| uuid_v7()))),
            Kind::Ulid => Arc::new(StringArray::from_iter_values((0..n).map(|_| ulid()))),
            Kind::Constant(s) => {
                Arc::new(StringArray::from_iter_values((0..n).map(|_| s.as_str())))
            }
        };
        Ok(ColumnarValue::Array(arr))
    }
}

/// The functions a session needs, bound to the effective user and role.
pub(crate) fn functions(seq: Arc<SeqGen>, user: &str, role: &str) -> Vec<ScalarUDF> {
    vec![
        KalamFn::udf("snowflake_id", Kind::Snowflake(seq), Volatility::Volatile),
        KalamFn::udf("uuid_v7", Kind::UuidV7, Volatility::Volatile),
        KalamFn::udf("ulid", Kind::Ulid, Volatility::Volatile),
        KalamFn::udf(
            "kdb_current_user",
            Kind::Constant(user.to_owned()),
            Volatility::Stable,
        ),
        KalamFn::udf(
            "kdb_current_role",
            Kind::Constant(role.to_owned()),
            Volatility::Stable,
        ),
    ]
}

/// A version-7 UUID (time-ordered), canonical text.
pub(crate) fn uuid_v7() -> String {
    let ms = crate::time::now_ms() as u128 & ((1u128 << 48) - 1);
    let rand: u128 = rand::random();
    let mut v = (ms << 80) | (rand & ((1u128 << 80) - 1));
    v = (v & !(0xF_u128 << 76)) | (0x7_u128 << 76);
    v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
    format_uuid(v)
}

/// A ULID: 48-bit millisecond time + 80 random bits, Crockford base32 (26 characters).
pub(crate) fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = crate::time::now_ms() as u128 & ((1u128 << 48) - 1);
    let rand: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    let v = (ms << 80) | rand;
    (0..26)
        .rev()
        .map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_shapes() {
        let u = uuid_v7();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "7");
        assert_eq!(ulid().len(), 26);
    }
}
