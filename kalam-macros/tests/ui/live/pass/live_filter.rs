use kalam_client::KalamRow;

#[derive(KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    title: String,
}

async fn run(client: &kalam_client::KalamClient) -> kalam_client::Result<()> {
    let owner = "o'brien";
    let done = false;
    let live = kalam_client::live!(client, Todo, "SELECT id, title FROM app.todos WHERE owner = {owner} AND done = {done} AND priority > {1_i16}");
    assert_eq!(
        live.sql().unwrap(),
        "SELECT id, title FROM app.todos WHERE owner = 'o''brien' AND done = FALSE AND priority > 1"
    );
    Ok(())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let client = kalam_client::KalamClient::builder().base_url("http://127.0.0.1:9").build().unwrap();
    rt.block_on(run(&client)).unwrap();
}
