//! The interactive shell: `finsight [--dir D]`.
//!
//! Multi-line input until `;`, syntax checked before anything runs, history
//! in the user's data directory, completion and highlighting, Ctrl-C cancels
//! the running query and keeps the session, backslash commands for tables,
//! functions and output settings. With stdin not a terminal (a pipe, a test),
//! statements are read the same way without line editing and each error is
//! reported and skipped; the exit code is then 1 if any statement failed.

pub mod commands;
pub mod helper;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use datafusion::prelude::SessionContext;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use tokio::runtime::Runtime;

use self::commands::Command;
use self::helper::{CompletionWords, ReplHelper};
use crate::error::{Error, Result};
use crate::output::{self, OutputFormat};
use crate::sql::{self, Outcome};

/// Shell settings, from the command line and changed by backslash commands.
#[derive(Debug, Clone)]
pub struct ReplOptions {
    pub format: OutputFormat,
    /// Rows shown per result; 0 shows all.
    pub max_rows: usize,
    pub timing: bool,
    pub pager: bool,
    /// History file; `None` uses `<data dir>/finsight/history`.
    pub history: Option<PathBuf>,
}

impl Default for ReplOptions {
    fn default() -> Self {
        Self {
            format: OutputFormat::Table,
            max_rows: 40,
            timing: true,
            pager: true,
            history: None,
        }
    }
}

/// Where `\o` sends results.
enum Sink {
    Terminal,
    File(PathBuf, File),
}

/// A running shell: one session, its settings and its output.
pub struct Repl<'a> {
    ctx: SessionContext,
    runtime: &'a Runtime,
    options: ReplOptions,
    sink: Sink,
    interactive: bool,
    words: Arc<RwLock<CompletionWords>>,
    failures: usize,
}

enum Flow {
    Continue,
    Quit,
}

impl<'a> Repl<'a> {
    pub fn new(ctx: SessionContext, runtime: &'a Runtime, options: ReplOptions) -> Self {
        let interactive = std::io::stdin().is_terminal();
        Self {
            ctx,
            runtime,
            options,
            sink: Sink::Terminal,
            interactive,
            words: Arc::new(RwLock::new(CompletionWords::default())),
            failures: 0,
        }
    }

    /// Runs until `\q` or end of input. Non-interactive input with failed
    /// statements returns an error, so `finsight < file.sql` can gate a job.
    pub fn run(mut self, banner: Option<&str>) -> Result<()> {
        if self.interactive {
            if let Some(banner) = banner {
                eprintln!("{banner}");
            }
            self.run_interactive()?;
        } else {
            self.run_piped()?;
        }
        if !self.interactive && self.failures > 0 {
            return Err(Error::ScriptFailed(format!(
                "{} statement(s) failed",
                self.failures
            )));
        }
        Ok(())
    }

    fn history_path(&self) -> Option<PathBuf> {
        if let Some(path) = &self.options.history {
            return Some(path.clone());
        }
        if let Some(path) = std::env::var_os("FINSIGHT_HISTORY") {
            return Some(PathBuf::from(path));
        }
        dirs::data_dir().map(|d| d.join("finsight").join("history"))
    }

    fn run_interactive(&mut self) -> Result<()> {
        let config = Config::builder()
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .max_history_size(10_000)
            .map_err(|e| Error::Usage(format!("line editor: {e}")))?
            .build();
        let mut editor: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)
            .map_err(|e| Error::Usage(format!("cannot start the line editor: {e}")))?;
        let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        editor.set_helper(Some(ReplHelper {
            words: Arc::clone(&self.words),
            color,
        }));
        let history = self.history_path();
        if let Some(path) = &history {
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = editor.load_history(path);
        }
        self.refresh_words();
        // On a terminal rustyline's validator returns whole statements; on a
        // dumb terminal lines arrive one by one and are gathered here.
        let mut buffer = String::new();
        loop {
            let prompt = if buffer.is_empty() {
                "finsight> "
            } else {
                "      -> "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    if buffer.is_empty() && line.trim().is_empty() {
                        continue;
                    }
                    buffer.push_str(&line);
                    buffer.push('\n');
                    let input = buffer.trim().to_string();
                    if !input.starts_with('\\') && sql::is_incomplete(&input) {
                        continue;
                    }
                    buffer.clear();
                    let _ = editor.add_history_entry(input.as_str());
                    if let Some(path) = &history {
                        let _ = editor.append_history(path);
                    }
                    if !input.starts_with('\\')
                        && let Err(message) = helper::check_syntax(&input)
                    {
                        // Nothing runs when any statement does not parse.
                        self.report_error(&message);
                        continue;
                    }
                    if let Flow::Quit = self.handle_input(&input) {
                        break;
                    }
                }
                // Ctrl-C at the prompt discards the input, as in psql and DuckDB.
                Err(ReadlineError::Interrupted) => {
                    buffer.clear();
                    continue;
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(Error::Usage(format!("line editor: {e}"))),
            }
        }
        Ok(())
    }

    fn run_piped(&mut self) -> Result<()> {
        let stdin = std::io::stdin();
        let mut buffer = String::new();
        for line in stdin.lock().lines() {
            let line = line.map_err(|e| Error::io("read", "standard input", e))?;
            if buffer.trim().is_empty() && line.trim_start().starts_with('\\') {
                if let Flow::Quit = self.handle_input(line.trim()) {
                    return Ok(());
                }
                continue;
            }
            buffer.push_str(&line);
            buffer.push('\n');
            if !sql::is_incomplete(&buffer) {
                let input = std::mem::take(&mut buffer);
                if let Flow::Quit = self.handle_input(input.trim()) {
                    return Ok(());
                }
            }
        }
        if !buffer.trim().is_empty() {
            // End of input without a final `;`: run what there is.
            self.handle_input(buffer.trim());
        }
        Ok(())
    }

    /// A complete input: a backslash command or one or more statements.
    fn handle_input(&mut self, input: &str) -> Flow {
        if input.starts_with('\\') {
            return match commands::parse(input) {
                Ok(command) => self.run_command(command),
                Err(message) => {
                    self.report_error(&message);
                    Flow::Continue
                }
            };
        }
        self.run_statements(input, None);
        Flow::Continue
    }

    fn run_statements(&mut self, text: &str, source: Option<&Path>) {
        let statements = match sql::split_statements(text) {
            Ok(statements) => statements,
            Err(e) => {
                let at = source
                    .map(|p| format!("{}:{}:{}: ", p.display(), e.line, e.column))
                    .unwrap_or_default();
                self.report_error(&format!("{at}{}", e.message));
                return;
            }
        };
        for statement in statements {
            if let Err(message) = self.run_statement(&statement.text) {
                let at = source
                    .map(|p| format!("{}:{}:{}: ", p.display(), statement.line, statement.column))
                    .unwrap_or_default();
                self.report_error(&format!("{at}{message}"));
                if source.is_some() {
                    break;
                }
            }
        }
        self.refresh_words();
    }

    fn report_error(&mut self, message: &str) {
        self.failures += 1;
        eprintln!("Error: {message}");
    }

    /// Runs one statement, racing it against Ctrl-C.
    fn run_statement(&mut self, statement: &str) -> Result<(), String> {
        let started = Instant::now();
        let limit = (self.options.max_rows > 0 && matches!(self.sink, Sink::Terminal))
            .then_some(self.options.max_rows);
        let ctx = self.ctx.clone();
        let work = async move { sql::execute(&ctx, statement, limit).await };
        let outcome = self.runtime.block_on(async {
            tokio::select! {
                result = work => Some(result),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        let elapsed = started.elapsed();
        let rendered = match outcome {
            None => return Err("query cancelled (Ctrl-C)".to_string()),
            Some(Err(e)) => return Err(e.strip_backtrace()),
            Some(Ok(Outcome::AssertFailed { what, actual })) => {
                return Err(format!("assertion failed: {what}\n  actual: {actual}"));
            }
            Some(Ok(Outcome::AssertPassed)) => "assertion passed".to_string(),
            Some(Ok(Outcome::Rows {
                schema,
                batches,
                total_rows,
            })) => {
                if schema.fields().is_empty() {
                    String::new()
                } else {
                    output::render(&schema, &batches, self.options.format, total_rows)
                        .map_err(|e| e.strip_backtrace())?
                }
            }
        };
        if !rendered.is_empty() {
            self.emit(&rendered);
        }
        if self.options.timing && self.interactive {
            eprintln!("Time: {:.3} s", elapsed.as_secs_f64());
        }
        Ok(())
    }

    /// Writes a result to the terminal (through the pager when it is long) or
    /// to the `\o` file.
    fn emit(&mut self, text: &str) {
        match &mut self.sink {
            Sink::File(path, file) => {
                if let Err(e) = writeln!(file, "{text}") {
                    eprintln!("Error: cannot write {}: {e}", path.display());
                }
            }
            Sink::Terminal => {
                let stdout = std::io::stdout();
                let tall = text.lines().count() + 2 > terminal_height();
                if self.options.pager
                    && self.interactive
                    && stdout.is_terminal()
                    && tall
                    && page(text)
                {
                    return;
                }
                // A closed pipe (`finsight ... | head`) is not an error to report.
                let _ = writeln!(stdout.lock(), "{text}");
            }
        }
    }

    fn run_command(&mut self, command: Command) -> Flow {
        match command {
            Command::Quit => return Flow::Quit,
            Command::Describe(None) => self.emit(&commands::list_tables(&self.ctx)),
            Command::Describe(Some(name)) => {
                match self
                    .runtime
                    .block_on(commands::describe_table(&self.ctx, &name))
                {
                    Ok(text) => self.emit(&text),
                    Err(e) => self.report_error(&e),
                }
            }
            Command::Functions(pattern) => {
                self.emit(&commands::list_functions(&self.ctx, pattern.as_deref()))
            }
            Command::Help(None) => self.emit(commands::HELP),
            Command::Help(Some(name)) => self.emit(&commands::function_help(&self.ctx, &name)),
            Command::Timing(value) => {
                self.options.timing = value.unwrap_or(!self.options.timing);
                eprintln!(
                    "Timing is {}.",
                    if self.options.timing { "on" } else { "off" }
                );
            }
            Command::Pager(value) => {
                self.options.pager = value.unwrap_or(!self.options.pager);
                eprintln!(
                    "Pager is {}.",
                    if self.options.pager { "on" } else { "off" }
                );
            }
            Command::Mode(format) => self.options.format = format,
            Command::Rows(n) => self.options.max_rows = n,
            Command::Output(None) => self.sink = Sink::Terminal,
            Command::Output(Some(path)) => {
                let path = PathBuf::from(path);
                match OpenOptions::new().create(true).append(true).open(&path) {
                    Ok(file) => self.sink = Sink::File(path, file),
                    Err(e) => self
                        .report_error(&format!("cannot open {} for writing: {e}", path.display())),
                }
            }
            Command::Include(file) => {
                let path = PathBuf::from(file);
                match std::fs::read_to_string(&path) {
                    Ok(text) => self.run_statements(&text, Some(&path)),
                    Err(e) => self.report_error(&format!("cannot read {}: {e}", path.display())),
                }
            }
        }
        Flow::Continue
    }

    /// Reloads table, column and function names for completion.
    fn refresh_words(&self) {
        if !self.interactive {
            return;
        }
        let state = self.ctx.state();
        let mut words = CompletionWords::default();
        words
            .functions
            .extend(state.scalar_functions().keys().cloned());
        words
            .functions
            .extend(state.aggregate_functions().keys().cloned());
        words
            .functions
            .extend(state.window_functions().keys().cloned());
        words
            .functions
            .extend(state.table_functions().keys().cloned());
        for catalog_name in self.ctx.catalog_names() {
            let Some(catalog) = self.ctx.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                for table in schema.table_names() {
                    if let Ok(Some(provider)) = self.runtime.block_on(schema.table(&table)) {
                        words
                            .columns
                            .extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                    }
                    words.tables.insert(table);
                }
            }
        }
        if let Ok(mut current) = self.words.write() {
            *current = words;
        }
    }
}

/// Rows of the terminal; `$LINES` or 24 where the terminal does not say
/// (some ptys report 0x0).
fn terminal_height() -> usize {
    terminal_size::terminal_size()
        .map(|(_, h)| usize::from(h.0))
        .filter(|&h| h > 0)
        .or_else(|| std::env::var("LINES").ok()?.parse().ok())
        .unwrap_or(24)
}

/// Pipes `text` to `$PAGER` (default `less -SRFX`); false if none could start.
fn page(text: &str) -> bool {
    let pager = std::env::var("PAGER").unwrap_or_else(|_| "less -SRFX".to_string());
    let mut parts = pager.split_whitespace();
    let Some(program) = parts.next() else {
        return false;
    };
    let child = std::process::Command::new(program)
        .args(parts)
        .stdin(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{text}");
    }
    let _ = child.wait();
    true
}
