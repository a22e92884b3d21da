//! HS256 JSON Web Tokens with the server's claims (protocol 2.6).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The claims the server puts in access and refresh tokens, in its order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    pub(crate) iss: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) email: Option<String>,
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Not three base64 JSON parts.
    Malformed,
    /// Signature does not match (checked before expiry).
    BadSignature,
    /// Validly signed but past `exp` + leeway.
    Expired,
}

const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

fn mac(secret: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Signs `claims` with `secret`.
pub(crate) fn sign(secret: &[u8], claims: &Claims) -> String {
    let body = serde_json::to_string(claims).unwrap_or_default();
    let signing = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(body)
    );
    let sig = URL_SAFE_NO_PAD.encode(mac(secret, &signing));
    format!("{signing}.{sig}")
}

/// Verifies a token: structure, HS256 signature, then expiry with `leeway_secs`.
pub(crate) fn verify(secret: &[u8], token: &str, leeway_secs: i64) -> Result<Claims, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err(JwtError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| JwtError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(JwtError::BadSignature);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::BadSignature)?;
    let expected = mac(secret, &format!("{h}.{c}"));
    if sig.len() != expected.len() || sig.iter().zip(&expected).any(|(a, b)| a != b) {
        return Err(JwtError::BadSignature);
    }
    let body = URL_SAFE_NO_PAD.decode(c).map_err(|_| JwtError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| JwtError::Malformed)?;
    if claims.exp + leeway_secs < crate::time::now_secs() {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "alice".into(),
            iss: "kalamdb".into(),
            exp,
            iat: 0,
            email: None,
            role: "user".into(),
            token_type: Some("access".into()),
        }
    }

    #[test]
    fn round_trip_and_ordering_of_checks() {
        let now = crate::time::now_secs();
        let t = sign(b"k", &claims(now + 100));
        assert_eq!(verify(b"k", &t, 60).unwrap().sub, "alice");
        let old = sign(b"k", &claims(now - 1000));
        assert_eq!(verify(b"k", &old, 60), Err(JwtError::Expired));
        assert_eq!(verify(b"other", &old, 60), Err(JwtError::BadSignature));
        assert_eq!(verify(b"k", "garbage", 60), Err(JwtError::Malformed));
    }
}
