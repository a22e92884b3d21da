#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    due_at: Option<String>,
}

fn main() {}
