use kalam_client::KalamRow;

#[derive(KalamRow)]
#[kalam(rename_all = "camelCase")]
struct Todo {
    item_id: i64,
    #[kalam(rename = "TITLE")]
    title_text: String,
    r#type: Option<String>,
}

fn main() {
    let names: Vec<&str> = Todo::columns().iter().map(|c| c.name).collect();
    assert_eq!(names, ["itemId", "TITLE", "type"]);
}
