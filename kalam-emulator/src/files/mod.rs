//! FILE columns (protocol 6): the in-memory file store, FileRefs, stored names, `FILE("x")`
//! placeholders and a small multipart/form-data parser.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use serde::Serialize;

/// Where a stored file lives: `(namespace, table, owner, sub, stored name)`. The owner is the
/// partition user for USER tables and empty for SHARED tables.
pub(crate) type FileKey = (String, String, String, String, String);

/// One stored file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) data: Bytes,
}

/// Upload limits (`files.max_size_bytes`, `files.max_files_per_request`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileLimits {
    pub(crate) max_size: usize,
    pub(crate) max_files: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_size: 25 * 1024 * 1024,
            max_files: 20,
        }
    }
}

/// Every uploaded file of one emulator.
#[derive(Debug, Default)]
pub(crate) struct FileStore {
    files: Mutex<HashMap<FileKey, StoredFile>>,
    limits: Mutex<FileLimits>,
}

impl FileStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<FileKey, StoredFile>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_limits(&self, limits: FileLimits) {
        *self.limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    pub(crate) fn limits(&self) -> FileLimits {
        *self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn put(&self, key: FileKey, file: StoredFile) {
        self.lock().insert(key, file);
    }

    pub(crate) fn get(&self, key: &FileKey) -> Option<StoredFile> {
        self.lock().get(key).cloned()
    }

    pub(crate) fn remove(&self, key: &FileKey) {
        self.lock().remove(key);
    }
}

/// The FileRef JSON stored in a FILE cell (protocol 6.2), fields in wire order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileRef {
    pub(crate) id: String,
    pub(crate) sub: String,
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) mime: String,
    pub(crate) sha256: String,
}

/// `<id>-<sanitized>.<ext>` (or `<id>.<ext>`, or without `.<ext>` when the name has none).
pub(crate) fn stored_name(id: &str, original: &str) -> String {
    let (stem, ext) = match original.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, Some(e)),
        _ => (original, None),
    };
    let mut clean = String::new();
    for ch in stem.chars() {
        if ch.is_ascii_alphanumeric() {
            clean.push(ch.to_ascii_lowercase());
        } else if matches!(ch, ' ' | '_' | '-') {
            clean.push('-');
        }
    }
    let clean: String = clean.chars().take(50).collect();
    let mut collapsed = String::with_capacity(clean.len());
    for ch in clean.chars() {
        if ch == '-' && collapsed.ends_with('-') {
            continue;
        }
        collapsed.push(ch);
    }
    let collapsed = collapsed.trim_matches('-');
    let ext: String = ext
        .map(|e| {
            e.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let mut out = id.to_owned();
    if !collapsed.is_empty() {
        out.push('-');
        out.push_str(collapsed);
    }
    if !ext.is_empty() {
        out.push('.');
        out.push_str(&ext);
    }
    out
}

/// `Content-Type` of a download, from the stored name's extension.
pub(crate) fn mime_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "ico" => "image/x-icon",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "xml" => "text/xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Whether a download path segment pair is acceptable (protocol 6.3).
pub(crate) fn valid_path(sub: &str, name: &str) -> bool {
    let sub_ok =
        sub.len() == 5 && sub.starts_with('f') && sub.bytes().skip(1).all(|b| b.is_ascii_digit());
    let bad = |s: &str| s.is_empty() || s.contains("..") || s.contains(['/', '\\', '\0']);
    sub_ok && !bad(name)
}

/// One `FILE("name")` occurrence (byte range in the SQL and the name).
pub(crate) use kalam_schema::files::FilePlaceholder as Placeholder;

/// Every `FILE("x")` / `FILE('x')` placeholder (case-insensitive, optional spaces).
pub(crate) fn placeholders(sql: &str) -> Vec<Placeholder> {
    kalam_schema::files::file_placeholders(sql)
}

/// Replaces every placeholder with a single-quoted SQL literal of its FileRef JSON.
pub(crate) fn rewrite(sql: &str, found: &[Placeholder], refs: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(sql.len() + 256);
    let mut at = 0;
    for p in found {
        out.push_str(&sql[at..p.range.start]);
        match refs.get(&p.name) {
            Some(json) => {
                out.push('\'');
                out.push_str(&json.replace('\'', "''"));
                out.push('\'');
            }
            None => out.push_str(&sql[p.range.clone()]),
        }
        at = p.range.end;
    }
    out.push_str(&sql[at..]);
    out
}

/// The `ns.table` an INSERT/UPDATE/DELETE statement writes, as written (unqualified names
/// get `default_ns`).
pub(crate) fn target_table(sql: &str, default_ns: &str) -> Option<(String, String)> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let at = match upper.first().map(String::as_str) {
        Some("INSERT") | Some("UPSERT") => upper.iter().position(|w| w == "INTO").map(|i| i + 1),
        Some("UPDATE") => Some(1),
        Some("DELETE") => upper.iter().position(|w| w == "FROM").map(|i| i + 1),
        _ => None,
    }?;
    let raw = words.get(at)?;
    let name: String = raw
        .chars()
        .take_while(|c| *c != '(')
        .filter(|c| *c != '"' && *c != '`')
        .collect();
    let (ns, t) = match name.split_once('.') {
        Some((ns, t)) => (ns.to_owned(), t.to_owned()),
        None => (default_ns.to_owned(), name),
    };
    if ns.is_empty() || t.is_empty() {
        return None;
    }
    Some((ns.to_ascii_lowercase(), t.to_ascii_lowercase()))
}

/// One multipart part.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Bytes,
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let off = hay[i..].iter().position(|b| *b == first)?;
        i += off;
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Parses a buffered multipart/form-data body.
pub(crate) fn parse_multipart(body: &Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}");
    let close = format!("\r\n--{boundary}");
    let mut at =
        find(body, delim.as_bytes(), 0).ok_or("multipart boundary not found")? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        let line_end = find(body, b"\r\n", at).ok_or("truncated multipart body")?;
        let head_end = find(body, b"\r\n\r\n", line_end).ok_or("truncated multipart headers")?;
        let head = std::str::from_utf8(&body[line_end + 2..head_end])
            .map_err(|_| "multipart headers are not UTF-8")?;
        let data_start = head_end + 4;
        let data_end =
            find(body, close.as_bytes(), data_start).ok_or("truncated multipart part")?;
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for p in v.split(';').skip(1) {
                    if let Some((pk, pv)) = p.trim().split_once('=') {
                        let pv = pv.trim().trim_matches('"').to_owned();
                        match pk.trim().to_ascii_lowercase().as_str() {
                            "name" => name = Some(pv),
                            "filename" => filename = Some(pv),
                            _ => {}
                        }
                    }
                }
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        parts.push(Part {
            name: name.ok_or("multipart part without a name")?,
            filename,
            content_type,
            data: body.slice(data_start..data_end),
        });
        at = data_end + close.len();
    }
}

/// Lower-case hex of a SHA-256 digest.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names() {
        assert_eq!(
            stored_name("187", "Invoice 2025.pdf"),
            "187-invoice-2025.pdf"
        );
        assert_eq!(stored_name("1", "Contract.pdf"), "1-contract.pdf");
        assert_eq!(stored_name("1", "ü.PNG"), "1.png");
        assert_eq!(stored_name("1", "a -_ b"), "1-a-b");
        assert_eq!(stored_name("1", "--x--.txt"), "1-x.txt");
    }

    #[test]
    fn finds_and_rewrites_placeholders() {
        let sql = "INSERT INTO a.b (x, y) VALUES (file ( 'one' ), FILE(\"two\")) -- PROFILE('no')";
        let found = placeholders(sql);
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        let refs = HashMap::from([
            ("one".to_owned(), "{\"n\":\"it's\"}".to_owned()),
            ("two".to_owned(), "{}".to_owned()),
        ]);
        assert_eq!(
            rewrite(sql, &found, &refs),
            "INSERT INTO a.b (x, y) VALUES ('{\"n\":\"it''s\"}', '{}') -- PROFILE('no')"
        );
        assert_eq!(target_table(sql, "default"), Some(("a".into(), "b".into())));
        assert_eq!(
            target_table("UPDATE docs SET f = 1", "app"),
            Some(("app".into(), "docs".into()))
        );
    }

    #[test]
    fn parses_multipart() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"sql\"\r\n\r\nSELECT 1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file:c\"; filename=\"C.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n-x\r\n--XyZ--\r\n",
        );
        let parts = parse_multipart(&body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(&parts[0].data[..], b"SELECT 1");
        assert_eq!(parts[1].name, "file:c");
        assert_eq!(parts[1].filename.as_deref(), Some("C.pdf"));
        assert_eq!(parts[1].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(&parts[1].data[..], b"%PDF\r\n-x");
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\""),
            Some("XyZ".into())
        );
    }

    #[test]
    fn path_rules() {
        assert!(valid_path("f0001", "1-a.pdf"));
        assert!(!valid_path("x0001", "1-a.pdf"));
        assert!(!valid_path("f0001", "../a"));
        assert!(!valid_path("f001", "a"));
    }
}
