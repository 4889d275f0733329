//! The `finsight` binary: the interactive shell, `finsight demo` and
//! `finsight run` for CI. Exit codes follow ripgrep: 0 success, 1 a failed
//! statement or assertion, 2 a usage or I/O error.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use finsight::demo::{self, DemoOptions};
use finsight::output::OutputFormat;
use finsight::repl::{Repl, ReplOptions};
use finsight::script::{self, RunOptions};
use finsight::session::{self, SessionOptions};
use finsight::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "finsight",
    version,
    about = "SQL analytics for banks: customer, risk and privacy analytics on Apache DataFusion",
    after_help = "Start with `finsight demo`, which writes a synthetic bank to ./demo_data and opens the shell on it."
)]
struct Cli {
    #[command(flatten)]
    engine: EngineArgs,
    /// Run these statements and exit instead of opening the shell.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    command: Option<String>,
    /// Rows shown per result in the shell (0 = all).
    #[arg(long, default_value_t = 40, global = true)]
    max_rows: usize,
    #[command(subcommand)]
    subcommand: Option<Sub>,
}

#[derive(Debug, Args)]
struct EngineArgs {
    /// Register every dataset (Parquet, CSV, JSON file or folder) under DIR as a table.
    #[arg(long, value_name = "DIR", global = true, env = "FINSIGHT_DIR")]
    dir: Option<PathBuf>,
    /// Memory limit for query operators, e.g. 512M or 4G; beyond it they spill to disk.
    #[arg(long, value_name = "SIZE", global = true)]
    memory_limit: Option<String>,
    /// Partitions per query (default: number of cores).
    #[arg(long, value_name = "N", global = true)]
    target_partitions: Option<usize>,
    /// Output format of results.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    format: OutputFormat,
    /// Keyring file of `name[@version] = hex:...|base64:...` lines for pseudonymize,
    /// tokenize_fpe and Parquet encryption (default: DIR/.finsight/keyring if present).
    #[arg(long, value_name = "FILE", global = true, env = "FINSIGHT_KEYRING")]
    keyring: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Generate a deterministic synthetic bank as Parquet, then open the shell on it.
    Demo {
        /// 1 = 100,000 customers and about 5.5M transactions; fractions allowed.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seed of the generator; the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Regenerate even if DIR already holds this scale and seed.
        #[arg(long)]
        force: bool,
        /// Generate only; do not open the shell.
        #[arg(long)]
        no_repl: bool,
    },
    /// Run SQL scripts as checks: stop at the first failed statement or ASSERT, exit 1.
    Run {
        /// Script files, run in order in one session.
        #[arg(required = true, value_name = "FILE.sql")]
        files: Vec<PathBuf>,
        /// Substitute ${NAME} in the scripts with VALUE (${scratch_dir} is a temporary
        /// directory finsight provides and removes after the run).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Write a JUnit XML report (one test case per statement).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Run every statement and report all failures (still exits 1).
        #[arg(long)]
        keep_going: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::ScriptFailed(_)) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn session_options(engine: &EngineArgs, dir: Option<PathBuf>) -> Result<SessionOptions> {
    let keyring = session::load_keyring(engine.keyring.as_deref(), dir.as_deref())?;
    Ok(SessionOptions {
        keyring: std::sync::Arc::new(keyring),
        data_dir: dir,
        memory_limit: engine
            .memory_limit
            .as_deref()
            .map(session::parse_memory_size)
            .transpose()?,
        target_partitions: engine.target_partitions,
    })
}

fn real_main(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    let repl_options = ReplOptions {
        format: cli.engine.format,
        max_rows: cli.max_rows,
        ..ReplOptions::default()
    };
    match cli.subcommand {
        None => {
            let options = session_options(&cli.engine, cli.engine.dir.clone())?;
            let ctx = runtime.block_on(session::new_session(&options))?;
            if let Some(command) = cli.command {
                let mut out = std::io::stdout();
                let mut err = std::io::stderr();
                return runtime.block_on(script::run_text(
                    &ctx,
                    "<command>",
                    &command,
                    cli.engine.format,
                    &mut out,
                    &mut err,
                ));
            }
            let banner = format!(
                "finsight {} — SQL analytics for banks. \\? for help, \\d for tables, \\df for functions, \\q to quit.",
                env!("CARGO_PKG_VERSION")
            );
            Repl::new(ctx, &runtime, repl_options).run(Some(&banner))
        }
        Some(Sub::Demo {
            scale,
            seed,
            force,
            no_repl,
        }) => {
            let dir = cli
                .engine
                .dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("demo_data"));
            let summary = demo::generate(&DemoOptions {
                dir: dir.clone(),
                scale,
                seed,
                force,
                progress: std::io::stderr().is_terminal(),
            })?;
            let verb = if summary.reused {
                "Reusing"
            } else {
                "Generated"
            };
            eprintln!(
                "{verb} demo bank in {}: {} customers, {} transactions, {:.1} MB of Parquet ({:.1} s).",
                dir.display(),
                summary.customers,
                summary.transactions,
                summary.bytes as f64 / 1e6,
                summary.elapsed.as_secs_f64()
            );
            if summary.reused {
                eprintln!("(Pass --force to regenerate.)");
            }
            if no_repl {
                return Ok(());
            }
            let options = session_options(&cli.engine, Some(dir.clone()))?;
            let ctx = runtime.block_on(session::new_session(&options))?;
            let mut banner = format!("Tables: {}.\nTry:\n", demo::TABLES.join(", "));
            for (title, query) in demo::EXAMPLE_QUERIES {
                banner.push_str(&format!("\n-- {title}\n{query}\n"));
            }
            banner.push_str(&format!(
                "\nReopen later with: finsight --dir {}\n\\? for help, \\q to quit.",
                dir.display()
            ));
            if std::io::stdin().is_terminal() {
                Repl::new(ctx, &runtime, repl_options).run(Some(&banner))
            } else {
                eprintln!("{banner}");
                Repl::new(ctx, &runtime, repl_options).run(None)
            }
        }
        Some(Sub::Run {
            files,
            vars,
            junit,
            keep_going,
        }) => {
            let options = session_options(&cli.engine, cli.engine.dir.clone())?;
            let mut parsed_vars = HashMap::new();
            for var in vars {
                let Some((name, value)) = var.split_once('=') else {
                    return Err(Error::Usage(format!(
                        "--var: expected NAME=VALUE, got '{var}'"
                    )));
                };
                parsed_vars.insert(name.trim().to_string(), value.to_string());
            }
            for file in &files {
                if !file.is_file() {
                    return Err(Error::Usage(format!(
                        "script {} does not exist",
                        file.display()
                    )));
                }
            }
            // ${scratch_dir}: a private temporary directory for scripts that
            // write files (COPY round trips), removed after the run.
            let scratch = std::env::temp_dir().join(format!(
                "finsight-run-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            std::fs::create_dir_all(&scratch)
                .map_err(|e| Error::io("create scratch directory", &scratch, e))?;
            parsed_vars
                .entry("scratch_dir".to_string())
                .or_insert_with(|| scratch.to_string_lossy().into_owned());
            let ctx = runtime.block_on(session::new_session(&options))?;
            let run_options = RunOptions {
                vars: parsed_vars,
                junit,
                format: cli.engine.format,
                keep_going,
            };
            let mut out = std::io::stdout();
            let mut err = std::io::stderr();
            let result = runtime.block_on(script::run_files(
                &ctx,
                &files,
                &run_options,
                &mut out,
                &mut err,
            ));
            let _ = std::fs::remove_dir_all(&scratch);
            result.map(|_| ())
        }
    }
}
