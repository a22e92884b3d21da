fn main() {
    let _ = kalam_client::execute_as!("alice", "EXECUTE AS USER 'bob' (SELECT id FROM app.todos)");
}
