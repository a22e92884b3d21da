#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todo")]
struct Todo {
    id: i64,
}

fn main() {}
