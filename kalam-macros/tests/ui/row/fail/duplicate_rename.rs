#[derive(kalam_client::KalamRow)]
struct Todo {
    #[kalam(rename = "a", rename = "b")]
    id: i64,
}

fn main() {}
