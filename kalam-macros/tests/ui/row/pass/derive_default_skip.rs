use kalam_client::KalamRow;

#[derive(KalamRow)]
struct Todo {
    id: i64,
    #[kalam(default)]
    score: i32,
    #[kalam(skip)]
    cache: Vec<String>,
}

fn main() {
    let names: Vec<&str> = Todo::columns().iter().map(|c| c.name).collect();
    assert_eq!(names, ["id"]);
}
