use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let _ = kalam_client::query!(
        "SELECT id FROM types.all_types WHERE b = $1 AND i16 = $2 AND i32 = $3 AND i64 = $4 AND f64 = $5 AND txt = $6 AND ts = $7 AND d = $8 AND u = $9 AND dec = $10",
        true,
        1_i16,
        2_i32,
        3_i64,
        1.5_f64,
        String::from("s"),
        kalam_client::types::Timestamp::from_micros(0),
        kalam_client::types::Date::from_days(0),
        kalam_client::types::Uuid::from_bytes([0; 16]),
        kalam_client::types::Decimal::new(150, 2).unwrap()
    )
    .fetch_all(client)
    .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
