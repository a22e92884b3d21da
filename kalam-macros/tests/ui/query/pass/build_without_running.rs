fn main() {
    let q = kalam_client::query!("SELECT id FROM app.todos WHERE title = $1 AND owner = $2", "a", Some("b"));
    assert_eq!(q.sql(), "SELECT id FROM app.todos WHERE title = $1 AND owner = $2");
    let q = kalam_client::execute_as!("alice", "SELECT id FROM app.todos");
    assert_eq!(q.as_user(), Some("alice"));
    let q = kalam_client::query!(r#"SELECT owner AS "owner!" FROM app.todos"#);
    assert_eq!(q.sql(), r#"SELECT owner AS "owner"  FROM app.todos"#);
}
