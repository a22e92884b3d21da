//! A topic consumer: shop orders and refunds flow into one topic; a worker handles each
//! event as a typed enum, retries failures, commits after every batch, and stops on a signal.
//!
//! ```sh
//! cargo run -p kalam-examples --bin topic-consumer
//! ```
//!
//! With no `KALAMDB_SERVER_URL` set it starts the in-process emulator. Against a real server
//! set `KALAMDB_SERVER_URL`, `KALAMDB_USER` and `KALAMDB_PASSWORD` (a dba user: the example
//! creates the `shop_demo` namespace, two tables and a topic, and drops them at the end).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kalam_client::consumer::{AutoOffsetReset, TopicOp, TopicRecord};
use kalam_client::{Error, KalamRow, topic_payload};
use kalam_examples::Server;

#[derive(Debug, KalamRow)]
struct Order {
    id: i64,
    customer: String,
    total_cents: i64,
}

#[derive(Debug, KalamRow)]
struct Refund {
    id: i64,
    order_id: i64,
    reason: String,
}

topic_payload! {
    /// The topic's events: one variant per source table, chosen by the record's `_table`.
    #[derive(Debug)]
    enum ShopEvent {
        "shop_demo.orders" => Order(Order),
        "shop_demo.refunds" => Refund(Refund),
    }
}

const SETUP: &[&str] = &[
    "CREATE NAMESPACE IF NOT EXISTS shop_demo",
    "CREATE TABLE IF NOT EXISTS shop_demo.orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, \
     total_cents BIGINT NOT NULL) WITH (TYPE = 'SHARED')",
    "CREATE TABLE IF NOT EXISTS shop_demo.refunds (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, \
     reason TEXT NOT NULL) WITH (TYPE = 'SHARED')",
    "CREATE TOPIC shop_demo.events PARTITIONS 1",
    "ALTER TOPIC shop_demo.events ADD SOURCE shop_demo.orders ON INSERT WITH (payload = 'full')",
    "ALTER TOPIC shop_demo.events ADD SOURCE shop_demo.orders ON UPDATE WITH (payload = 'full')",
    "ALTER TOPIC shop_demo.events ADD SOURCE shop_demo.refunds ON INSERT WITH (payload = 'full')",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::from_env(kalam_emulator::Emulator::builder()).await?;
    let client = server.client()?;
    for sql in SETUP {
        kalam_client::query(*sql).execute(&client).await?;
    }

    // The producer: three orders, a correction and a refund.
    kalam_client::query(
        "INSERT INTO shop_demo.orders (id, customer, total_cents) VALUES \
             (1, 'ada', 4200), (2, 'grace', 1999), (3, 'linus', 500)",
    )
    .execute(&client)
    .await?;
    kalam_client::query("UPDATE shop_demo.orders SET total_cents = 2199 WHERE id = 2")
        .execute(&client)
        .await?;
    kalam_client::query(
        "INSERT INTO shop_demo.refunds (id, order_id, reason) VALUES (10, 3, 'damaged')",
    )
    .execute(&client)
    .await?;
    let expected = 5;

    let consumer = client
        .consumer()
        .group_id("billing")
        .topic("shop_demo.events")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(2)
        .on_ack_error(|e| eprintln!("commit failed: {e}"))
        .build()?;
    // The worker stops once every event is handled (a service would use ctrl-c).
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stop = Arc::new(Mutex::new(Some(stop)));
    let handled = Arc::new(AtomicUsize::new(0));
    let failed_once = Arc::new(AtomicUsize::new(0));
    let report = consumer
        .worker()
        .max_retries(3)
        .retry_backoff(Duration::from_millis(50))
        .idle_wait(Duration::from_millis(100))
        .run(
            async {
                let _ = stopped.await;
            },
            |record: TopicRecord| {
                let handled = Arc::clone(&handled);
                let failed_once = Arc::clone(&failed_once);
                let stop = Arc::clone(&stop);
                async move {
                    let event: ShopEvent = record.decode()?;
                    // A flaky downstream: the refund fails once and succeeds on the retry.
                    if matches!(event, ShopEvent::Refund(_))
                        && failed_once.fetch_add(1, Ordering::SeqCst) == 0
                    {
                        println!(
                            "   offset {}: downstream timeout, will retry",
                            record.offset
                        );
                        return Err(Error::Protocol("downstream timeout".into()));
                    }
                    let verb = match record.op {
                        TopicOp::Insert => "new",
                        TopicOp::Update => "changed",
                        TopicOp::Delete => "removed",
                    };
                    match &event {
                        ShopEvent::Order(o) => println!(
                            "offset {} ({verb} by {}): order #{} for {}: {:.2}",
                            record.offset,
                            record.user.as_deref().unwrap_or("?"),
                            o.id,
                            o.customer,
                            o.total_cents as f64 / 100.0
                        ),
                        ShopEvent::Refund(r) => println!(
                            "offset {} ({verb}): refund #{} of order #{}: {}",
                            record.offset, r.id, r.order_id, r.reason
                        ),
                    }
                    if handled.fetch_add(1, Ordering::SeqCst) + 1 == expected {
                        let sender = stop.lock().map(|mut s| s.take()).ok().flatten();
                        if let Some(sender) = sender {
                            let _ = sender.send(());
                        }
                    }
                    Ok::<(), Error>(())
                }
            },
        )
        .await?;
    println!(
        "handled {} events ({} retried), committed up to offset {:?}",
        report.processed, report.retries, report.committed
    );

    // A new consumer of the same group starts after the commit: nothing is left.
    let mut again = client
        .consumer()
        .group_id("billing")
        .topic("shop_demo.events")
        .build()?;
    println!(
        "left for the group: {} events",
        again.consume_batch().await?.len()
    );

    for sql in [
        "DROP TOPIC shop_demo.events",
        "DROP TABLE shop_demo.refunds",
        "DROP TABLE shop_demo.orders",
    ] {
        kalam_client::query(sql).execute(&client).await?;
    }
    Ok(())
}
