#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    #[kalam(rename = "due")]
    due_at: Option<kalam_client::types::Timestamp>,
}

fn main() {}
