#[derive(kalam_client::KalamRow)]
struct Todo {
    #[kalam(rename = 5)]
    id: i64,
}

fn main() {}
