#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: String,
}

async fn run(client: &kalam_client::KalamClient) {
    // An explicit projection is read whole, as by query_as!.
    let _ = kalam_client::live!(client, Todo, "SELECT id, title, done FROM app.todos").await;
}

fn main() {
    let _ = run;
}
