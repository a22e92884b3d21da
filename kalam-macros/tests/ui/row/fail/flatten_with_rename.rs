#[derive(kalam_client::KalamRow)]
struct Inner {
    id: i64,
}

#[derive(kalam_client::KalamRow)]
struct Outer {
    #[kalam(flatten, rename = "x")]
    inner: Inner,
}

fn main() {}
