#[derive(kalam_client::KalamRow)]
struct Row {
    id: i64,
}

async fn run(client: &kalam_client::KalamClient) {
    let _ = kalam_client::live!(client, Row, "SELECT id FROM types.all_types WHERE d = '2025-06-01'", filter = server);
}

fn main() {
    let _ = run;
}
