#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: String,
}

async fn run(client: &kalam_client::KalamClient) {
    let since = kalam_client::types::Timestamp::from_micros(0);
    let _ = kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE due_at > {since}", filter = server);
}

fn main() {
    let _ = run;
}
