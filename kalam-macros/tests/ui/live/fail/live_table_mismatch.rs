#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
}

async fn run(client: &kalam_client::KalamClient) {
    let _ = kalam_client::live!(client, Todo, "SELECT id FROM app.board").await;
}

fn main() {
    let _ = run;
}
