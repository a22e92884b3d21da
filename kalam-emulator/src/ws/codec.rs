//! Frame encoding (protocol 3.3): JSON text, gzip binary frames for payloads of 512 bytes and
//! more, and MessagePack (a small codec for `serde_json::Value`, both directions).

use std::io::{Read, Write};

use axum::extract::ws::Message;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Map, Number, Value};

/// Payloads at least this long are gzip-compressed (when that makes them smaller).
pub(crate) const GZIP_THRESHOLD: usize = 512;

/// Largest inflated client frame accepted (the SDK's own limit).
const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Gzip (fast level) of `data`.
fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 2), Compression::fast());
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

/// Inflates a gzip payload.
pub(crate) fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    GzDecoder::new(data)
        .take(MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    Ok(out)
}

/// A JSON frame: text, or gzip binary when the text is ≥ 512 bytes, compression is on and gzip
/// is smaller.
pub(crate) fn json_frame(v: &Value, compress: bool) -> Message {
    let text = v.to_string();
    if compress
        && text.len() >= GZIP_THRESHOLD
        && let Some(gz) = gzip(text.as_bytes()).filter(|gz| gz.len() < text.len())
    {
        return Message::Binary(gz.into());
    }
    Message::Text(text.into())
}

/// A MessagePack frame: always binary, gzip-wrapped under the same rule as JSON.
pub(crate) fn msgpack_frame(v: &Value, compress: bool) -> Message {
    let mut bytes = Vec::new();
    encode_msgpack(v, &mut bytes);
    if compress
        && bytes.len() >= GZIP_THRESHOLD
        && let Some(gz) = gzip(&bytes).filter(|gz| gz.len() < bytes.len())
    {
        return Message::Binary(gz.into());
    }
    Message::Binary(bytes.into())
}

fn put_len(out: &mut Vec<u8>, len: usize, fix: Option<(u8, usize)>, tags: [u8; 3]) {
    match fix {
        Some((base, max)) if len <= max => out.push(base | len as u8),
        _ if tags[0] != 0 && len <= 0xff => {
            out.push(tags[0]);
            out.push(len as u8);
        }
        _ if len <= 0xffff => {
            out.push(tags[1]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(tags[2]);
            out.extend_from_slice(&(u32::try_from(len).unwrap_or(u32::MAX)).to_be_bytes());
        }
    }
}

fn encode_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        if u < 0x80 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if let Some(i) = n.as_i64() {
        if i >= -32 {
            out.push(i as i8 as u8);
        } else if i >= i64::from(i8::MIN) {
            out.extend_from_slice(&[0xd0, i as i8 as u8]);
        } else if i >= i64::from(i16::MIN) {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i >= i64::from(i32::MIN) {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
    }
}

/// Appends the MessagePack encoding of `v` (maps with string keys, compact integer forms).
pub(crate) fn encode_msgpack(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => encode_number(n, out),
        Value::String(s) => {
            put_len(out, s.len(), Some((0xa0, 31)), [0xd9, 0xda, 0xdb]);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            put_len(out, a.len(), Some((0x90, 15)), [0, 0xdc, 0xdd]);
            for x in a {
                encode_msgpack(x, out);
            }
        }
        Value::Object(m) => {
            put_len(out, m.len(), Some((0x80, 15)), [0, 0xde, 0xdf]);
            for (k, x) in m {
                put_len(out, k.len(), Some((0xa0, 31)), [0xd9, 0xda, 0xdb]);
                out.extend_from_slice(k.as_bytes());
                encode_msgpack(x, out);
            }
        }
    }
}

/// Decodes one MessagePack value (the whole input). Binary strings become arrays of numbers.
pub(crate) fn decode_msgpack(data: &[u8]) -> Result<Value, String> {
    let mut d = Decoder { data, pos: 0 };
    let v = d.value(0)?;
    if d.pos != data.len() {
        return Err("trailing bytes after MessagePack value".into());
    }
    Ok(v)
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len());
        let end = end.ok_or_else(|| "truncated MessagePack value".to_owned())?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn sint(&mut self, n: usize) -> Result<i64, String> {
        let u = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((u << shift) as i64) >> shift)
    }

    fn str(&mut self, n: usize) -> Result<Value, String> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec())
            .map(Value::String)
            .map_err(|_| "invalid UTF-8 in MessagePack string".to_owned())
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, String> {
        let mut a = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            a.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(a))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, String> {
        let mut m = Map::new();
        for _ in 0..n {
            let k = match self.value(depth + 1)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let v = self.value(depth + 1)?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > 128 {
            return Err("MessagePack value nested too deeply".into());
        }
        let tag = self.take(1)?[0];
        let len = |d: &mut Self, n: usize| d.uint(n).map(|v| v as usize);
        Ok(match tag {
            0x00..=0x7f => Value::from(tag),
            0x80..=0x8f => return self.map(usize::from(tag & 0x0f), depth),
            0x90..=0x9f => return self.array(usize::from(tag & 0x0f), depth),
            0xa0..=0xbf => return self.str(usize::from(tag & 0x1f)),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = len(self, 1 << (tag - 0xc4))?;
                Value::Array(self.take(n)?.iter().map(|b| Value::from(*b)).collect())
            }
            0xca => {
                let b = self.take(4)?;
                let f = f32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
            }
            0xcb => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Number::from_f64(f64::from_be_bytes(a)).map_or(Value::Null, Value::Number)
            }
            0xcc..=0xcf => Value::from(self.uint(1 << (tag - 0xcc))?),
            0xd0..=0xd3 => Value::from(self.sint(1 << (tag - 0xd0))?),
            0xd9..=0xdb => {
                let n = len(self, 1 << (tag - 0xd9))?;
                return self.str(n);
            }
            0xdc | 0xdd => {
                let n = len(self, if tag == 0xdc { 2 } else { 4 })?;
                return self.array(n, depth);
            }
            0xde | 0xdf => {
                let n = len(self, if tag == 0xde { 2 } else { 4 })?;
                return self.map(n, depth);
            }
            0xe0..=0xff => Value::from(i64::from(tag as i8)),
            other => return Err(format!("unsupported MessagePack type 0x{other:02x}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn msgpack_round_trip() {
        let v = json!({
            "type": "change", "n": [0, 127, 128, 255, 256, 65535, 65536, 4294967296u64,
                 -1, -32, -33, -128, -129, -32768, -32769, -2147483649i64],
            "f": 2.5, "b": true, "z": null, "_seq": "384961449138425856",
            "last_seq_id": 384961449138425856i64,
            "long": "x".repeat(300), "many": (0..20).collect::<Vec<i32>>(),
        });
        let mut out = Vec::new();
        encode_msgpack(&v, &mut out);
        assert_eq!(decode_msgpack(&out).unwrap(), v);
        assert!(decode_msgpack(&out[..out.len() - 1]).is_err());
    }

    #[test]
    fn gzip_only_when_large_and_smaller() {
        let small = json!({"a": 1});
        assert!(matches!(json_frame(&small, true), Message::Text(_)));
        let big = json!({"rows": vec!["same text"; 100]});
        match json_frame(&big, true) {
            Message::Binary(b) => {
                assert_eq!(&b[..2], &[0x1f, 0x8b]);
                let back: Value = serde_json::from_slice(&gunzip(&b).unwrap()).unwrap();
                assert_eq!(back, big);
            }
            other => panic!("expected gzip, got {other:?}"),
        }
        assert!(matches!(json_frame(&big, false), Message::Text(_)));
    }
}
