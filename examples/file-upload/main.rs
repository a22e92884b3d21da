//! File uploads: a 12 MiB file streamed from disk into a FILE column with a progress bar,
//! read back as a typed `FileRef`, downloaded into a file and compared; then an upload over
//! the server's 25 MiB limit, refused with a typed `FILE_TOO_LARGE` error.
//!
//! ```sh
//! cargo run -p kalam-examples --bin file-upload
//! ```
//!
//! With no `KALAMDB_SERVER_URL` set it starts the in-process emulator. Against a real server
//! set `KALAMDB_SERVER_URL`, `KALAMDB_USER` and `KALAMDB_PASSWORD` (a dba user: the example
//! creates the `files_demo` namespace and a table, and drops the table at the end).

use std::io::Write as _;
use std::time::Instant;

use kalam_client::files::{FileUpload, UploadProgress};
use kalam_client::types::FileRef;
use kalam_client::{Error, ErrorCode, KalamRow};
use kalam_examples::Server;

#[derive(Debug, KalamRow)]
struct Document {
    id: i64,
    title: String,
    body: FileRef,
}

fn progress_bar(p: &UploadProgress) {
    let filled = (p.percent() / 5.0) as usize;
    print!(
        "\r   {:<24} [{:<20}] {:>5.1}% ({} / {} bytes)",
        p.file_name,
        "#".repeat(filled),
        p.percent(),
        p.bytes_sent,
        p.total_bytes
    );
    if p.bytes_sent == p.total_bytes {
        println!();
    }
    let _ = std::io::stdout().flush();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::from_env(kalam_emulator::Emulator::builder()).await?;
    let client = server.client()?;
    kalam_client::query("CREATE NAMESPACE IF NOT EXISTS files_demo")
        .execute(&client)
        .await?;
    kalam_client::query(
        "CREATE TABLE IF NOT EXISTS files_demo.documents (id BIGINT PRIMARY KEY, \
             title TEXT NOT NULL, body FILE NOT NULL) WITH (TYPE = 'SHARED')",
    )
    .execute(&client)
    .await?;

    // A 12 MiB file on disk, streamed (never loaded whole by the client).
    let dir = std::env::temp_dir().join(format!("kalam-file-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let source = dir.join("Quarterly Report.bin");
    let content: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&source, &content)?;

    println!("uploading {} ({} bytes):", source.display(), content.len());
    let started = Instant::now();
    let inserted = kalam_client::files::upload(
        "INSERT INTO files_demo.documents (id, title, body) VALUES ($1, $2, FILE('report'))",
    )
    .bind(1)
    .bind("Q3 report")
    .file(
        "report",
        FileUpload::from_path(&source).mime("application/octet-stream"),
    )
    .on_progress(progress_bar)
    .execute(&client)
    .await?;
    let took = started.elapsed();
    println!(
        "inserted {inserted} row in {took:.2?} ({:.1} MiB/s)",
        content.len() as f64 / 1_048_576.0 / took.as_secs_f64()
    );

    let doc: Document =
        kalam_client::query_as("SELECT id, title, body FROM files_demo.documents WHERE id = 1")
            .fetch_one(&client)
            .await?;
    println!(
        "row #{} {:?}: file {:?}, {} bytes, {}, sha256 {}…, stored as {}",
        doc.id,
        doc.title,
        doc.body.name,
        doc.body.size,
        doc.body.mime,
        &doc.body.sha256[..12],
        doc.body.stored_name()
    );

    let target = dir.join("downloaded.bin");
    let mut out = tokio::fs::File::create(&target).await?;
    let started = Instant::now();
    let written = client
        .download(&doc.body, "files_demo.documents")
        .write_to(&mut out)
        .await?;
    println!("downloaded {written} bytes in {:.2?}", started.elapsed());
    let identical = std::fs::read(&target)? == content;
    println!("downloaded file identical: {identical}");

    println!("uploading 26 MiB (the server's limit is 25 MiB):");
    let too_big = vec![0u8; 26 * 1024 * 1024];
    let refused = kalam_client::files::upload(
        "INSERT INTO files_demo.documents (id, title, body) VALUES (2, 'too big', FILE('big'))",
    )
    .file("big", FileUpload::from_bytes("big.bin", too_big))
    .on_progress(progress_bar)
    .execute(&client)
    .await;
    match refused {
        Err(Error::Sql {
            code: ErrorCode::FileTooLarge,
            message,
            ..
        }) => println!("refused as expected: FILE_TOO_LARGE: {message}"),
        other => return Err(format!("expected FILE_TOO_LARGE, got {other:?}").into()),
    }

    std::fs::remove_dir_all(&dir)?;
    kalam_client::query("DROP TABLE files_demo.documents")
        .execute(&client)
        .await?;
    if !identical {
        return Err("the downloaded file differs".into());
    }
    Ok(())
}
