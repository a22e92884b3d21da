use kalam_client::KalamRow;
use kalam_client::types::{Date, Timestamp};

#[derive(KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    title: String,
}

#[derive(KalamRow)]
struct Typed {
    id: i64,
}

// Exact mode (the default) takes every filter the client evaluates; the rendered SQL is the
// WHERE as written, with `{values}` as literals.
async fn run(client: &kalam_client::KalamClient) -> kalam_client::Result<()> {
    let since = Timestamp::from_micros(1_748_822_400_000_000);
    let day: Date = "2025-06-01".parse().unwrap();
    let low = -1_i16;
    let exact = [
        kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE id IN (1, 2) OR id BETWEEN 5 AND 9").into_sql()?,
        kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE owner IS NULL AND NOT done").into_sql()?,
        kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE priority > {low} AND due_at > {since}").into_sql()?,
        kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE LOWER(title) > 'm' OR priority + 1 = 2").into_sql()?,
        kalam_client::live!(client, Typed, "SELECT id FROM types.all_types WHERE d = {day} AND dec > 1.5 AND b", filter = exact).into_sql()?,
    ];
    assert_eq!(
        exact[2],
        "SELECT id, title FROM app.todos WHERE priority > -1 AND due_at > '2025-06-02T00:00:00Z'"
    );
    assert_eq!(exact[4], "SELECT id FROM types.all_types WHERE d = '2025-06-01' AND dec > 1.5 AND b");
    // Server mode takes only what the server delivers.
    let owner = "o'brien";
    let server = kalam_client::live!(
        client,
        Todo,
        "SELECT id, title FROM app.todos WHERE owner = {owner} AND (done = false OR priority > 2)",
        filter = server
    );
    assert_eq!(
        server.into_sql()?,
        "SELECT id, title FROM app.todos WHERE owner = 'o''brien' AND (done = false OR priority > 2)"
    );
    Ok(())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let client = kalam_client::KalamClient::builder().base_url("http://127.0.0.1:9").build().unwrap();
    rt.block_on(run(&client)).unwrap();
}
