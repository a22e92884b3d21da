use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    // Paths are relative to CARGO_MANIFEST_DIR, here trybuild's project in target/tests/trybuild.
    let rows = kalam_client::query_file!("../../../../kalam-macros/tests/ui/query/pass/todos.sql", false)
        .fetch_all(client)
        .await?;
    let _: (i64, &String) = (rows[0].id, &rows[0].title);
    Ok(())
}

fn main() {
    let _ = run;
}
