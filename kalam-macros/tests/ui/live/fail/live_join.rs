#[derive(kalam_client::KalamRow)]
struct Todo {
    id: i64,
    title: String,
}

async fn run(client: &kalam_client::KalamClient) {
    let _ = kalam_client::live!(client, Todo, "SELECT t.id, t.title FROM app.todos t JOIN app.comments c ON c.todo_id = t.id");
}

fn main() {
    let _ = run;
}
