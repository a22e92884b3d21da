use kalam_client::KalamRow;

#[derive(serde::Deserialize)]
struct Meta {
    tags: Vec<String>,
}

#[derive(KalamRow)]
struct Todo {
    id: i64,
    #[kalam(json)]
    meta: Option<Meta>,
    #[kalam(json)]
    labels: Vec<String>,
}

fn main() {
    let expected: Vec<&str> = Todo::columns().iter().map(|c| c.expected).collect();
    assert_eq!(expected, ["i64", "Json<T>", "Json<T>"]);
}
