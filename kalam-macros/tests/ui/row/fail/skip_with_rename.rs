#[derive(kalam_client::KalamRow)]
struct Todo {
    #[kalam(skip, rename = "x")]
    id: i64,
}

fn main() {}
