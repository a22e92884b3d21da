fn main() {
    let _ = kalam_client::query!("SELECT id FROM ap.todos");
}
