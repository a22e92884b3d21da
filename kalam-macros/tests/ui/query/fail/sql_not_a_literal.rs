fn main() {
    let sql = "SELECT 1";
    let _ = kalam_client::query!(sql);
}
