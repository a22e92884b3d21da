fn main() {
    let _ = kalam_client::query!("SELEC id FROM app.todos");
}
