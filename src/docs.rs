//! The function reference in the README, generated from each function's
//! `Documentation` so the two cannot drift apart (a test compares them).

/// Marks the generated part of README.md.
pub const BEGIN: &str = "<!-- functions:begin (generated from the functions' documentation; FINSIGHT_UPDATE_README=1 cargo test --test integration readme rewrites it) -->";
pub const END: &str = "<!-- functions:end -->";

/// A Markdown table of every finsight function.
pub fn functions_markdown() -> String {
    let mut out = String::from("| function | kind | description |\n|---|---|---|\n");
    for doc in udfs::function_docs() {
        let (syntax, description) = match &doc.documentation {
            Some(d) => (
                d.syntax_example.clone(),
                d.description
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            None => (doc.name.clone(), String::new()),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            syntax.replace('|', "\\|"),
            doc.kind,
            description.replace('|', "\\|")
        ));
    }
    out
}

/// README text with the generated section replaced by the current list;
/// `None` if the markers are missing.
pub fn update_readme(readme: &str) -> Option<String> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = readme[start..].find(END)? + start;
    Some(format!(
        "{}\n{}{}",
        &readme[..start],
        functions_markdown(),
        &readme[end..]
    ))
}
