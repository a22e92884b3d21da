use kalam_client::{FromCell, KalamRow};

#[derive(KalamRow)]
struct Keyed<K: FromCell> {
    id: K,
    title: String,
}

fn main() {
    assert_eq!(Keyed::<i64>::columns()[0].expected, "i64");
}
