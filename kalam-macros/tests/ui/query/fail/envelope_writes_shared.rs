fn main() {
    let _ = kalam_client::query!("EXECUTE AS USER 'alice' (DELETE FROM app.board WHERE id = 1)");
}
