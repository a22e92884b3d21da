use kalam_client::{KalamRow, types::Timestamp};

#[derive(KalamRow)]
struct Todo {
    id: i64,
    title: String,
    due_at: Option<Timestamp>,
}

fn main() {
    let names: Vec<&str> = Todo::columns().iter().map(|c| c.name).collect();
    assert_eq!(names, ["id", "title", "due_at"]);
}
