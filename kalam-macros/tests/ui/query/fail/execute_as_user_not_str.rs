fn main() {
    let _ = kalam_client::execute_as!(42, "SELECT id FROM app.todos");
}
