//! The README's function list is generated from the functions'
//! documentation; this fails when it is stale.

#[test]
fn readme_function_list_is_current() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let updated =
        finsight::docs::update_readme(&readme).expect("README.md has the functions markers");
    if std::env::var_os("FINSIGHT_UPDATE_README").is_some() {
        std::fs::write("README.md", &updated).expect("write README.md");
        return;
    }
    assert!(
        updated == readme,
        "README.md's function list is stale: run FINSIGHT_UPDATE_README=1 cargo test --test integration readme"
    );
}
