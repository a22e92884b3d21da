fn main() {
    let _ = kalam_client::query!(r#"SELECT id AS "id: 1 +" FROM app.todos"#);
}
