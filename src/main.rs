//! The `finsight` binary: the interactive shell, `finsight demo` and
//! `finsight run` for CI. Exit codes follow ripgrep: 0 success, 1 a failed
//! statement or assertion, 2 a usage or I/O error.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use finsight::bench;
use finsight::demo::{self, DemoOptions};
use finsight::governance::audit::AuditLog;
use finsight::governance::policy::{AuditTarget, Policy};
use finsight::governance::{Governance, erasure, identity};
use finsight::output::OutputFormat;
use finsight::repl::{Repl, ReplOptions};
use finsight::script::{self, RunOptions};
use finsight::server;
use finsight::session::{self, SessionOptions};
use finsight::{Error, Result};

/// `finsight --version`: what a bug report needs, the engine's versions and
/// the build profile (`-V` prints the first line only).
fn long_version() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{}\nDataFusion {}, Arrow {}\nbuild: {}",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION,
            datafusion::arrow::ARROW_VERSION,
            if cfg!(debug_assertions) {
                "debug (cargo build; `cargo build --release` for speed)"
            } else {
                "release"
            }
        )
    });
    &TEXT
}

#[derive(Debug, Parser)]
#[command(
    name = "finsight",
    version,
    long_version = long_version(),
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
    /// Policy file (TOML) with users, roles, classifications, masks and row filters
    /// (default: DIR/.finsight/policy.toml if present). Every statement is audited.
    #[arg(long, value_name = "FILE", global = true, env = "FINSIGHT_POLICY")]
    policy: Option<PathBuf>,
    /// Act as this user of the policy file (default: the data owner, who sees raw data).
    #[arg(long, value_name = "NAME", global = true)]
    user: Option<String>,
    /// Act with this role (one of the user's roles; alone: the current OS user with it).
    #[arg(long, value_name = "ROLE", global = true)]
    role: Option<String>,
    /// Declare the purpose of processing (e.g. marketing, risk, fraud); consent-based
    /// purposes hide subjects without an active consent.
    #[arg(long, value_name = "PURPOSE", global = true)]
    purpose: Option<String>,
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
    /// Time saved queries in one warm session: each file's statements are run and their
    /// results collected --warmup times, then --runs times timed; one JSON line per file.
    Bench {
        #[arg(required = true, value_name = "FILE.sql")]
        files: Vec<PathBuf>,
        /// Timed runs per file.
        #[arg(long, default_value_t = 5, value_name = "N")]
        runs: usize,
        /// Untimed runs first (reads the files into the OS cache, fills metadata caches).
        #[arg(long, default_value_t = 1, value_name = "N")]
        warmup: usize,
        /// Write each file's result to DIR/<file stem>.parquet (to compare engines).
        #[arg(long, value_name = "DIR")]
        save_dir: Option<PathBuf>,
        /// Run this file's statements once, untimed, before timing (for example
        /// `CREATE TABLE t AS SELECT * FROM 'f.parquet'` to time a function on data in memory).
        #[arg(long, value_name = "FILE.sql")]
        setup: Option<PathBuf>,
    },
    /// Right to erasure: remove every row about a data subject from every personal-data
    /// dataset of the policy (atomic file rewrites), verify, and record a receipt.
    Erase {
        /// The subject's identifier (the value of each table's subject column).
        #[arg(long, value_name = "ID")]
        subject: String,
    },
    /// Subject access: export every row held about a data subject, per table, with a manifest.
    SubjectAccess {
        #[arg(long, value_name = "ID")]
        subject: String,
        /// Output directory (created): TABLE.jsonl files and manifest.json.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Retention: purge rows older than each table's retention period.
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Serve the tables of DIR over Arrow Flight SQL (ADBC, JDBC, ODBC, pyarrow.flight):
    /// users log in with the policy's passwords and see what their role allows.
    Serve {
        /// Address to listen on (port 0 picks a free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: std::net::SocketAddr,
        /// PEM certificate chain for TLS (with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for TLS (with --tls-cert).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// How long a login's bearer token is valid.
        #[arg(long, default_value = "1h", value_name = "DURATION")]
        token_ttl: String,
        /// Failed logins of one user name before it is locked out for --login-lockout
        /// (a client address may fail four times as often).
        #[arg(long, default_value_t = 5, value_name = "N")]
        max_login_failures: u32,
        /// How long repeated failed logins lock a user name or address out.
        #[arg(long, default_value = "5m", value_name = "DURATION")]
        login_lockout: String,
        /// Memory each query's operators may hold (sorts, joins and aggregates spill beyond it).
        #[arg(long, default_value = "1G", value_name = "SIZE")]
        query_memory_limit: String,
        /// Longest a query may run, from planning to the last batch sent.
        #[arg(long, default_value = "10m", value_name = "DURATION")]
        query_timeout: String,
        /// Queries one user may run at the same time.
        #[arg(long, default_value_t = 8, value_name = "N")]
        max_queries_per_user: usize,
        /// After SIGTERM, how long running queries may take to finish before they are cancelled.
        #[arg(long, default_value = "30s", value_name = "DURATION")]
        shutdown_grace: String,
    },
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionAction {
    /// Rewrite datasets without the rows past retention.
    Apply,
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Check the hash chain: exit 0 if intact, 1 if an entry was edited or deleted.
    Verify {
        /// Expected hash of the newest entry, kept elsewhere; catches removed newest entries.
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyAction {
    /// Validate the policy against the tables of DIR; exit 0 if valid.
    Check,
    /// Print an argon2id hash of a password read from stdin, for `password_hash`.
    HashPassword,
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

fn governance(engine: &EngineArgs, dir: Option<&Path>) -> Result<Option<Arc<Governance>>> {
    let Some(policy) = Governance::find_policy(engine.policy.as_deref(), dir) else {
        if engine.user.is_some() || engine.role.is_some() || engine.purpose.is_some() {
            return Err(Error::Usage(
                "--user, --role and --purpose need a policy file (--policy FILE or DIR/.finsight/policy.toml)".into(),
            ));
        }
        return Ok(None);
    };
    Governance::load(
        &policy,
        engine.user.as_deref(),
        engine.role.as_deref(),
        engine.purpose.as_deref(),
    )
    .map(Some)
}

fn required_governance(
    engine: &EngineArgs,
    dir: Option<&Path>,
    command: &str,
) -> Result<Arc<Governance>> {
    governance(engine, dir)?.ok_or_else(|| {
        Error::Usage(format!(
            "{command} needs a policy file (--policy FILE or DIR/.finsight/policy.toml)"
        ))
    })
}

fn required_dir(engine: &EngineArgs, command: &str) -> Result<PathBuf> {
    engine
        .dir
        .clone()
        .ok_or_else(|| Error::Usage(format!("{command} needs the data directory (--dir DIR)")))
}

fn session_options(engine: &EngineArgs, dir: Option<PathBuf>) -> Result<SessionOptions> {
    let keyring = session::load_keyring(engine.keyring.as_deref(), dir.as_deref())?;
    Ok(SessionOptions {
        governance: governance(engine, dir.as_deref())?,
        keyring: Arc::new(keyring),
        data_dir: dir,
        memory_limit: engine
            .memory_limit
            .as_deref()
            .map(session::parse_memory_size)
            .transpose()?,
        target_partitions: engine.target_partitions,
        runtime: None,
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
        Some(Sub::Bench {
            files,
            runs,
            warmup,
            save_dir,
            setup,
        }) => {
            let options = session_options(&cli.engine, cli.engine.dir.clone())?;
            let ctx = runtime.block_on(session::new_session(&options))?;
            let bench_options = bench::BenchOptions {
                runs,
                warmup,
                save_dir,
                setup,
            };
            for result in runtime.block_on(bench::run_files(&ctx, &files, &bench_options))? {
                let line = serde_json::to_string(&result)
                    .map_err(|e| Error::Usage(format!("bench: cannot encode the result: {e}")))?;
                println!("{line}");
            }
            Ok(())
        }
        Some(Sub::Erase { subject }) => {
            let dir = required_dir(&cli.engine, "erase")?;
            let governance = required_governance(&cli.engine, Some(&dir), "erase")?;
            let receipt = erasure::erase_subject(&governance, &dir, &subject)?;
            for table in &receipt.tables {
                println!(
                    "{}: {} rows removed from {} files, {} remaining",
                    table.table, table.rows_removed, table.files_rewritten, table.rows_remaining
                );
            }
            println!(
                "Erased subject sha256:{} ({} rows); receipt recorded in the audit trail.",
                receipt.subject_sha256, receipt.rows_removed
            );
            Ok(())
        }
        Some(Sub::SubjectAccess { subject, out }) => {
            let dir = required_dir(&cli.engine, "subject-access")?;
            let governance = required_governance(&cli.engine, Some(&dir), "subject-access")?;
            let manifest = erasure::subject_access(&governance, &dir, &subject, &out)?;
            for table in &manifest.tables {
                println!(
                    "{}: {} rows -> {}",
                    table.table,
                    table.rows,
                    out.join(&table.file).display()
                );
            }
            println!("Manifest: {}", out.join("manifest.json").display());
            Ok(())
        }
        Some(Sub::Retention {
            action: RetentionAction::Apply,
        }) => {
            let dir = required_dir(&cli.engine, "retention apply")?;
            let governance = required_governance(&cli.engine, Some(&dir), "retention apply")?;
            for table in erasure::apply_retention(&governance, &dir)? {
                println!(
                    "{}: {} rows past retention removed from {} files",
                    table.table, table.rows_removed, table.files_rewritten
                );
            }
            Ok(())
        }
        Some(Sub::Audit {
            action: AuditAction::Verify { head },
        }) => {
            let policy_path =
                Governance::find_policy(cli.engine.policy.as_deref(), cli.engine.dir.as_deref())
                    .ok_or_else(|| {
                        Error::Usage(
                            "audit verify needs the policy file (--policy FILE or --dir DIR)"
                                .into(),
                        )
                    })?;
            let policy =
                Policy::from_file(&policy_path).map_err(|e| Error::Usage(e.to_string()))?;
            let target = policy.audit_target();
            if let AuditTarget::Sqlite(path) = &target
                && !path.is_file()
            {
                return Err(Error::Usage(format!(
                    "audit trail {} does not exist",
                    path.display()
                )));
            }
            let log = AuditLog::open(&target).map_err(Error::Usage)?;
            let verification = log.verify().map_err(Error::Usage)?;
            let mut problems = verification.problems.clone();
            if let (Some(expected), Some((_, actual))) = (&head, &verification.head)
                && expected != actual
            {
                problems.push(format!(
                    "newest entry's hash is {actual}, expected {expected}: entries after it were removed or replaced"
                ));
            }
            if problems.is_empty() {
                let (seq, hash) = verification.head.unwrap_or((0, String::new()));
                println!(
                    "audit trail {} intact: {} entries, head {seq} {hash}",
                    log.describe(),
                    verification.entries
                );
                Ok(())
            } else {
                for problem in &problems {
                    println!("TAMPERED: {problem}");
                }
                Err(Error::ScriptFailed(format!(
                    "audit trail {} failed verification",
                    log.describe()
                )))
            }
        }
        Some(Sub::Serve {
            addr,
            tls_cert,
            tls_key,
            token_ttl,
            max_login_failures,
            login_lockout,
            query_memory_limit,
            query_timeout,
            max_queries_per_user,
            shutdown_grace,
        }) => {
            let dir = required_dir(&cli.engine, "serve")?;
            if cli.engine.user.is_some() || cli.engine.role.is_some() {
                return Err(Error::Usage(
                    "serve: clients log in as users of the policy; --user and --role do not apply"
                        .into(),
                ));
            }
            let policy = Governance::find_policy(cli.engine.policy.as_deref(), Some(&dir))
                .ok_or_else(|| {
                    Error::Usage(
                        "serve needs a policy file with users and password hashes (--policy FILE or DIR/.finsight/policy.toml)"
                            .into(),
                    )
                })?;
            let keyring = session::load_keyring(cli.engine.keyring.as_deref(), Some(&dir))?;
            let mut base = SessionOptions {
                governance: None,
                keyring: Arc::new(keyring),
                data_dir: Some(dir.clone()),
                memory_limit: None,
                target_partitions: cli.engine.target_partitions,
                runtime: None,
            };
            // One runtime for every login: shared Parquet metadata and file
            // listing caches and spill directory (each query still gets a
            // memory pool of its own).
            base.runtime = Some(session::new_runtime(&base)?);
            if cli.engine.memory_limit.is_some() {
                return Err(Error::Usage(
                    "serve: use --query-memory-limit (per query) instead of --memory-limit".into(),
                ));
            }
            let options = server::ServeOptions {
                addr,
                tls: tls_cert.zip(tls_key),
                auth: server::AuthOptions {
                    token_ttl: server::parse_duration(&token_ttl)?,
                    max_failures: max_login_failures.max(1),
                    lockout: server::parse_duration(&login_lockout)?,
                },
                limits: server::Limits {
                    query_memory: session::parse_memory_size(&query_memory_limit)?,
                    query_timeout: server::parse_duration(&query_timeout)?,
                    queries_per_user: max_queries_per_user.max(1),
                },
                shutdown_grace: server::parse_duration(&shutdown_grace)?,
            };
            let tls = options.tls.is_some();
            let served = runtime.block_on(server::serve(base, policy, options, |local| {
                let scheme = if tls { "grpc+tls" } else { "grpc" };
                // Scripts and tests wait for this line (and read the port from it).
                println!(
                    "finsight serve: listening on {scheme}://{local} (data {}); Ctrl-C or SIGTERM stops",
                    dir.display()
                );
                use std::io::Write;
                let _ = std::io::stdout().flush();
            }));
            // Cancelled queries may still be inside a long CPU-bound step;
            // their audit entries are written, so do not wait for it.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            served?;
            eprintln!("finsight serve: stopped; every statement was recorded in the audit trail");
            Ok(())
        }
        Some(Sub::Policy {
            action: PolicyAction::Check,
        }) => {
            let options = session_options(&cli.engine, cli.engine.dir.clone())?;
            let Some(governance) = &options.governance else {
                return Err(Error::Usage(
                    "policy check needs a policy file (--policy FILE or DIR/.finsight/policy.toml)"
                        .into(),
                ));
            };
            runtime.block_on(session::new_session(&options))?;
            println!(
                "policy {} is valid: {} roles, {} users, {} classes, {} tables",
                governance.policy.file.display(),
                governance.policy.roles.len(),
                governance.policy.users.len(),
                governance.policy.classes.len(),
                governance.policy.tables.len()
            );
            Ok(())
        }
        Some(Sub::Policy {
            action: PolicyAction::HashPassword,
        }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| Error::Usage(format!("cannot read the password from stdin: {e}")))?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                return Err(Error::Usage(
                    "hash-password: empty password on stdin".into(),
                ));
            }
            println!(
                "{}",
                identity::hash_password(password).map_err(Error::Usage)?
            );
            Ok(())
        }
    }
}
