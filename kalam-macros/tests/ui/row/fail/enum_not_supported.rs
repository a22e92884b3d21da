#[derive(kalam_client::KalamRow)]
enum Kind {
    A,
}

fn main() {}
