#[derive(kalam_client::KalamRow)]
#[kalam(rename_all = "camel")]
struct Todo {
    due_at: i64,
}

fn main() {}
