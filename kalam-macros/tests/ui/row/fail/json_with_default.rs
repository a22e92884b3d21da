#[derive(kalam_client::KalamRow)]
struct Todo {
    #[kalam(json, default)]
    meta: Vec<String>,
}

fn main() {}
