#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    owner: String,
}

fn main() {
    let _ = kalam_client::query_as!(Todo, "SELECT id, owner FROM app.todos");
}
