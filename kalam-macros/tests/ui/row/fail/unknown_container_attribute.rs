#[derive(kalam_client::KalamRow)]
#[kalam(tabel = "app.todos")]
struct Todo {
    id: i64,
}

fn main() {}
