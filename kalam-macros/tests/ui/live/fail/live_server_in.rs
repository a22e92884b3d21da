#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: String,
}

async fn run(client: &kalam_client::KalamClient) {
    let _ = kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE id IN (1, 2)", filter = server);
}

fn main() {
    let _ = run;
}
