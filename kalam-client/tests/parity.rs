//! The official SDK's feature flags, against the emulator over loopback: `consumer`
//! (partitions, groups, restarts, commits), `file-uploads` (large uploads with progress,
//! the size limit, downloads), `healthcheck` (the cache), `setup` (first run) and `cluster`
//! (cluster health, failover between two servers for HTTP and live queries).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kalam_client::cluster::ClusterStatus;
use kalam_client::consumer::{AutoOffsetReset, TopicOp, TopicPayload, TopicRecord};
use kalam_client::files::{FileUpload, UploadProgress};
use kalam_client::live::LiveEvent;
use kalam_client::setup::ServerSetupRequest;
use kalam_client::types::FileRef;
use kalam_client::{AuthProvider, ColumnSpec, Error, ErrorCode, KalamClient, KalamRow, RowRef};
use kalam_emulator::Emulator;
use kalam_tests::server_or_skip;
use support::{admin_client, exec, renewing_client, user_client};

fn client_for(url: &str, user: &str, password: &str) -> KalamClient {
    KalamClient::builder()
        .base_url(url)
        .auth(AuthProvider::basic_auth(user, password))
        .build()
        .unwrap()
}

fn emulator_admin(emulator: &Emulator) -> KalamClient {
    client_for(&emulator.url(), "admin", "AdminPass123!")
}

/// A row of the jobs tables.
#[derive(Debug, Clone, PartialEq)]
struct Job {
    id: i64,
    name: String,
}

impl KalamRow for Job {
    fn columns() -> &'static [ColumnSpec] {
        const C: &[ColumnSpec] = &[
            ColumnSpec::named::<i64>("id"),
            ColumnSpec::named::<String>("name"),
        ];
        C
    }
    fn from_row(row: &RowRef<'_>) -> kalam_client::Result<Self> {
        Ok(Job {
            id: row.get(0)?,
            name: row.get(1)?,
        })
    }
}

/// Reads a partition until a fetch comes back empty, committing each batch.
async fn drain(client: &KalamClient, topic: &str, group: &str, partition: u32) -> Vec<TopicRecord> {
    let mut consumer = client
        .consumer()
        .group_id(group)
        .topic(topic)
        .partition_id(partition)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(3)
        .build()
        .unwrap();
    let mut all = Vec::new();
    loop {
        let batch = consumer.consume_batch().await.unwrap();
        let Some(last) = batch.last() else { break };
        let committed = consumer.ack(last).await.unwrap();
        assert_eq!(committed.acknowledged_offset, last.offset);
        all.extend(batch);
    }
    assert_eq!(
        consumer.committed(),
        all.last().map(|r| r.offset),
        "the consumer tracks its commits"
    );
    all
}

#[tokio::test]
async fn two_partitions_one_consumer_each() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("topics").await;
    let admin = admin_client(&server);
    let svc = server.create_user("svc", "service").await;
    let worker = user_client(&server, &svc);
    exec(
        &admin,
        format!("CREATE TABLE {ns}.jobs (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')"),
    )
    .await;
    exec(&admin, format!("CREATE TOPIC {ns}.jobs_t PARTITIONS 2")).await;
    exec(
        &admin,
        format!("ALTER TOPIC {ns}.jobs_t ADD SOURCE {ns}.jobs ON INSERT"),
    )
    .await;
    for i in 1..=20 {
        kalam_client::query(format!("INSERT INTO {ns}.jobs (id, name) VALUES ($1, $2)"))
            .bind(i)
            .bind(format!("job {i}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    let topic = format!("{ns}.jobs_t");
    let (p0, p1) = tokio::join!(
        drain(&admin, &topic, "workers", 0),
        drain(&worker, &topic, "workers", 1)
    );
    let mut ids = BTreeSet::new();
    for (partition, records) in [(0, &p0), (1, &p1)] {
        assert!(!records.is_empty(), "partition {partition} got nothing");
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.partition, partition);
            assert_eq!(
                r.offset, i as u64,
                "offsets are per partition, gap-free from 0"
            );
            assert_eq!(r.topic, topic);
            assert_eq!(r.op, TopicOp::Insert);
            let job: Job = r.decode().unwrap();
            assert_eq!(job.name, format!("job {}", job.id));
            assert_eq!(r.key.as_deref(), Some(job.id.to_string().as_str()));
            assert!(ids.insert(job.id), "job {} delivered twice", job.id);
        }
    }
    assert_eq!(ids, (1..=20).collect::<BTreeSet<i64>>());
}

/// A todo of a USER table.
#[derive(Debug, Clone, PartialEq)]
struct Todo {
    id: i64,
    title: String,
}

impl KalamRow for Todo {
    fn columns() -> &'static [ColumnSpec] {
        const C: &[ColumnSpec] = &[
            ColumnSpec::named::<i64>("id"),
            ColumnSpec::named::<String>("title"),
        ];
        C
    }
    fn from_row(row: &RowRef<'_>) -> kalam_client::Result<Self> {
        Ok(Todo {
            id: row.get(0)?,
            title: row.get(1)?,
        })
    }
}

/// The events of a topic fed by two tables, written by hand.
#[derive(Debug, PartialEq)]
enum Activity {
    Todo(Todo),
    Job(Job),
}

impl TopicPayload for Activity {
    fn from_record(record: &TopicRecord) -> kalam_client::Result<Self> {
        let payload = record.parse()?;
        let table = payload.source_table().unwrap_or_default();
        match table.rsplit('.').next() {
            Some("todos") => payload.decode_row().map(Activity::Todo),
            Some("jobs") => payload.decode_row().map(Activity::Job),
            _ => Err(Error::Decode {
                column: "_table".into(),
                expected: "todos or jobs".into(),
                found: table,
            }),
        }
    }
}

#[tokio::test]
async fn multi_source_topics_decode_into_an_enum_with_ops_and_users() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("multi").await;
    let admin = admin_client(&server);
    let alice = server.create_user("alice", "user").await;
    let alice_client = user_client(&server, &alice);
    exec(
        &admin,
        format!("CREATE TABLE {ns}.todos (id BIGINT PRIMARY KEY, title TEXT) WITH (TYPE = 'USER')"),
    )
    .await;
    exec(
        &admin,
        format!("CREATE TABLE {ns}.jobs (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')"),
    )
    .await;
    exec(&admin, format!("CREATE TOPIC {ns}.activity")).await;
    for op in ["INSERT", "UPDATE", "DELETE"] {
        exec(
            &admin,
            format!(
                "ALTER TOPIC {ns}.activity ADD SOURCE {ns}.todos ON {op} WITH (payload = 'full')"
            ),
        )
        .await;
    }
    exec(
        &admin,
        format!("ALTER TOPIC {ns}.activity ADD SOURCE {ns}.jobs ON INSERT WITH (payload = 'full')"),
    )
    .await;
    exec(
        &alice_client,
        format!("INSERT INTO {ns}.todos (id, title) VALUES (1, 'write')"),
    )
    .await;
    exec(
        &admin,
        format!("INSERT INTO {ns}.jobs (id, name) VALUES (7, 'deploy')"),
    )
    .await;
    exec(
        &alice_client,
        format!("UPDATE {ns}.todos SET title = 'rewrite' WHERE id = 1"),
    )
    .await;
    exec(
        &alice_client,
        format!("DELETE FROM {ns}.todos WHERE id = 1"),
    )
    .await;

    let mut consumer = admin
        .consumer()
        .group_id("audit")
        .topic(format!("{ns}.activity"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    let records = consumer.consume_batch().await.unwrap();
    let seen: Vec<(TopicOp, Option<String>, Activity)> = records
        .iter()
        .map(|r| (r.op, r.user.clone(), r.decode::<Activity>().unwrap()))
        .collect();
    let todo = |title: &str| {
        Activity::Todo(Todo {
            id: 1,
            title: title.into(),
        })
    };
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(
        seen[0],
        (TopicOp::Insert, Some(alice.id.clone()), todo("write"))
    );
    assert_eq!(
        (seen[1].0, &seen[1].2),
        (
            TopicOp::Insert,
            &Activity::Job(Job {
                id: 7,
                name: "deploy".into()
            })
        )
    );
    assert_eq!(
        seen[2],
        (TopicOp::Update, Some(alice.id.clone()), todo("rewrite"))
    );
    assert_eq!(seen[3].0, TopicOp::Delete);
    assert_eq!(seen[3].1.as_deref(), Some(alice.id.as_str()));
    consumer.ack(records.last().unwrap()).await.unwrap();

    // Topics are for service, dba and system roles.
    let mut denied = alice_client
        .consumer()
        .group_id("audit")
        .topic(format!("{ns}.activity"))
        .build()
        .unwrap();
    let err = denied.consume_batch().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn emulator_a_restarted_worker_continues_after_its_commit() {
    kalam_tests::emulator_only!();
    // Claims of records a stopped worker never reached come back at once (the server's
    // visibility timeout, 60 s by default, is 0 here).
    let emulator = Emulator::builder()
        .topic_visibility_timeout(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let admin = emulator_admin(&emulator);
    for sql in [
        "CREATE NAMESPACE app",
        "CREATE TABLE app.ev (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')",
        "CREATE TOPIC app.ev_t",
        "ALTER TOPIC app.ev_t ADD SOURCE app.ev ON INSERT",
    ] {
        exec(&admin, sql).await;
    }
    for i in 1..=12 {
        exec(
            &admin,
            format!("INSERT INTO app.ev (id, name) VALUES ({i}, 'e{i}')"),
        )
        .await;
    }
    let handled = Arc::new(Mutex::new(Vec::<i64>::new()));
    // Runs a worker in a fresh client until it has handled `stop_after` records.
    let run = |stop_after: usize| {
        let handled = Arc::clone(&handled);
        let client = emulator_admin(&emulator);
        async move {
            let consumer = client
                .consumer()
                .group_id("g")
                .topic("app.ev_t")
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .max_poll_records(4)
                .build()
                .unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let mut stop = Some(stop);
            let mut count = 0;
            consumer
                .worker()
                .idle_wait(Duration::from_millis(20))
                .run(
                    async {
                        let _ = stopped.await;
                    },
                    |record| {
                        let job: Job = record.decode().unwrap();
                        handled.lock().unwrap().push(job.id);
                        count += 1;
                        if count == stop_after {
                            stop.take().map(|s| s.send(()));
                        }
                        async { Ok::<(), Error>(()) }
                    },
                )
                .await
                .unwrap()
        }
    };
    // The first worker stops in the middle of its second batch of 4.
    let first = run(6).await;
    assert_eq!(first.processed, 6);
    assert_eq!(first.committed, Some(5));
    let second = run(6).await;
    assert_eq!(second.processed, 6);
    assert_eq!(second.committed, Some(11));
    let handled = handled.lock().unwrap().clone();
    assert_eq!(
        handled,
        (1..=12).collect::<Vec<i64>>(),
        "nothing lost, nothing handled twice, in order"
    );
    let mut late = admin
        .consumer()
        .group_id("g")
        .topic("app.ev_t")
        .build()
        .unwrap();
    assert!(late.consume_batch().await.unwrap().is_empty());
}

#[tokio::test]
async fn failing_handlers_are_retried_then_stop_the_worker() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("retry").await;
    let admin = admin_client(&server);
    exec(
        &admin,
        format!("CREATE TABLE {ns}.jobs (id BIGINT PRIMARY KEY, name TEXT) WITH (TYPE = 'SHARED')"),
    )
    .await;
    exec(&admin, format!("CREATE TOPIC {ns}.jobs_t")).await;
    exec(
        &admin,
        format!("ALTER TOPIC {ns}.jobs_t ADD SOURCE {ns}.jobs ON INSERT"),
    )
    .await;
    exec(
        &admin,
        format!("INSERT INTO {ns}.jobs (id, name) VALUES (1, 'ok'), (2, 'flaky'), (3, 'broken')"),
    )
    .await;
    let consumer = admin
        .consumer()
        .group_id("g")
        .topic(format!("{ns}.jobs_t"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    let calls = Arc::new(Mutex::new(Vec::<i64>::new()));
    let log = Arc::clone(&calls);
    let outcome = consumer
        .worker()
        .max_retries(2)
        .retry_backoff(Duration::from_millis(1))
        .run(std::future::pending(), move |record| {
            let job: Job = record.decode().unwrap();
            let mut log = log.lock().unwrap();
            log.push(job.id);
            let tries = log.iter().filter(|id| **id == job.id).count();
            let result = match job.name.as_str() {
                "flaky" if tries < 2 => Err(format!("flaky try {tries}")),
                "broken" => Err("always broken".to_owned()),
                _ => Ok(()),
            };
            async move { result }
        })
        .await;
    let Err(kalam_client::consumer::WorkerError::Handler {
        offset,
        attempts,
        message,
        report,
    }) = outcome
    else {
        panic!("expected a handler failure, got {outcome:?}");
    };
    assert_eq!(
        (offset, attempts, message.as_str()),
        (2, 3, "always broken")
    );
    assert_eq!((report.processed, report.retries), (2, 3));
    assert_eq!(
        report.committed,
        Some(1),
        "everything before the failure is committed"
    );
    assert_eq!(*calls.lock().unwrap(), [1, 2, 2, 3, 3, 3]);

    // Another group skips the record instead, commits past it, and stops on the signal.
    let consumer = admin
        .consumer()
        .group_id("lenient")
        .topic(format!("{ns}.jobs_t"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut stop = Some(stop);
    let report = consumer
        .worker()
        .max_retries(1)
        .retry_backoff(Duration::from_millis(1))
        .skip_failed(true)
        .run(
            async {
                let _ = stopped.await;
            },
            |record| {
                let job: Job = record.decode().unwrap();
                if job.id == 3 {
                    stop.take().map(|s| s.send(()));
                }
                async move {
                    if job.name == "broken" {
                        Err("always broken")
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await
        .unwrap();
    assert_eq!((report.processed, report.retries), (2, 1));
    assert_eq!(report.skipped, [(2, "always broken".to_owned())]);
    assert_eq!(report.committed, Some(2));
}

#[tokio::test]
async fn emulator_async_commit_failures_are_reported() {
    kalam_tests::emulator_only!();
    let emulator = Emulator::start().await.unwrap();
    let admin = emulator_admin(&emulator);
    for sql in [
        "CREATE NAMESPACE app",
        "CREATE TABLE app.ev (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED')",
        "CREATE TOPIC app.ev_t",
        "ALTER TOPIC app.ev_t ADD SOURCE app.ev ON INSERT",
        "INSERT INTO app.ev (id) VALUES (1), (2)",
    ] {
        exec(&admin, sql).await;
    }
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reported);
    let mut consumer = admin
        .consumer()
        .group_id("g")
        .topic("app.ev_t")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .on_ack_error(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let records = consumer.consume_batch().await.unwrap();
    assert_eq!(records.len(), 2);
    consumer.ack_async(&records[0]);
    assert!(consumer.flush_acks().await.is_empty());
    assert_eq!(consumer.committed(), Some(0));
    // The server goes away: a background commit fails, and says so.
    emulator.shutdown().await;
    consumer.ack_async(&records[1]);
    let failures = consumer.flush_acks().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].upto_offset, 1);
    assert_eq!(failures[0].partition, 0);
    assert!(
        matches!(failures[0].error, Error::Http { status: None, .. }),
        "{failures:?}"
    );
    assert_eq!(
        reported.load(Ordering::SeqCst),
        1,
        "the callback saw it too"
    );
    assert!(consumer.take_ack_errors().is_empty(), "reported once");
    assert_eq!(consumer.committed(), Some(0));
    // A waiting commit reports the same failure directly.
    assert!(consumer.ack(&records[1]).await.is_err());
}

/// A deterministic, non-repeating-looking byte pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn progress_log() -> (
    Arc<Mutex<Vec<UploadProgress>>>,
    impl Fn(&UploadProgress) + Send + Sync + 'static,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    (log, move |p: &UploadProgress| {
        sink.lock().unwrap().push(p.clone())
    })
}

fn assert_progress(events: &[UploadProgress], total: u64) {
    assert!(
        events.len() > 1,
        "progress reported in steps: {}",
        events.len()
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0].bytes_sent <= w[1].bytes_sent),
        "progress is monotonic"
    );
    assert!(
        events
            .iter()
            .all(|p| p.total_bytes == total && p.bytes_sent <= total)
    );
    let last = events.last().unwrap();
    assert_eq!(last.bytes_sent, total);
    assert!((last.percent() - 100.0).abs() < f64::EPSILON);
}

#[tokio::test]
async fn large_uploads_report_progress_and_download_identically() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("files").await;
    let admin = admin_client(&server);
    let alice = server.create_user("alice", "user").await;
    let alice_client = user_client(&server, &alice);
    exec(
        &admin,
        format!("CREATE TABLE {ns}.docs (id BIGINT PRIMARY KEY, body FILE) WITH (TYPE = 'USER')"),
    )
    .await;
    let table = format!("{ns}.docs");

    // From memory: 9 MiB + 17 bytes.
    let data = pattern(9 * 1024 * 1024 + 17);
    let (log, on_progress) = progress_log();
    let started = Instant::now();
    let inserted = kalam_client::files::upload(format!(
        "INSERT INTO {table} (id, body) VALUES ($1, FILE(\"big\"))"
    ))
    .bind(1)
    .file(
        "big",
        FileUpload::from_bytes("Big Data.bin", data.clone()).mime("application/octet-stream"),
    )
    .on_progress(on_progress)
    .execute(&alice_client)
    .await
    .unwrap();
    let took = started.elapsed();
    eprintln!(
        "upload of {} bytes: {took:?} ({:.0} MiB/s, debug build, loopback)",
        data.len(),
        data.len() as f64 / 1_048_576.0 / took.as_secs_f64()
    );
    assert_eq!(inserted, 1);
    let events = log.lock().unwrap().clone();
    assert_progress(&events, data.len() as u64);
    assert!(
        events
            .iter()
            .all(|p| p.file_name == "Big Data.bin" && p.total_files == 1)
    );

    let file: FileRef = kalam_client::query_as(format!("SELECT body FROM {table} WHERE id = 1"))
        .fetch_scalar(&alice_client)
        .await
        .unwrap();
    assert_eq!(
        (file.name.as_str(), file.size),
        ("Big Data.bin", data.len() as u64)
    );
    assert_eq!(file.mime, "application/octet-stream");
    let started = Instant::now();
    let download = alice_client.download(&file, &table).bytes().await.unwrap();
    eprintln!("download of {} bytes: {:?}", data.len(), started.elapsed());
    assert!(download.bytes[..] == data[..], "downloaded bytes differ");
    assert_eq!(
        download.content_type.as_deref(),
        Some("application/octet-stream")
    );
    // The admin reads alice's file through `user_id`; alice's own path is hers only.
    let as_admin = admin
        .download(&file, &table)
        .for_user(&alice.id)
        .bytes()
        .await
        .unwrap();
    assert_eq!(as_admin.bytes.len(), data.len());
    let err = admin.download(&file, &table).bytes().await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::FileNotFound));

    // From disk, streamed; downloaded into a writer.
    let path =
        std::env::temp_dir().join(format!("kalam-parity-{}.dat", kalam_tests::unique_suffix()));
    let disk = pattern(8 * 1024 * 1024 + 4096);
    std::fs::write(&path, &disk).unwrap();
    let (log, on_progress) = progress_log();
    kalam_client::files::upload(format!(
        "INSERT INTO {table} (id, body) VALUES (2, FILE('disk'))"
    ))
    .file("disk", FileUpload::from_path(&path))
    .on_progress(on_progress)
    .execute(&alice_client)
    .await
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_progress(&log.lock().unwrap(), disk.len() as u64);
    let file: FileRef = kalam_client::query_as(format!("SELECT body FROM {table} WHERE id = 2"))
        .fetch_scalar(&alice_client)
        .await
        .unwrap();
    let mut copy = Vec::new();
    let written = alice_client
        .download(&file, &table)
        .write_to(&mut copy)
        .await
        .unwrap();
    assert_eq!(written, disk.len() as u64);
    assert!(copy == disk, "streamed download differs");
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_with_file_too_large() {
    let server = server_or_skip!();
    let ns = server.fresh_namespace("toobig").await;
    let admin = admin_client(&server);
    exec(
        &admin,
        format!("CREATE TABLE {ns}.docs (id BIGINT PRIMARY KEY, body FILE) WITH (TYPE = 'SHARED')"),
    )
    .await;
    let count = |client: &KalamClient| {
        let sql = format!("SELECT COUNT(*) FROM {ns}.docs");
        let client = client.clone();
        async move {
            kalam_client::query_as::<i64>(sql)
                .fetch_scalar(&client)
                .await
                .unwrap()
        }
    };
    let err = kalam_client::files::upload(format!(
        "INSERT INTO {ns}.docs (id, body) VALUES (1, FILE('big'))"
    ))
    .file(
        "big",
        FileUpload::from_bytes("big.bin", vec![7u8; 25 * 1024 * 1024 + 1]),
    )
    .execute(&admin)
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Sql {
                code: ErrorCode::FileTooLarge,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(count(&admin).await, 0, "nothing was stored");
    // Files that do not match the placeholders are refused before anything is sent (a
    // server would answer SQL_EXECUTION_ERROR "Invalid function 'file'", naming neither).
    let err = kalam_client::files::upload(format!(
        "INSERT INTO {ns}.docs (id, body) VALUES (1, FILE('a'))"
    ))
    .file("b", FileUpload::from_bytes("b.bin", vec![1]))
    .execute(&admin)
    .await
    .unwrap_err();
    let Error::FileParts { missing, extra } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (missing.as_slice(), extra.as_slice()),
        (&["a".to_owned()][..], &["b".to_owned()][..])
    );
    let err = admin
        .execute_with_files(
            &format!("INSERT INTO {ns}.docs (id, body) VALUES (2, FILE('a'))"),
            vec![
                ("a".to_owned(), FileUpload::from_bytes("a.bin", vec![1])),
                ("a".to_owned(), FileUpload::from_bytes("again.bin", vec![2])),
            ],
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::FileParts { missing, extra } if missing.is_empty() && extra == &["a"]),
        "{err:?}"
    );
    assert_eq!(count(&admin).await, 0, "nothing was stored");
    // A bad MIME type is a typed error too.
    let err = kalam_client::files::upload(format!(
        "INSERT INTO {ns}.docs (id, body) VALUES (1, FILE('a'))"
    ))
    .file(
        "a",
        FileUpload::from_bytes("a.bin", vec![1]).mime("not a mime"),
    )
    .execute(&admin)
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    // A parameter that cannot be sent is named by its index, before anything is sent.
    let err = kalam_client::files::upload(format!(
        "INSERT INTO {ns}.docs (id, body) VALUES ($1, FILE('a')), ($2, FILE('a'))"
    ))
    .bind(1)
    .bind(f64::NAN)
    .file("a", FileUpload::from_bytes("a.bin", vec![1]))
    .execute(&admin)
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Param { index: 2, .. }), "{err:?}");
}

#[tokio::test]
async fn emulator_health_checks_are_cached_for_the_ttl() {
    kalam_tests::emulator_only!();
    let emulator = Emulator::start().await.unwrap();
    let cached = KalamClient::builder()
        .base_url(emulator.url())
        .health_cache_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let first = cached.health_check_cached().await.unwrap();
    assert_eq!(first.status, "healthy");
    // The next request to the server fails; a cached answer does not make one.
    emulator
        .faults()
        .fail_next(503, "CLUSTER_UNAVAILABLE", "down");
    assert_eq!(cached.health_check_cached().await.unwrap(), first);
    // The uncached call meets the failure.
    assert!(cached.health_check().await.is_err());
    // Clearing the cache makes the next cached call ask the server: it meets the next failure,
    // and that failure is not cached (the call after it is answered again).
    cached.clear_health_cache();
    emulator
        .faults()
        .fail_next(503, "CLUSTER_UNAVAILABLE", "down");
    assert!(cached.health_check_cached().await.is_err());
    assert_eq!(cached.health_check_cached().await.unwrap(), first);

    let uncached = KalamClient::builder()
        .base_url(emulator.url())
        .health_cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    uncached.health_check_cached().await.unwrap();
    emulator
        .faults()
        .fail_next(503, "CLUSTER_UNAVAILABLE", "down");
    let err = uncached.health_check_cached().await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::ClusterUnavailable));
    uncached.health_check_cached().await.unwrap();
}

#[tokio::test]
async fn emulator_first_run_setup() {
    kalam_tests::emulator_only!();
    let emulator = Emulator::builder().needs_setup(true).start().await.unwrap();
    let client = KalamClient::builder()
        .base_url(emulator.url())
        .build()
        .unwrap();
    let status = client.setup_status().await.unwrap();
    assert!(status.needs_setup, "{status:?}");
    let root = client_for(&emulator.url(), "root", "RootPass456!");
    let err = kalam_client::query("SELECT 1")
        .execute(&root)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");

    let refused = [
        (
            ServerSetupRequest::new("owner", "short", "RootPass456!"),
            ErrorCode::WeakPassword,
        ),
        (
            ServerSetupRequest::new("owner", "OwnerPass123!", "short"),
            ErrorCode::WeakPassword,
        ),
        (
            ServerSetupRequest::new("root", "OwnerPass123!", "RootPass456!"),
            ErrorCode::InvalidUser,
        ),
    ];
    for (request, code) in refused {
        let err = client.setup(request).await.unwrap_err();
        assert_eq!(err.code(), Some(&code), "{err:?}");
    }
    let done = client
        .setup(
            ServerSetupRequest::new("owner", "OwnerPass123!", "RootPass456!")
                .email("o@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(done.user.id, "owner");
    assert_eq!(done.user.role, "dba");
    assert_eq!(done.user.email.as_deref(), Some("o@example.com"));
    assert!(!client.check_setup_status().await.unwrap().needs_setup);
    let err = client
        .setup(ServerSetupRequest::new(
            "other",
            "OtherPass123!",
            "RootPass789!",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::AlreadyConfigured));
    // The new accounts work.
    let owner = client_for(&emulator.url(), "owner", "OwnerPass123!");
    assert_eq!(
        kalam_client::query_as::<String>("SELECT CURRENT_USER()")
            .fetch_scalar(&owner)
            .await
            .unwrap(),
        "owner"
    );
    kalam_client::query("SELECT 1")
        .execute(&root)
        .await
        .unwrap();
}

#[tokio::test]
async fn cluster_health_is_typed() {
    let server = server_or_skip!();
    let client = admin_client(&server);
    let health = client.cluster_health().await.unwrap();
    assert_eq!(health.status, ClusterStatus::Healthy);
    assert!(!health.nodes.is_empty());
    assert_eq!(health.nodes.iter().filter(|n| n.is_self).count(), 1);
    if let Some(emulator) = server.emulator() {
        let me = health.nodes.iter().find(|n| n.is_self).unwrap();
        assert_eq!(me.api_addr, emulator.addr().to_string());
    }
}

async fn two_nodes() -> (Emulator, Emulator, KalamClient) {
    let a = Emulator::start().await.unwrap();
    let b = Emulator::start().await.unwrap();
    for node in [&a, &b] {
        let admin = emulator_admin(node);
        exec(&admin, "CREATE NAMESPACE app").await;
        exec(
            &admin,
            "CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'SHARED')",
        )
        .await;
    }
    let client = KalamClient::builder()
        .base_urls([a.url(), b.url()])
        .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
        .build()
        .unwrap();
    (a, b, client)
}

#[tokio::test]
async fn emulator_an_overloaded_node_is_left_for_the_next() {
    kalam_tests::emulator_only!();
    let (a, b, client) = two_nodes().await;
    assert_eq!(client.base_url(), a.url());
    exec(
        &client,
        "INSERT INTO app.notes (id, body) VALUES (1, 'on a')",
    )
    .await;
    a.faults().fail_next(503, "CLUSTER_UNAVAILABLE", "draining");
    exec(
        &client,
        "INSERT INTO app.notes (id, body) VALUES (2, 'on b')",
    )
    .await;
    assert_eq!(
        client.base_url(),
        b.url(),
        "the answering node stays in use"
    );
    exec(
        &client,
        "INSERT INTO app.notes (id, body) VALUES (3, 'on b')",
    )
    .await;
    let on_b: Vec<(i64,)> = kalam_client::query_as("SELECT id FROM app.notes ORDER BY id")
        .fetch_all(&emulator_admin(&b))
        .await
        .unwrap();
    assert_eq!(on_b, [(2,), (3,)]);
    let on_a: i64 = kalam_client::query_as("SELECT COUNT(*) FROM app.notes")
        .fetch_scalar(&emulator_admin(&a))
        .await
        .unwrap();
    assert_eq!(on_a, 1);
}

fn note_ids(event: &LiveEvent) -> Vec<i64> {
    let rows = match event {
        LiveEvent::InitialBatch { rows, .. } | LiveEvent::Insert { rows } => rows,
        _ => return Vec::new(),
    };
    rows.iter()
        .map(|r| r.try_get::<i64>("id").unwrap())
        .collect()
}

#[tokio::test]
async fn emulator_http_and_live_queries_fail_over_when_a_node_goes_away() {
    kalam_tests::emulator_only!();
    let (a, b, client) = two_nodes().await;
    let (a_url, b_url) = (a.url(), b.url());
    let mut events = client.live_events("SELECT * FROM app.notes").await.unwrap();
    exec(
        &client,
        "INSERT INTO app.notes (id, body) VALUES (1, 'on a')",
    )
    .await;
    let wait = Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout(wait, events.next())
            .await
            .unwrap()
            .unwrap();
        if note_ids(&event).contains(&1) {
            break;
        }
    }
    let health = client.cluster_health().await.unwrap();
    assert_eq!(health.nodes[0].api_addr, a.addr().to_string());

    a.shutdown().await;
    // HTTP moves to the node that answers…
    exec(
        &client,
        "INSERT INTO app.notes (id, body) VALUES (2, 'on b')",
    )
    .await;
    assert_eq!(client.base_url(), b_url);
    let health = client.cluster_health().await.unwrap();
    assert_eq!(health.nodes[0].api_addr, b.addr().to_string());
    // …and the live subscription reconnects there and sees its rows.
    let mut saw_disconnect = false;
    loop {
        let event = tokio::time::timeout(wait, events.next())
            .await
            .unwrap()
            .unwrap();
        match &event {
            LiveEvent::Disconnected { .. } => saw_disconnect = true,
            LiveEvent::Error { code, message } => panic!("live error {code}: {message}"),
            _ => {}
        }
        if note_ids(&event).contains(&2) {
            break;
        }
    }
    assert!(saw_disconnect);
    exec(
        &client,
        "INSERT INTO app.notes (id, body) VALUES (3, 'on b')",
    )
    .await;
    loop {
        let event = tokio::time::timeout(wait, events.next())
            .await
            .unwrap()
            .unwrap();
        if note_ids(&event).contains(&3) {
            break;
        }
    }
    // A client whose first contact is a live subscription skips the dead node too.
    let fresh = KalamClient::builder()
        .base_urls([a_url, b_url.clone()])
        .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
        .build()
        .unwrap();
    let mut events = fresh.live_events("SELECT * FROM app.notes").await.unwrap();
    assert_eq!(fresh.base_url(), b_url);
    loop {
        let event = tokio::time::timeout(wait, events.next())
            .await
            .unwrap()
            .unwrap();
        assert!(!matches!(event, LiveEvent::Error { .. }), "{event:?}");
        if note_ids(&event).len() == 2 {
            break;
        }
    }
}

/// An upload whose token has expired is sent again after the provider hands out a new one,
/// like every other request (the multipart form is rebuilt for the resend).
#[tokio::test]
async fn emulator_an_upload_with_an_expired_token_renews_it_and_is_sent_again() {
    kalam_tests::emulator_only!();
    let emulator = Emulator::builder()
        .jwt_expiry(Duration::from_secs(1))
        .jwt_leeway(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let url = emulator.url();
    let (user, password) = kalam_emulator::DEFAULT_ADMIN;
    let admin = emulator_admin(&emulator);
    exec(&admin, "CREATE NAMESPACE IF NOT EXISTS renew").await;
    exec(
        &admin,
        "CREATE TABLE renew.docs (id BIGINT PRIMARY KEY, body FILE) WITH (TYPE = 'SHARED')",
    )
    .await;
    let expired = client_for(&url, user, password)
        .login(user, password)
        .await
        .unwrap()
        .access_token;
    // Waiting out the token's one-second lifetime: there is no event to await.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let calls = Arc::new(AtomicUsize::new(0));
    let renewing = renewing_client(&url, expired, user, password, calls.clone());
    let inserted =
        kalam_client::files::upload("INSERT INTO renew.docs (id, body) VALUES (1, FILE(\"f\"))")
            .file("f", FileUpload::from_bytes("note.txt", b"hello".to_vec()))
            .execute(&renewing)
            .await
            .unwrap();
    assert_eq!(inserted, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let file: FileRef = kalam_client::query_as("SELECT body FROM renew.docs WHERE id = 1")
        .fetch_scalar(&renewing)
        .await
        .unwrap();
    assert_eq!((file.name.as_str(), file.size), ("note.txt", 5));
}
