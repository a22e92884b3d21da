mod reexport {
    pub use kalam_client as kc;
}

#[derive(kalam_client::KalamRow)]
#[kalam(crate = "reexport::kc")]
struct Todo {
    id: i64,
}

fn main() {
    assert_eq!(<Todo as reexport::kc::KalamRow>::columns().len(), 1);
}
