use kalam_client::types::JsonValue;
use kalam_client::{KalamClient, Result};

// Functions the engine plans, typed as it types them.
async fn run(client: &KalamClient) -> Result<()> {
    let row = kalam_client::query!(
        "SELECT GREATEST(priority, 1) AS g, DATE_PART('year', due_at) AS y,
                meta->>'tag' AS tag, JSON_GET_INT(meta, 'n') AS n, JSON_CONTAINS(meta, 'tag') AS has,
                LEFT(title, 3) AS head, STRPOS(title, 'x') AS at, ARRAY[1, 2] AS pair
         FROM app.todos WHERE id = $1",
        1_i64
    )
    .fetch_one(client)
    .await?;
    let _: Option<i64> = row.g;
    let _: Option<i32> = row.y;
    let _: Option<String> = row.tag;
    let _: Option<i64> = row.n;
    let _: Option<bool> = row.has;
    let _: Option<String> = row.head;
    let _: i32 = row.at;
    let _: Option<JsonValue> = row.pair;
    Ok(())
}

fn main() {
    let _ = run;
}
