#[derive(kalam_client::KalamRow)]
struct Row {
    id: i64,
}

async fn run(client: &kalam_client::KalamClient) {
    let _ = kalam_client::live!(client, Row, "SELECT id FROM types.all_types WHERE opt_int > 2 OR txt = 'x'", filter = server);
}

fn main() {
    let _ = run;
}
