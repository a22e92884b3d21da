//! The legs against a server: `fetch_all` of 10,000 rows through the paging, SELECT round trips
//! per second under concurrency, insert-to-live-event latency, and reconnect-to-resubscribed
//! with 10 subscriptions. Both clients talk to the same emulator in the same run; writes are
//! always sent by our HTTP client, so the server's side of the work is the same for both.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use futures_util::StreamExt;
use kalam_client::live::{LiveChange, LiveEvent, LoadState};
use kalam_client::{AuthProvider, KalamClient};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::common::{COLUMNS_DDL, Item, OfficialItem, SELECT_COLUMNS};
use crate::{leg, record};

/// Rows of the table read by `fetch_all`.
const TABLE_ROWS: i64 = 10_000;
/// Rows of the table the round trips read (small, so that the server's scan does not drown
/// the clients' cost).
const RTT_ROWS: i64 = 100;
/// How long each client runs its round trips at each concurrency, per round, and the rounds
/// per client (alternating the clients, so that both see the same load).
const ROUND: Duration = Duration::from_millis(500);
const ROUNDS: usize = 8;
/// Concurrent tasks of the round-trip legs.
pub const TASKS: [usize; 3] = [1, 8, 64];
/// Inserts per client in the latency leg.
const LATENCY_SAMPLES: i64 = 300;
/// Subscriptions per client in the reconnect leg, and its trials per client.
const SUBSCRIPTIONS: usize = 10;
const RECONNECTS: usize = 5;

/// The server the legs use, with a dba's credentials.
struct Server {
    _child: Option<Child>,
    url: String,
    user: String,
    password: String,
}

impl Server {
    fn ours(&self, url: &str) -> KalamClient {
        KalamClient::builder()
            .base_url(url.to_owned())
            .auth(AuthProvider::basic_auth(
                self.user.clone(),
                self.password.clone(),
            ))
            .build()
            .unwrap()
    }

    fn official(&self, url: &str) -> official::KalamLinkClient {
        official::KalamLinkClient::builder()
            .base_url(url.to_owned())
            .auth(official::AuthProvider::basic_auth(
                self.user.clone(),
                self.password.clone(),
            ))
            .build()
            .unwrap()
    }
}

/// The emulator binary: `KALAM_EMULATOR_BIN`, else `kalam-emulator` in the target directory
/// this benchmark was built in (debug build first).
fn emulator_bin() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("KALAM_EMULATOR_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/report-<hash>
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    let name = format!("kalam-emulator{}", std::env::consts::EXE_SUFFIX);
    for profile in ["debug", "release"] {
        let bin = target.join(profile).join(&name);
        if bin.exists() {
            return bin;
        }
    }
    eprintln!(
        "kalam-emulator is missing in {}: run `cargo build -p kalam-emulator --bin kalam-emulator` first",
        target.display()
    );
    std::process::exit(2);
}

/// Starts the emulator on a free port, or uses `KALAMDB_SERVER_URL` (with `KALAMDB_USER` and
/// `KALAMDB_PASSWORD`, a dba).
async fn start() -> Server {
    if let Ok(url) = std::env::var("KALAMDB_SERVER_URL") {
        return Server {
            _child: None,
            url,
            user: std::env::var("KALAMDB_USER").unwrap(),
            password: std::env::var("KALAMDB_PASSWORD").unwrap(),
        };
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(emulator_bin())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // Both clients hold their reconnect leg's subscriptions at once.
        .args(["--ws-max-subscriptions-per-user", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.strip_prefix("listening on ") {
            return Server {
                _child: Some(child),
                url: url.trim().to_owned(),
                user: "admin".into(),
                password: "AdminPass123!".into(),
            };
        }
    }
    panic!("the emulator exited before listening");
}

fn insert_values(id: i64) -> String {
    format!(
        "({id}, 'Item number {id}', {}, {}, {}.50, {}, 0.5, 'a note')",
        id % 2 == 0,
        id % 1000,
        id % 500,
        1_748_822_400_000_000_i64 + id * 1_000_000
    )
}

fn insert_sql(table: &str, id: i64) -> String {
    format!(
        "INSERT INTO {table} ({SELECT_COLUMNS}) VALUES {}",
        insert_values(id)
    )
}

/// Runs every server leg.
pub fn run(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(start());
    let ours = server.ours(&server.url);
    let official = Arc::new(server.official(&server.url));
    let run = std::process::id();
    let (items, small) = (format!("bench.items_{run}"), format!("bench.rtt_{run}"));
    rt.block_on(async {
        kalam_client::query("CREATE NAMESPACE IF NOT EXISTS bench")
            .execute(&ours)
            .await
            .unwrap();
        for (table, rows) in [(&items, TABLE_ROWS), (&small, RTT_ROWS)] {
            kalam_client::query(format!("CREATE SHARED TABLE {table} ({COLUMNS_DDL})"))
                .execute(&ours)
                .await
                .unwrap();
            for chunk in (1..=rows).collect::<Vec<_>>().chunks(500) {
                let values: Vec<String> = chunk.iter().map(|&id| insert_values(id)).collect();
                kalam_client::query(format!(
                    "INSERT INTO {table} ({SELECT_COLUMNS}) VALUES {}",
                    values.join(", ")
                ))
                .execute(&ours)
                .await
                .unwrap();
            }
        }
    });

    fetch_all(c, &rt, &ours, &official, &items);
    rt.block_on(round_trips(&ours, &official, &small));
    rt.block_on(latency(&server, &ours));
    rt.block_on(reconnect(&server, &ours));
}

/// Every row of the 10,000-row table: ours through `fetch_all`, which caps each request at the
/// server's `max_query_limit` (1,000) and keyset-pages past it; the official SDK through the
/// same keyset pages written by hand (alone, it returns the server's first 50 rows, or 1,000
/// with a `LIMIT`), each page read as row maps into the same struct.
fn fetch_all(
    c: &mut Criterion,
    rt: &Runtime,
    ours: &KalamClient,
    official: &official::KalamLinkClient,
    items: &str,
) {
    let all_sql = format!("SELECT {SELECT_COLUMNS} FROM {items}");
    let page_sql =
        format!("SELECT {SELECT_COLUMNS} FROM {items} WHERE id > $1 ORDER BY id LIMIT 1000");
    let read_ours = || async {
        kalam_client::query_as::<Item>(all_sql.clone())
            .fetch_all(ours)
            .await
            .unwrap()
    };
    let read_official = || async {
        let mut rows = Vec::new();
        let mut last = 0_i64;
        loop {
            let resp = official
                .execute_query(
                    &page_sql,
                    None,
                    Some(vec![official::QueryParam::from(last)]),
                    None,
                )
                .await
                .unwrap();
            let page: Vec<OfficialItem> = resp
                .rows_as_maps()
                .iter()
                .map(OfficialItem::from_map)
                .collect();
            let full = page.len() == 1000;
            last = page.last().map_or(last, |r| r.id);
            rows.extend(page);
            if !full {
                return rows;
            }
        }
    };
    assert_eq!(rt.block_on(read_ours()).len(), TABLE_ROWS as usize);
    assert_eq!(rt.block_on(read_official()).len(), TABLE_ROWS as usize);
    let mut group = c.benchmark_group("fetch_all");
    leg(
        &mut group,
        BenchmarkId::new("ours", TABLE_ROWS),
        "fetch_all/ours",
        1.0,
        || (),
        |()| rt.block_on(read_ours()),
    );
    leg(
        &mut group,
        BenchmarkId::new("official", TABLE_ROWS),
        "fetch_all/official",
        1.0,
        || (),
        |()| rt.block_on(read_official()),
    );
    group.finish();
}

/// Round trips completed by `tasks` tasks running `query` back to back for `ROUND`.
async fn count_round_trips<F, Fut>(tasks: usize, query: F) -> u64
where
    F: Fn(i64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + ROUND;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (query, done) = (query.clone(), done.clone());
            tokio::spawn(async move {
                let mut id = t as i64;
                while Instant::now() < deadline {
                    query(id % RTT_ROWS + 1).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    id += 7;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// SELECT round trips per second at 1, 8 and 64 concurrent tasks: one row by primary key of a
/// 100-row table with a `$1` parameter, decoded into the 8-column struct (ours: `fetch_one`; official:
/// `execute_query` and a row map). Eight rounds per client and concurrency, alternating; each
/// round is recorded as seconds per round trip (the report shows the best round's rate).
async fn round_trips(ours: &KalamClient, official: &Arc<official::KalamLinkClient>, items: &str) {
    let sql: Arc<str> = format!("SELECT {SELECT_COLUMNS} FROM {items} WHERE id = $1").into();
    for tasks in TASKS {
        for _ in 0..ROUNDS {
            let (client, sql2) = (ours.clone(), sql.clone());
            let n = count_round_trips(tasks, move |id| {
                let (client, sql) = (client.clone(), sql2.clone());
                async move {
                    let item: Item = kalam_client::query_as::<Item>(sql.to_string())
                        .bind(id)
                        .fetch_one(&client)
                        .await
                        .unwrap();
                    assert_eq!(item.id, id);
                }
            })
            .await;
            record(&format!("rtt/ours/{tasks}"), ROUND.as_secs_f64() / n as f64);
            let (client, sql2) = (official.clone(), sql.clone());
            let n = count_round_trips(tasks, move |id| {
                let (client, sql) = (client.clone(), sql2.clone());
                async move {
                    let resp = client
                        .execute_query(&sql, None, Some(vec![official::QueryParam::from(id)]), None)
                        .await
                        .unwrap();
                    let rows = resp.rows_as_maps();
                    assert_eq!(OfficialItem::from_map(&rows[0]).id, id);
                }
            })
            .await;
            record(
                &format!("rtt/official/{tasks}"),
                ROUND.as_secs_f64() / n as f64,
            );
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64()
}

fn record_latency(side: &str, mut samples: Vec<Duration>) {
    samples.sort();
    record(&format!("latency/{side}/median"), percentile(&samples, 0.5));
    record(&format!("latency/{side}/p99"), percentile(&samples, 0.99));
}

/// Insert-to-event latency: from sending an INSERT until the live subscription delivers the
/// row, for our typed `live::<Item>()` (a `LiveChange::Inserted`) and the official `live()`
/// (the `Rows` snapshot that contains it). Each client watches its own table; the inserts
/// alternate between the two.
async fn latency(server: &Server, ours: &KalamClient) {
    let run = std::process::id();
    let (t_ours, t_official) = (
        format!("bench.lat_ours_{run}"),
        format!("bench.lat_official_{run}"),
    );
    for t in [&t_ours, &t_official] {
        kalam_client::query(format!("CREATE SHARED TABLE {t} ({COLUMNS_DDL})"))
            .execute(ours)
            .await
            .unwrap();
    }
    let mut live = ours
        .live::<Item>(&format!("SELECT {SELECT_COLUMNS} FROM {t_ours}"))
        .await
        .unwrap();
    while live.state() != LoadState::Ready {
        live.next().await.unwrap().unwrap();
    }
    let official = server.official(&server.url);
    let mut sub = official
        .live(&format!("SELECT {SELECT_COLUMNS} FROM {t_official}"))
        .await
        .unwrap();
    // The ack's snapshot, then the initial batch's.
    sub.next().await.unwrap().unwrap();

    let timeout = Duration::from_secs(10);
    let (mut ours_samples, mut official_samples) = (Vec::new(), Vec::new());
    for id in 1..=LATENCY_SAMPLES {
        let start = Instant::now();
        kalam_client::query(insert_sql(&t_ours, id))
            .execute(ours)
            .await
            .unwrap();
        loop {
            let event = tokio::time::timeout(timeout, live.next())
                .await
                .expect("ours: no event")
                .unwrap()
                .unwrap();
            if matches!(&event.change, LiveChange::Inserted(item) if item.id == id) {
                break;
            }
        }
        ours_samples.push(start.elapsed());

        let start = Instant::now();
        kalam_client::query(insert_sql(&t_official, id))
            .execute(ours)
            .await
            .unwrap();
        loop {
            let event = tokio::time::timeout(timeout, sub.next())
                .await
                .expect("official: no event")
                .unwrap()
                .unwrap();
            let official::LiveRowsEvent::Rows { rows, .. } = event else {
                panic!("official: {event:?}")
            };
            if rows
                .iter()
                .any(|r| r.get("id").and_then(|c| c.as_big_int()) == Some(id))
            {
                break;
            }
        }
        official_samples.push(start.elapsed());
    }
    record_latency("ours", ours_samples);
    record_latency("official", official_samples);
}

/// A loopback TCP proxy whose connections can all be cut at once (a dropped socket, as a
/// network failure or a server restart looks to the client).
struct Proxy {
    url: String,
    conns: Arc<std::sync::Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let list = conns.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                list.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { url, conns }
    }

    /// Closes every connection open through the proxy.
    fn cut(&self) {
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }
}

/// The `id` of a live row, if it has one.
fn ours_has(event: &LiveEvent, id: i64) -> bool {
    match event {
        LiveEvent::InitialBatch { rows, .. } | LiveEvent::Insert { rows } => {
            rows.iter().any(|r| r.try_get::<i64>("id").ok() == Some(id))
        }
        _ => false,
    }
}

fn official_has(event: &official::ChangeEvent, id: i64) -> bool {
    match event {
        official::ChangeEvent::InitialDataBatch { rows, .. }
        | official::ChangeEvent::Insert { rows, .. } => rows
            .iter()
            .any(|r| r.get("id").and_then(|c| c.as_big_int()) == Some(id)),
        _ => false,
    }
}

/// Reconnect-to-resubscribed: each client holds 10 subscriptions (one table each) on one
/// socket through its own proxy; the proxy cuts every connection and at once a row is inserted
/// into each table (directly, not through the proxy). Measured: from the cut until every one
/// of the 10 subscriptions has delivered its row, i.e. the client noticed, reconnected,
/// resubscribed from where it was and caught up. Each client with its default reconnect
/// settings; five trials each, alternating.
async fn reconnect(server: &Server, direct: &KalamClient) {
    // One proxy per client, so that cutting one client's socket leaves the other's alone.
    let (ours_proxy, official_proxy) = (
        Proxy::start(&server.url).await,
        Proxy::start(&server.url).await,
    );
    let run = std::process::id();
    let mut tables = [Vec::new(), Vec::new()];
    for (side, list) in tables.iter_mut().enumerate() {
        for i in 0..SUBSCRIPTIONS {
            let t = format!("bench.rc_{run}_{side}_{i}");
            kalam_client::query(format!("CREATE SHARED TABLE {t} ({COLUMNS_DDL})"))
                .execute(direct)
                .await
                .unwrap();
            list.push(t);
        }
    }
    let ours = server.ours(&ours_proxy.url);
    let mut ours_subs = Vec::new();
    for t in &tables[0] {
        let mut s = ours
            .live_events(&format!("SELECT {SELECT_COLUMNS} FROM {t}"))
            .await
            .unwrap();
        // The ack, then the (empty) initial batch.
        s.next().await.unwrap();
        ours_subs.push(s);
    }
    let official = server.official(&official_proxy.url);
    let mut official_subs = Vec::new();
    for t in &tables[1] {
        official_subs.push(
            official
                .live_events(&format!("SELECT {SELECT_COLUMNS} FROM {t}"))
                .await
                .unwrap(),
        );
    }
    let insert_all = |side: usize, id: i64| {
        let tables = &tables[side];
        async move {
            for t in tables {
                kalam_client::query(insert_sql(t, id))
                    .execute(direct)
                    .await
                    .unwrap();
            }
        }
    };
    let (mut ours_ok, mut official_ok) = (true, true);
    for trial in 1..=RECONNECTS as i64 {
        if ours_ok {
            let caught_up = all_deliver(
                &mut ours_subs,
                async |s| s.next().await,
                |e| ours_has(e, trial),
            );
            ours_ok = timed_cut(
                &ours_proxy,
                "reconnect/ours",
                insert_all(0, trial),
                caught_up,
            )
            .await;
        }
        if official_ok {
            let caught_up = all_deliver(
                &mut official_subs,
                async |s| s.next().await,
                |e| e.as_ref().is_ok_and(|e| official_has(e, trial)),
            );
            official_ok = timed_cut(
                &official_proxy,
                "reconnect/official",
                insert_all(1, trial),
                caught_up,
            )
            .await;
        }
    }
}

/// Whether every subscription delivers an event that `has` accepts (false: one ended first).
async fn all_deliver<S, E>(
    subs: &mut [S],
    mut next: impl AsyncFnMut(&mut S) -> Option<E>,
    has: impl Fn(&E) -> bool,
) -> bool {
    for s in subs {
        loop {
            match next(s).await {
                Some(event) if has(&event) => break,
                Some(_) => {}
                None => return false,
            }
        }
    }
    true
}

/// Cuts the proxy's connections, runs `insert`, and records under `key` the time until
/// `caught_up` is true (at most a minute); false if it is not.
async fn timed_cut(
    proxy: &Proxy,
    key: &str,
    insert: impl Future<Output = ()>,
    caught_up: impl Future<Output = bool>,
) -> bool {
    proxy.cut();
    let start = Instant::now();
    insert.await;
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(60), caught_up).await,
        Ok(true)
    );
    if ok {
        record(key, start.elapsed().as_secs_f64());
    } else {
        eprintln!("{key}: the subscriptions did not all catch up within a minute");
    }
    ok
}
