#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    owner: String,
}

fn main() {}
