fn main() {
    let _ = kalam_client::query!("SELECT JSON_GET(meta, 'tag') AS tag FROM app.todos");
}
