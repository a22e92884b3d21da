#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todos", rename_all = "camelCase")]
struct Todo {
    id: i64,
    due_at: Option<kalam_client::types::Timestamp>,
}

fn main() {}
