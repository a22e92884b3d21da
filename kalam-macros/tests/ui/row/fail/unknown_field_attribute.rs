#[derive(kalam_client::KalamRow)]
struct Todo {
    #[kalam(renamed = "x")]
    id: i64,
}

fn main() {}
