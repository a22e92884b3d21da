//! JSON parameters → DataFusion scalars (protocol 1.2).

use datafusion::common::ScalarValue;

/// Most parameters one statement may carry.
pub(crate) const MAX_PARAMS: usize = 50;
/// Largest parameter, in bytes.
pub(crate) const MAX_PARAM_BYTES: usize = 512 * 1024;

/// Converts the request's `params`. Arrays and objects are refused with the server's text.
pub(crate) fn convert(params: &[serde_json::Value]) -> Result<Vec<ScalarValue>, String> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(match p {
                serde_json::Value::Null => ScalarValue::Utf8(None),
                serde_json::Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(v) => ScalarValue::Int64(Some(v)),
                    None => ScalarValue::Float64(n.as_f64()),
                },
                serde_json::Value::String(s) => ScalarValue::Utf8(Some(s.clone())),
                serde_json::Value::Array(_) => {
                    return Err(format!(
                        "Parameter ${} invalid: Array parameters not yet supported",
                        i + 1
                    ));
                }
                serde_json::Value::Object(_) => {
                    return Err(format!(
                        "Parameter ${} invalid: Object parameters not yet supported",
                        i + 1
                    ));
                }
            })
        })
        .collect()
}

/// The execution-time limits on parameters (count, size).
pub(crate) fn check_limits(params: &[ScalarValue]) -> Result<(), String> {
    if params.len() > MAX_PARAMS {
        return Err(format!(
            "Parameter count exceeded: maximum {MAX_PARAMS} parameters allowed, got {}",
            params.len()
        ));
    }
    for (i, p) in params.iter().enumerate() {
        let size = match p {
            ScalarValue::Utf8(Some(s)) => s.len() + 24,
            _ => 8,
        };
        if size > MAX_PARAM_BYTES {
            return Err(format!(
                "Parameter size exceeded: parameter at index {i} is {size} bytes (max {MAX_PARAM_BYTES} bytes)"
            ));
        }
    }
    Ok(())
}
