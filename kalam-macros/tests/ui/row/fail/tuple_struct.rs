#[derive(kalam_client::KalamRow)]
struct Pair(i64, String);

fn main() {}
