#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: bool,
}

fn main() {
    let _ = kalam_client::query_as!(Todo, "SELECT id, title FROM app.todos");
}
