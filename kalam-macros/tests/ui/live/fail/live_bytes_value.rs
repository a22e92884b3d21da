#[derive(kalam_client::KalamRow)]
struct Row {
    id: i64,
}

async fn run(client: &kalam_client::KalamClient) {
    let bin: Vec<u8> = vec![1];
    let _ = kalam_client::live!(client, Row, "SELECT id FROM types.all_types WHERE bin = {bin}");
}

fn main() {
    let _ = run;
}
