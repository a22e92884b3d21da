#[derive(kalam_client::KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i32,
}

fn main() {}
