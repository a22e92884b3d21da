#[derive(kalam_client::KalamRow)]
#[kalam(crate = "not a path")]
struct Todo {
    id: i64,
}

fn main() {}
