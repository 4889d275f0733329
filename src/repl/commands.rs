//! The shell's backslash commands (`\d`, `\df`, `\h`, ...), parsed into a
//! [`Command`] and described by `\?`.

use datafusion::logical_expr::Documentation;
use datafusion::prelude::SessionContext;

use crate::output::{OutputFormat, type_name};

/// A backslash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `\d`: list tables; `\d NAME`: describe one.
    Describe(Option<String>),
    /// `\df [PATTERN]`: finsight functions, or any function matching PATTERN.
    Functions(Option<String>),
    /// `\h [FUNCTION]`: a function's documentation, or the command help.
    Help(Option<String>),
    /// `\timing [on|off]`.
    Timing(Option<bool>),
    /// `\i FILE`: run the statements of a file.
    Include(String),
    /// `\o [FILE]`: send results to FILE, or back to the terminal.
    Output(Option<String>),
    /// `\mode table|csv|json|markdown`.
    Mode(OutputFormat),
    /// `\rows N`: show at most N rows of a result (0 = all).
    Rows(usize),
    /// `\pager [on|off]`.
    Pager(Option<bool>),
    Quit,
}

pub const HELP: &str = "\
Statements end with ';' and may span lines. Ctrl-C cancels a running query
(or clears the input); Ctrl-D or \\q quits.

  \\d [TABLE]        list tables, or the columns of TABLE
  \\df [PATTERN]     list finsight's functions (PATTERN also searches built-ins)
  \\h FUNCTION       documentation of a function: syntax, arguments, example
  \\timing [on|off]  show how long each statement took
  \\i FILE           run the statements of FILE
  \\o [FILE]         write results to FILE (append); \\o alone: back to the screen
  \\mode MODE        output as table, csv, json or markdown
  \\rows N           show at most N rows of a result (0 = all)
  \\pager [on|off]   page long results through $PAGER (default: less)
  \\q                quit
  ASSERT cond [, 'message'];   fail unless cond is TRUE (see finsight run)";

fn on_off(arg: Option<&str>, command: &str) -> Result<Option<bool>, String> {
    match arg.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("on" | "true" | "1") => Ok(Some(true)),
        Some("off" | "false" | "0") => Ok(Some(false)),
        Some(other) => Err(format!("{command}: expected on or off, got '{other}'")),
    }
}

/// Parses a line starting with `\`.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim().trim_end_matches(';').trim();
    let (name, arg) = match line.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, Some(rest.trim()).filter(|r| !r.is_empty())),
        None => (line, None),
    };
    let arg_owned = arg.map(str::to_string);
    match name {
        "\\d" | "\\dt" => Ok(Command::Describe(arg_owned)),
        "\\df" => Ok(Command::Functions(arg_owned)),
        "\\h" | "\\help" => Ok(Command::Help(arg_owned)),
        "\\?" => Ok(Command::Help(None)),
        "\\timing" => on_off(arg, "\\timing").map(Command::Timing),
        "\\pager" => on_off(arg, "\\pager").map(Command::Pager),
        "\\i" => arg_owned
            .map(Command::Include)
            .ok_or_else(|| "\\i: expected a file name".to_string()),
        "\\o" => Ok(Command::Output(arg_owned)),
        "\\mode" => match arg {
            Some(mode) => mode.parse().map(Command::Mode),
            None => Err("\\mode: expected table, csv, json or markdown".to_string()),
        },
        "\\rows" => arg
            .and_then(|n| n.parse().ok())
            .map(Command::Rows)
            .ok_or_else(|| "\\rows: expected a number of rows, e.g. \\rows 100".to_string()),
        "\\q" | "\\quit" => Ok(Command::Quit),
        other => Err(format!("unknown command {other}; \\? lists the commands")),
    }
}

/// `\d`: the tables of the session, with their columns.
pub fn list_tables(ctx: &SessionContext) -> String {
    let mut lines = Vec::new();
    for catalog_name in ctx.catalog_names() {
        let Some(catalog) = ctx.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            if schema_name == "information_schema" {
                continue;
            }
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            let mut names = schema.table_names();
            names.sort();
            for name in names {
                lines.push(name);
            }
        }
    }
    if lines.is_empty() {
        "No tables. Create one with CREATE EXTERNAL TABLE, or start with --dir DIR (finsight demo writes one).".to_string()
    } else {
        format!("Tables:\n  {}", lines.join("\n  "))
    }
}

/// `\d NAME`: columns, types and nullability.
pub async fn describe_table(ctx: &SessionContext, name: &str) -> Result<String, String> {
    let table = ctx.table(name).await.map_err(|e| e.strip_backtrace())?;
    let schema = table.schema().as_arrow().clone();
    let width = schema
        .fields()
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap_or(0);
    let mut out = format!("Table {name}\n");
    for field in schema.fields() {
        out.push_str(&format!(
            "  {:width$}  {}{}\n",
            field.name(),
            type_name(field.data_type()),
            if field.is_nullable() { "" } else { " not null" },
        ));
    }
    Ok(out.trim_end().to_string())
}

fn first_sentence(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

/// Every function the session knows outside finsight: (name, kind, docs).
fn builtin_functions(ctx: &SessionContext) -> Vec<(String, &'static str, Option<Documentation>)> {
    let state = ctx.state();
    let finsight: std::collections::HashSet<String> =
        udfs::function_docs().into_iter().map(|d| d.name).collect();
    let mut out = Vec::new();
    for (name, f) in state.scalar_functions() {
        out.push((name.clone(), "scalar", f.documentation().cloned()));
    }
    for (name, f) in state.aggregate_functions() {
        out.push((name.clone(), "aggregate", f.documentation().cloned()));
    }
    for (name, f) in state.window_functions() {
        out.push((name.clone(), "window", f.documentation().cloned()));
    }
    out.retain(|(name, _, _)| !finsight.contains(name));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// `\df [PATTERN]`.
pub fn list_functions(ctx: &SessionContext, pattern: Option<&str>) -> String {
    let pattern = pattern.map(str::to_lowercase);
    let matches = |name: &str| {
        pattern
            .as_deref()
            .is_none_or(|p| name.to_lowercase().contains(p))
    };
    let mut rows: Vec<(String, String, String)> = udfs::function_docs()
        .into_iter()
        .filter(|d| matches(&d.name))
        .map(|d| {
            let description = d
                .documentation
                .as_ref()
                .map(|doc| first_sentence(&doc.description))
                .unwrap_or_default();
            (d.name, format!("{}", d.kind), description)
        })
        .collect();
    if pattern.is_some() {
        rows.extend(
            builtin_functions(ctx)
                .into_iter()
                .filter(|(name, _, _)| matches(name))
                .map(|(name, kind, doc)| {
                    let description = doc
                        .map(|d| first_sentence(&d.description))
                        .unwrap_or_default();
                    (name, format!("{kind} (built-in)"), description)
                }),
        );
    }
    if rows.is_empty() {
        return match pattern {
            Some(p) => format!("No function matches '{p}'."),
            None => "No finsight functions registered.".to_string(),
        };
    }
    let name_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let kind_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:name_width$}  {:kind_width$}  description\n",
        "name", "kind"
    );
    for (name, kind, description) in rows {
        out.push_str(&format!(
            "{name:name_width$}  {kind:kind_width$}  {description}\n"
        ));
    }
    out.push_str("\\h NAME shows a function's full documentation.");
    out
}

/// `\h NAME`.
pub fn function_help(ctx: &SessionContext, name: &str) -> String {
    let wanted = name.trim().trim_end_matches("()").to_lowercase();
    let finsight = udfs::function_docs().into_iter().find(|d| d.name == wanted);
    let (kind, documentation) = match finsight {
        Some(d) => (format!("{} function (finsight)", d.kind), d.documentation),
        None => match builtin_functions(ctx)
            .into_iter()
            .find(|(n, _, _)| *n == wanted)
        {
            Some((_, kind, doc)) => (format!("{kind} function (DataFusion built-in)"), doc),
            None => {
                return format!(
                    "No function named '{name}'. \\df {wanted} searches by part of the name."
                );
            }
        },
    };
    let Some(doc) = documentation else {
        return format!("{wanted}: {kind}; no documentation available.");
    };
    render_documentation(&wanted, &kind, &doc)
}

/// A function's documentation as plain text (also used for the README).
pub fn render_documentation(name: &str, kind: &str, doc: &Documentation) -> String {
    let mut out = format!(
        "{name} — {kind}\n\n{}\n\nSyntax:\n  {}\n",
        doc.description.trim(),
        doc.syntax_example
    );
    if let Some(arguments) = &doc.arguments
        && !arguments.is_empty()
    {
        out.push_str("\nArguments:\n");
        let width = arguments.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (arg, description) in arguments {
            out.push_str(&format!("  {arg:width$}  {}\n", description.trim()));
        }
    }
    if let Some(example) = &doc.sql_example {
        out.push_str("\nExample:\n");
        for line in example
            .lines()
            .filter(|l| !l.trim_start().starts_with("```"))
        {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if let Some(related) = &doc.related_udfs
        && !related.is_empty()
    {
        out.push_str(&format!("\nRelated: {}\n", related.join(", ")));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_arguments() {
        assert_eq!(parse("\\d"), Ok(Command::Describe(None)));
        assert_eq!(
            parse("\\d customers"),
            Ok(Command::Describe(Some("customers".into())))
        );
        assert_eq!(parse("\\timing off"), Ok(Command::Timing(Some(false))));
        assert_eq!(parse("\\mode csv"), Ok(Command::Mode(OutputFormat::Csv)));
        assert_eq!(parse("\\rows 10;"), Ok(Command::Rows(10)));
        assert!(parse("\\rows many").is_err());
        assert!(parse("\\mode xml").is_err());
        assert!(parse("\\nope").unwrap_err().contains("unknown command"));
    }
}
