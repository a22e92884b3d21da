fn main() {
    let _ = kalam_client::query_file!("queries/missing.sql");
}
