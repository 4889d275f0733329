//! rustyline helper: statement validation (keep reading until `;`; bad SQL
//! is rejected by [`check_syntax`] before it runs), completion of keywords, tables, columns and
//! functions, and syntax highlighting.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::{ALL_KEYWORDS, Keyword};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::sql;

/// Names offered by completion, refreshed after each statement (a `CREATE
/// TABLE` makes its name completable at once).
#[derive(Debug, Default)]
pub struct CompletionWords {
    pub tables: BTreeSet<String>,
    pub columns: BTreeSet<String>,
    pub functions: BTreeSet<String>,
}

/// The shell's line-editor helper.
pub struct ReplHelper {
    pub words: Arc<RwLock<CompletionWords>>,
    pub color: bool,
}

impl Helper for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input().trim();
        if input.is_empty() || input.starts_with('\\') {
            return Ok(ValidationResult::Valid(None));
        }
        // Complete statements are accepted here and syntax-checked by the
        // shell before anything runs: the error is printed, the input goes to
        // history (one Up arrow to fix it), and no terminal mode can leave
        // the user stuck in an input rustyline refuses.
        if sql::is_incomplete(input) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

/// Parses every statement of `input`, so a typo is reported before anything
/// runs; `ASSERT` conditions are parsed as expressions.
pub fn check_syntax(input: &str) -> Result<(), String> {
    let statements = sql::split_statements(input).map_err(|e| e.message)?;
    for statement in statements {
        if let Some(checked) = sql::check_finsight_statement(&statement.text) {
            checked?;
            continue;
        }
        if let Some(assertion) = sql::parse_assertion(&statement.text) {
            sql::parse_condition(&assertion.condition).map_err(|e| {
                format!(
                    "Syntax error in ASSERT: {}",
                    plain_parser_message(&e.to_string())
                )
            })?;
            continue;
        }
        DFParser::parse_sql_with_dialect(&statement.text, &GenericDialect {}).map_err(|e| {
            let message = match &e {
                datafusion::error::DataFusionError::SQL(parser, _) => parser.to_string(),
                other => other.strip_backtrace(),
            };
            format!("Syntax error: {}", plain_parser_message(&message))
        })?;
    }
    Ok(())
}

/// sqlparser's message without its "sql parser error: " prefix.
fn plain_parser_message(message: &str) -> String {
    message
        .strip_prefix("sql parser error: ")
        .unwrap_or(message)
        .to_string()
}

const BACKSLASH_COMMANDS: &[&str] = &[
    "\\d", "\\df", "\\h", "\\timing", "\\i", "\\o", "\\mode", "\\rows", "\\pager", "\\q", "\\?",
];

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '\\'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let prefix = &before[start..];
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        if prefix.starts_with('\\') {
            let pairs = BACKSLASH_COMMANDS
                .iter()
                .filter(|c| c.starts_with(prefix))
                .map(|c| pair(c))
                .collect();
            return Ok((start, pairs));
        }
        let lower = prefix.to_lowercase();
        let upper_case =
            prefix.chars().any(char::is_uppercase) && !prefix.chars().any(char::is_lowercase);
        let mut candidates: BTreeSet<String> = BTreeSet::new();
        if let Ok(words) = self.words.read() {
            for name in words.tables.iter().chain(&words.columns) {
                if name.to_lowercase().starts_with(&lower) {
                    candidates.insert(name.clone());
                }
            }
            for name in &words.functions {
                if name.starts_with(&lower) {
                    candidates.insert(format!("{name}("));
                }
            }
        }
        for keyword in ALL_KEYWORDS {
            if keyword.to_lowercase().starts_with(&lower) {
                candidates.insert(if upper_case {
                    keyword.to_string()
                } else {
                    keyword.to_lowercase()
                });
            }
        }
        Ok((start, candidates.iter().map(|c| pair(c)).collect()))
    }
}

fn pair(text: &str) -> Pair {
    Pair {
        display: text.to_string(),
        replacement: text.to_string(),
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

const KEYWORD: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const COMMENT: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.starts_with('\\') {
            return Cow::Borrowed(line);
        }
        highlight_sql(line).map_or(Cow::Borrowed(line), Cow::Owned)
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

/// Colours keywords, strings, numbers and comments; `None` if the text does
/// not tokenize (an open string), which is then shown plain.
pub fn highlight_sql(text: &str) -> Option<String> {
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .ok()?;
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |line: u64, column: u64| -> usize {
        let start = line_starts
            .get(line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(text.len());
        text[start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(text.len(), |(i, _)| start + i)
    };
    let mut out = String::with_capacity(text.len() * 2);
    let mut cursor = 0;
    for token in tokens {
        let color = match &token.token {
            Token::Word(w) if w.keyword != Keyword::NoKeyword && w.quote_style.is_none() => KEYWORD,
            Token::SingleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::EscapedStringLiteral(_) => STRING,
            Token::Number(_, _) => NUMBER,
            Token::Whitespace(w)
                if w.to_string().trim_start().starts_with("--")
                    || w.to_string().starts_with("/*") =>
            {
                COMMENT
            }
            _ => continue,
        };
        let from = offset(token.span.start.line, token.span.start.column);
        let to = offset(token.span.end.line, token.span.end.column);
        if from < cursor || to < from {
            continue;
        }
        out.push_str(&text[cursor..from]);
        out.push_str(color);
        out.push_str(&text[from..to]);
        out.push_str(RESET);
        cursor = to;
    }
    out.push_str(&text[cursor..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_keeps_the_text() {
        let text = "SELECT 'a;b', 42 FROM t -- note\nWHERE x = 1";
        let colored = highlight_sql(text).expect("valid test input");
        let plain: String = {
            let mut s = colored.clone();
            for code in [KEYWORD, STRING, NUMBER, COMMENT, RESET] {
                s = s.replace(code, "");
            }
            s
        };
        assert_eq!(plain, text);
        assert!(colored.contains(&format!("{KEYWORD}SELECT{RESET}")));
        assert!(colored.contains(&format!("{STRING}'a;b'{RESET}")));
    }

    #[test]
    fn completion_offers_tables_columns_functions_and_keywords() {
        let mut words = CompletionWords::default();
        words.tables.insert("transactions".into());
        words.columns.insert("transaction_id".into());
        words.functions.insert("haversine_km".into());
        let helper = ReplHelper {
            words: Arc::new(RwLock::new(words)),
            color: false,
        };
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let complete = |line: &str| -> Vec<String> {
            let (start, pairs) = helper
                .complete(line, line.len(), &ctx)
                .expect("valid test input");
            assert_eq!(
                &line[..start],
                line.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '\\')
            );
            pairs.into_iter().map(|p| p.replacement).collect()
        };
        assert_eq!(
            complete("SELECT * FROM transa"),
            vec!["transaction", "transaction_id", "transactions"]
        );
        assert_eq!(complete("SELECT havers"), vec!["haversine_km("]);
        assert!(complete("SEL").contains(&"SELECT".to_string()));
        assert!(complete("sel").contains(&"select".to_string()));
        assert_eq!(complete("\\df"), vec!["\\df"]);
    }

    #[test]
    fn syntax_errors_are_found_before_running() {
        assert!(check_syntax("SELECT 1;").is_ok());
        assert!(
            check_syntax("SELEC 1;")
                .expect_err("expected an error")
                .contains("Syntax error")
        );
        assert!(check_syntax("ASSERT 1 = 1, 'ok';").is_ok());
        assert!(check_syntax("ASSERT 1 = ;").is_err());
        // finsight's own statements are not DataFusion's.
        for ours in [
            "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 1, delta = 1e-6, privacy_unit_column = id) g, COUNT(*) FROM t GROUP BY g;",
            "GRANT PRIVACY BUDGET epsilon = 1 ON TABLE t TO USER u;",
            "ERASE SUBJECT '42';",
        ] {
            assert!(check_syntax(ours).is_ok(), "{ours}");
        }
        assert!(
            check_syntax("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 1, delta = 1e-6, privacy_unit_column = id) g, SUM(x) FROM t GROUP BY g;")
                .expect_err("no bounds")
                .contains("SUM needs clamping bounds")
        );
    }
}
