fn main() {
    let _ = kalam_client::query!("SELECT id FROM app.todos WHERE done = $1", "yes");
}
