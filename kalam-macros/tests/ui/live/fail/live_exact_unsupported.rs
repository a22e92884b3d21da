#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: String,
}

async fn run(client: &kalam_client::KalamClient) {
    let _ = kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE CASE WHEN done THEN 1 ELSE 0 END = 1");
}

fn main() {
    let _ = run;
}
