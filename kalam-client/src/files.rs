//! FILE columns (feature `file-uploads`, protocol 6): multipart SQL with `FILE("name")`
//! placeholders, upload progress, and downloads of stored files.
//!
//! An upload is one SQL statement whose `FILE("name")` (or `FILE('name')`) placeholders
//! each name a file sent with it. The server stores the files, replaces each placeholder
//! with the file's [`FileRef`] JSON, and runs the statement. Reading the column back gives
//! a [`FileRef`] (it implements [`FromCell`](crate::FromCell)), which
//! [`KalamClient::download`] turns into the bytes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use tokio::io::{AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::client::KalamClient;
use crate::encode::{QueryParam, ToParam};
use crate::error::{Error, Result};
use crate::sql::{Params, untyped_response};
use crate::types::FileRef;
use crate::wire::QueryResponse;

/// Bytes handed to the HTTP connection at a time (and the progress granularity).
const CHUNK: usize = 256 * 1024;

/// Where an upload's bytes come from.
#[derive(Clone)]
enum Source {
    Bytes(Bytes),
    Path(PathBuf),
}

/// One file to send with an upload statement.
///
/// ```
/// use kalam_client::files::FileUpload;
/// let avatar = FileUpload::from_bytes("me.png", vec![0x89, b'P', b'N', b'G']).mime("image/png");
/// assert_eq!(avatar.file_name(), "me.png");
/// let report = FileUpload::from_path("/tmp/report.pdf");
/// assert_eq!(report.file_name(), "report.pdf");
/// ```
#[derive(Clone)]
pub struct FileUpload {
    file_name: String,
    mime: Option<String>,
    source: Source,
}

impl fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Bytes(b) => format!("{} bytes in memory", b.len()),
            Source::Path(p) => p.display().to_string(),
        };
        f.debug_struct("FileUpload")
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .field("source", &source)
            .finish()
    }
}

impl FileUpload {
    /// A file held in memory; `file_name` is the original name the server records.
    pub fn from_bytes(file_name: impl Into<String>, data: impl Into<Bytes>) -> FileUpload {
        FileUpload {
            file_name: file_name.into(),
            mime: None,
            source: Source::Bytes(data.into()),
        }
    }

    /// A file on disk, streamed when the statement runs (never loaded whole). The original
    /// name is the path's last component.
    pub fn from_path(path: impl AsRef<Path>) -> FileUpload {
        let path = path.as_ref();
        FileUpload {
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            mime: None,
            source: Source::Path(path.to_owned()),
        }
    }

    /// The MIME type (default `application/octet-stream`).
    #[must_use]
    pub fn mime(mut self, mime: impl Into<String>) -> FileUpload {
        self.mime = Some(mime.into());
        self
    }

    /// Overrides the original file name.
    #[must_use]
    pub fn file_name_as(mut self, name: impl Into<String>) -> FileUpload {
        self.file_name = name.into();
        self
    }

    /// The original file name.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    async fn len(&self) -> Result<u64> {
        match &self.source {
            Source::Bytes(b) => Ok(b.len() as u64),
            Source::Path(p) => tokio::fs::metadata(p)
                .await
                .map(|m| m.len())
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", p.display()))),
        }
    }
}

/// Upload progress of one file, passed to [`Upload::on_progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadProgress {
    /// 0-based index of the file among the statement's files.
    pub file_index: usize,
    /// Files in the statement.
    pub total_files: usize,
    /// The file's original name.
    pub file_name: String,
    /// Bytes of this file handed to the connection so far.
    pub bytes_sent: u64,
    /// The file's size.
    pub total_bytes: u64,
}

impl UploadProgress {
    /// `bytes_sent / total_bytes` in percent (100 for an empty file).
    pub fn percent(&self) -> f64 {
        if self.total_bytes == 0 {
            100.0
        } else {
            #[allow(clippy::cast_precision_loss, reason = "a percentage")]
            let p = self.bytes_sent as f64 * 100.0 / self.total_bytes as f64;
            p
        }
    }
}

type ProgressFn = Arc<dyn Fn(&UploadProgress) + Send + Sync>;

/// An upload statement being prepared; run it with [`Upload::execute`] or
/// [`Upload::fetch_response`], which take the client (as every statement does). Get one from
/// [`upload`].
#[must_use = "an upload does nothing until execute() runs it"]
pub struct Upload {
    sql: String,
    params: Params,
    files: Vec<(String, FileUpload)>,
    namespace: Option<String>,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("sql", &crate::sqltext::redact_secrets(&self.sql))
            .field("params", &self.params.values().len())
            .field("files", &self.files)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Prepares one SQL statement with `FILE("name")` placeholders, sent as
/// `multipart/form-data` together with the files ([`Upload::file`]). Qualify the table
/// (`namespace.table`). A file over the server's limit (25 MiB by default) is refused
/// with [`ErrorCode::FileTooLarge`](crate::ErrorCode::FileTooLarge).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = kalam_emulator::Emulator::start().await?;
/// use kalam_client::files::FileUpload;
/// use kalam_client::types::FileRef;
/// use kalam_client::{AuthProvider, KalamClient};
/// let client = KalamClient::builder()
///     .base_url(emulator.url())
///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
///     .build()?;
/// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS app").execute(&client).await?;
/// kalam_client::query("CREATE TABLE app.docs (id BIGINT PRIMARY KEY, body FILE) WITH (TYPE = 'SHARED')")
///     .execute(&client)
///     .await?;
/// let inserted = kalam_client::files::upload("INSERT INTO app.docs (id, body) VALUES ($1, FILE('doc'))")
///     .bind(1)
///     .file("doc", FileUpload::from_bytes("Notes.txt", "hello").mime("text/plain"))
///     .execute(&client)
///     .await?;
/// assert_eq!(inserted, 1);
/// let file: FileRef = kalam_client::query_as("SELECT body FROM app.docs WHERE id = 1").fetch_scalar(&client).await?;
/// assert_eq!((file.name.as_str(), file.size), ("Notes.txt", 5));
/// let download = client.download(&file, "app.docs").bytes().await?;
/// assert_eq!(&download.bytes[..], b"hello");
/// # Ok(())
/// # }
/// ```
pub fn upload(sql: impl Into<String>) -> Upload {
    Upload {
        sql: sql.into(),
        params: Params::default(),
        files: Vec::new(),
        namespace: None,
        progress: None,
    }
}

impl KalamClient {
    /// The official SDK's call: runs `sql` with `files` (`(placeholder, file)` pairs) and
    /// parameters, and returns the untyped response.
    pub async fn execute_with_files(
        &self,
        sql: &str,
        files: Vec<(String, FileUpload)>,
        params: Option<Vec<QueryParam>>,
        namespace: Option<&str>,
    ) -> Result<QueryResponse> {
        let mut upload = upload(sql);
        upload.params.set(params.unwrap_or_default());
        upload.files = files;
        upload.namespace = namespace.map(str::to_owned);
        upload.fetch_response(self).await
    }
}

impl Upload {
    /// Binds the next `$n` parameter.
    pub fn bind<V: ToParam>(mut self, value: V) -> Self {
        self.params.bind(value);
        self
    }

    /// Sends `file` for the placeholder `FILE("placeholder")`.
    pub fn file(mut self, placeholder: impl Into<String>, file: FileUpload) -> Self {
        self.files.push((placeholder.into(), file));
        self
    }

    /// Runs with this namespace for unqualified names.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Called as each file's bytes are handed to the connection: `bytes_sent` grows to
    /// `total_bytes` (in chunks of 256 KiB). Called from the HTTP body stream: keep it quick.
    /// With several nodes (feature `cluster`) a failover sends the files again, from 0.
    pub fn on_progress(
        mut self,
        callback: impl Fn(&UploadProgress) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Runs the statement and returns the rows affected.
    pub async fn execute(self, client: &KalamClient) -> Result<u64> {
        let body = self.send(client).await?;
        crate::envelope::decode_rows(&body, &[], &mut crate::envelope::Discard)
    }

    /// Runs the statement and returns the untyped response.
    pub async fn fetch_response(self, client: &KalamClient) -> Result<QueryResponse> {
        untyped_response(&self.send(client).await?)
    }

    async fn send(self, client: &KalamClient) -> Result<Bytes> {
        check_files(&self.sql, &self.files)?;
        let params = self.params.encode(&self.sql)?;
        let params = (!params.is_empty())
            .then(|| serde_json::to_string(&params))
            .transpose()
            .map_err(|e| Error::Protocol(format!("cannot encode the parameters: {e}")))?;
        let mut files = Vec::with_capacity(self.files.len());
        for (placeholder, file) in &self.files {
            if let Some(mime) = &file.mime
                && reqwest::multipart::Part::bytes(Vec::new())
                    .mime_str(mime)
                    .is_err()
            {
                return Err(Error::Config(format!(
                    "invalid MIME type `{mime}` for file `{placeholder}`"
                )));
            }
            files.push((placeholder.as_str(), file, file.len().await?));
        }
        let total_files = files.len();
        let inner = &client.inner;
        let namespace = self
            .namespace
            .as_deref()
            .or(inner.namespace.as_deref())
            .map(|ns| inner.namespaces.server_name(ns));
        let build_form = || {
            let mut form = reqwest::multipart::Form::new().text("sql", self.sql.to_string());
            if let Some(p) = &params {
                form = form.text("params", p.clone());
            }
            if let Some(ns) = namespace {
                form = form.text("namespace_id", ns.to_owned());
            }
            for (index, (placeholder, file, len)) in files.iter().enumerate() {
                let part = || {
                    let progress = self.progress.clone().map(|callback| {
                        let mut state = UploadProgress {
                            file_index: index,
                            total_files,
                            file_name: file.file_name.clone(),
                            bytes_sent: 0,
                            total_bytes: *len,
                        };
                        move |n: usize| {
                            state.bytes_sent += n as u64;
                            callback(&state);
                        }
                    });
                    let body = reqwest::Body::wrap_stream(chunks(file.source.clone(), progress));
                    reqwest::multipart::Part::stream_with_length(body, *len)
                        .file_name(file.file_name.clone())
                };
                let mime = file.mime.as_deref().unwrap_or("application/octet-stream");
                // The MIME type was checked above; the fallback only keeps this infallible.
                let part = part().mime_str(mime).unwrap_or_else(|_| part());
                form = form.part(format!("file:{placeholder}"), part);
            }
            form
        };
        // The form is built again for a resend (after renewing an expired token), so the
        // file streams and the progress counts start over.
        let what = format!("upload `{}`", self.sql);
        let body = inner
            .call_bytes(true, &what, |base| {
                inner
                    .http
                    .post(format!("{base}/v1/api/sql"))
                    .multipart(build_form())
            })
            .await?;
        Ok(body)
    }
}

/// Every `FILE("name")` placeholder of `sql` has exactly one file, and every file a
/// placeholder (names are case-sensitive, as the server matches parts to placeholders).
fn check_files(sql: &str, files: &[(String, FileUpload)]) -> Result<()> {
    let placeholders = kalam_schema::files::file_placeholders(sql);
    let mut missing: Vec<String> = Vec::new();
    for p in &placeholders {
        if !files.iter().any(|(name, _)| *name == p.name) && !missing.contains(&p.name) {
            missing.push(p.name.clone());
        }
    }
    let mut extra = Vec::new();
    for (i, (name, _)) in files.iter().enumerate() {
        let again = files[..i].iter().any(|(other, _)| other == name);
        if again || !placeholders.iter().any(|p| p.name == *name) {
            extra.push(name.clone());
        }
    }
    if missing.is_empty() && extra.is_empty() {
        Ok(())
    } else {
        Err(Error::FileParts { missing, extra })
    }
}

/// The file's bytes in chunks, reporting each chunk's size to `progress` as it is taken.
fn chunks(
    source: Source,
    progress: Option<impl FnMut(usize) + Send + 'static>,
) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
    let raw: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>> = match source {
        Source::Bytes(bytes) => {
            Box::pin(stream::iter((0..bytes.len()).step_by(CHUNK).map(
                move |at| Ok(bytes.slice(at..(at + CHUNK).min(bytes.len()))),
            )))
        }
        Source::Path(path) => Box::pin(stream::try_unfold(
            (None::<tokio::fs::File>, path),
            |(file, path)| async move {
                let mut file = match file {
                    Some(f) => f,
                    None => tokio::fs::File::open(&path).await.map_err(|e| {
                        Error::Config(format!("cannot open {}: {e}", path.display()))
                    })?,
                };
                let mut buf = Vec::with_capacity(CHUNK);
                let n = (&mut file)
                    .take(CHUNK as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
                Ok((n > 0).then(|| (Bytes::from(buf), (Some(file), path))))
            },
        )),
    };
    let mut progress = progress;
    raw.map(move |chunk| {
        if let (Ok(bytes), Some(report)) = (&chunk, progress.as_mut()) {
            report(bytes.len());
        }
        chunk
    })
}

/// A downloaded file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileDownload {
    /// The content.
    pub bytes: Bytes,
    /// `Content-Type` (guessed by the server from the extension).
    pub content_type: Option<String>,
    /// `Content-Disposition` (`inline; filename="<stored name>"`).
    pub content_disposition: Option<String>,
}

/// A stored file being fetched; get one from [`KalamClient::download`].
#[derive(Debug)]
#[must_use = "a download does nothing until bytes() or write_to() runs it"]
pub struct Download {
    client: KalamClient,
    /// Path segments after `/v1/files/`.
    path: Result<[String; 4]>,
    user: Option<String>,
}

impl KalamClient {
    /// Fetches the file a FILE cell refers to. `table` is `namespace.table` (the table the
    /// cell came from). Files of USER tables belong to the caller's partition; see
    /// [`Download::for_user`].
    pub fn download(&self, file: &FileRef, table: &str) -> Download {
        let table = self.inner.namespaces.qualified(table);
        let path = match table.split_once('.') {
            Some((ns, t)) if !ns.is_empty() && !t.is_empty() => Ok([
                ns.to_owned(),
                t.to_owned(),
                file.sub.clone(),
                file.stored_name(),
            ]),
            _ => Err(Error::Config(format!(
                "download needs a qualified table (`namespace.table`), got `{table}`"
            ))),
        };
        Download {
            client: self.clone(),
            path,
            user: None,
        }
    }

    /// The official SDK's call: downloads `file` of `namespace.table`, for
    /// `target_user_id` when given.
    pub async fn download_file(
        &self,
        file: &FileRef,
        namespace: &str,
        table: &str,
        target_user_id: Option<&str>,
    ) -> Result<FileDownload> {
        let mut download = self.download(file, &format!("{namespace}.{table}"));
        if let Some(user) = target_user_id {
            download = download.for_user(user);
        }
        download.bytes().await
    }
}

impl Download {
    /// Reads another user's file of a USER table (`?user_id=`; needs a role allowed to act
    /// as that user, protocol 7.7).
    pub fn for_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    async fn response(&self) -> Result<reqwest::Response> {
        let path = self.path.as_ref().map_err(clone_config)?;
        let inner = &self.client.inner;
        inner
            .call(true, "file download", |base| {
                // The builder validated `base`; if it did not parse, reqwest reports it.
                let Ok(mut url) = reqwest::Url::parse(base) else {
                    return inner.http.get(base);
                };
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty().extend(["v1", "files"]).extend(path);
                }
                if let Some(user) = &self.user {
                    url.query_pairs_mut().append_pair("user_id", user);
                }
                inner.http.get(url)
            })
            .await
    }

    /// Downloads the whole file into memory.
    pub async fn bytes(self) -> Result<FileDownload> {
        let response = self.response().await?;
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let content_disposition = header(reqwest::header::CONTENT_DISPOSITION);
        let inner = &self.client.inner;
        let bytes =
            crate::client::read_body(response, inner.max_response_size, "the file download")
                .await
                .map_err(|e| inner.transport_error("file download", e))??;
        Ok(FileDownload {
            bytes,
            content_type,
            content_disposition,
        })
    }

    /// Streams the file into `writer` as it arrives and returns the bytes written.
    pub async fn write_to<W: AsyncWrite + Unpin>(self, writer: &mut W) -> Result<u64> {
        let response = self.response().await?;
        let mut body = response.bytes_stream();
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.client.inner.transport_error("file download", e))?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| Error::Config(format!("cannot write the download: {e}")))?;
            written += chunk.len() as u64;
        }
        writer
            .flush()
            .await
            .map_err(|e| Error::Config(format!("cannot write the download: {e}")))?;
        Ok(written)
    }
}

fn clone_config(e: &Error) -> Error {
    Error::Config(match e {
        Error::Config(m) => m.clone(),
        other => other.to_string(),
    })
}

impl FileRef {
    /// The name the server stores the file under (protocol 6.2): `<id>-<name>.<ext>`, the
    /// name lower-cased to ASCII letters and digits with runs of spaces, `_` and `-` as one
    /// `-` (at most 50 characters), or `<id>.<ext>` when nothing is left of it.
    ///
    /// ```
    /// use kalam_client::types::FileRef;
    /// let f = FileRef::from_json(r#"{"id":"187","sub":"f0001","name":"Invoice 2025.pdf","size":1,"mime":"application/pdf","sha256":""}"#).unwrap();
    /// assert_eq!(f.stored_name(), "187-invoice-2025.pdf");
    /// ```
    pub fn stored_name(&self) -> String {
        let (stem, ext) = match self.name.rfind('.') {
            Some(dot) if dot > 0 => (&self.name[..dot], Some(&self.name[dot + 1..])),
            _ => (self.name.as_str(), None),
        };
        let kept: String = stem
            .chars()
            .filter_map(|c| match c {
                'a'..='z' | '0'..='9' => Some(c),
                'A'..='Z' => Some(c.to_ascii_lowercase()),
                ' ' | '_' | '-' => Some('-'),
                _ => None,
            })
            .take(50)
            .collect();
        let words: Vec<&str> = kept.split('-').filter(|w| !w.is_empty()).collect();
        let mut out = self.id.clone();
        if !words.is_empty() {
            out.push('-');
            out.push_str(&words.join("-"));
        }
        let ext: String = ext
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !ext.is_empty() {
            out.push('.');
            out.push_str(&ext);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> FileRef {
        FileRef {
            id: "1".into(),
            sub: "f0001".into(),
            name: name.into(),
            size: 0,
            mime: String::new(),
            sha256: String::new(),
            shard: None,
        }
    }

    #[test]
    fn stored_names_follow_the_protocol() {
        for (name, stored) in [
            ("Invoice 2025.pdf", "1-invoice-2025.pdf"),
            ("Contract.pdf", "1-contract.pdf"),
            ("ü.PNG", "1.png"),
            ("a -_ b", "1-a-b"),
            ("--x--.txt", "1-x.txt"),
            (".hidden", "1-hidden"),
            ("archive.tar.gz", "1-archivetar.gz"),
        ] {
            assert_eq!(named(name).stored_name(), stored, "{name}");
        }
    }

    #[test]
    fn files_must_match_the_placeholders() {
        let file = || FileUpload::from_bytes("x.bin", vec![1]);
        let sql = "INSERT INTO a.t (id, f, g) VALUES (1, FILE('a'), file(\"b\"))";
        let names = |files: &[&str]| -> Vec<(String, FileUpload)> {
            files.iter().map(|n| ((*n).to_owned(), file())).collect()
        };
        assert!(check_files(sql, &names(&["b", "a"])).is_ok());
        assert!(check_files("SELECT 1", &[]).is_ok());
        let Err(Error::FileParts { missing, extra }) = check_files(sql, &names(&["A", "b", "b"]))
        else {
            panic!("a mismatch must be refused");
        };
        assert_eq!(
            (missing, extra),
            (vec!["a".to_owned()], vec!["A".to_owned(), "b".to_owned()])
        );
        let Err(Error::FileParts { missing, extra }) =
            check_files("UPDATE a.t SET f = FILE('a'), g = FILE('a')", &[])
        else {
            panic!("a placeholder without a file must be refused");
        };
        assert_eq!((missing, extra), (vec!["a".to_owned()], vec![]));
    }

    #[tokio::test]
    async fn chunks_report_progress_up_to_the_size() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let data = Bytes::from(vec![1u8; CHUNK * 2 + 5]);
        let mut sent = 0u64;
        let all: Vec<Bytes> = chunks(
            Source::Bytes(data.clone()),
            Some(move |n: usize| {
                sent += n as u64;
                log.lock().unwrap().push(sent);
            }),
        )
        .map(|c| c.unwrap())
        .collect()
        .await;
        assert_eq!(all.concat(), data.to_vec());
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, [CHUNK as u64, 2 * CHUNK as u64, data.len() as u64]);
    }
}
