fn main() {
    let _ = kalam_client::query!("SELECT 1 AS n");
}
