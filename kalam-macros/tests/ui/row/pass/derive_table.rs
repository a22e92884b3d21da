use kalam_client::{KalamRow, KalamTable, TableKind, types::Timestamp};

#[derive(KalamRow)]
#[kalam(table = "app.todos")]
struct Todo {
    id: i64,
    title: String,
    done: bool,
    due_at: Option<Timestamp>,
    #[kalam(json)]
    meta: Option<Vec<String>>,
    #[kalam(skip)]
    local: u8,
}

#[derive(KalamRow)]
#[kalam(table = "app.board")]
struct Pin {
    id: i64,
}

fn main() {
    assert_eq!((Todo::NAMESPACE, Todo::TABLE), ("app", "todos"));
    assert_eq!(Todo::PRIMARY_KEY, Some("id"));
    assert_eq!(Todo::KIND, TableKind::User);
    assert_eq!(Pin::KIND, TableKind::Shared);
}
