use kalam_client::KalamRow;

#[derive(KalamRow)]
struct Audit {
    created_at: kalam_client::types::Timestamp,
}

#[derive(KalamRow)]
struct Comment {
    id: i64,
    #[kalam(flatten)]
    audit: Audit,
    body: String,
}

fn main() {
    let names: Vec<&str> = Comment::columns().iter().map(|c| c.name).collect();
    assert_eq!(names, ["id", "created_at", "body"]);
}
