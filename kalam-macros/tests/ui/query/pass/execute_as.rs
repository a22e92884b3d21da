use kalam_client::{KalamClient, Result};

async fn run(client: &KalamClient) -> Result<()> {
    let rows = kalam_client::execute_as!("alice", "SELECT id, title FROM app.board")
        .fetch_all(client)
        .await?;
    let _: i64 = rows[0].id;
    let user = String::from("bob");
    kalam_client::execute_as!(&user, "INSERT INTO app.todos (id, title) VALUES ($1, $2)", 5_i64, "x")
        .execute(client)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
