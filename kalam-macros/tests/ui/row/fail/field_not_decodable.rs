// A field whose type no column decodes into (no `FromCell` impl): the error names the type.
#[derive(kalam_client::KalamRow)]
struct Job {
    id: i64,
    timeout: std::time::Duration,
}

fn main() {}
