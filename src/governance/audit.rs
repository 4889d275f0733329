//! The audit trail: every statement of every identity, in an embedded SQLite
//! database (WAL mode) beside the policy or in PostgreSQL, append-only and
//! hash-chained.
//!
//! Each entry's `hash` is SHA-256 over the previous entry's hash and the
//! entry's fields, so editing or deleting an entry breaks the chain at that
//! point and `finsight audit verify` reports where. Triggers refuse UPDATE
//! and DELETE (and, in PostgreSQL, TRUNCATE); the chain catches changes made
//! around them.
//! Removing the newest entries leaves a valid shorter chain: compare the
//! head hash `verify` prints with one kept elsewhere (`--head`) to catch it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::policy::AuditTarget;

/// Hash of the (absent) entry before the first.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error,
    /// Refused by the policy.
    Denied,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Denied => "denied",
        }
    }
}

/// One audited event.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub user: String,
    pub role: String,
    pub purpose: Option<String>,
    /// `statement`, `erasure`, `retention`, `login`, `subject_access`.
    pub kind: String,
    pub statement: String,
    pub tables: Vec<String>,
    pub columns: Vec<String>,
    pub masks: Vec<String>,
    pub filters: Vec<String>,
    pub rows: Option<u64>,
    pub status: Option<Status>,
    pub error: Option<String>,
    /// Free-form JSON detail (erasure receipts, privacy-budget spends).
    pub detail: Option<String>,
    /// When it happened, in microseconds since the epoch; `None` is now.
    /// Only tests of time windows set it.
    pub at_micros: Option<i64>,
}

/// The kind of a privacy-budget spend entry (one per DP query).
pub const SPEND_KIND: &str = "dp_spend";
/// The kind of a privacy-budget grant entry (`GRANT PRIVACY BUDGET`).
pub const GRANT_KIND: &str = "dp_grant";

/// A privacy-budget entry of the trail: a spend (`dp_spend`) or a grant
/// (`dp_grant`), with its JSON detail.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub ts_micros: i64,
    pub user: String,
    pub kind: String,
    pub tables: Vec<String>,
    pub detail: Option<String>,
}

/// Decides, from the ledger entries since a point in time, whether an
/// entry may be appended: `Err(reason)` refuses it. Called inside the
/// trail's write transaction (again if that transaction is retried).
pub type LedgerCheck = Arc<dyn Fn(&[LedgerEntry]) -> Result<(), String> + Send + Sync>;

/// Columns in hash order.
const COLUMNS: &str = "seq, ts_micros, user, role, purpose, kind, statement, tables, columns, masks, filters, rows, status, error, detail, prev_hash, hash";

/// The same columns for PostgreSQL, where `user` is reserved.
const PG_COLUMNS: &str = "seq, ts_micros, \"user\", role, purpose, kind, statement, tables, columns, masks, filters, rows, status, error, detail, prev_hash, hash";

/// The audit trail, in SQLite or PostgreSQL.
#[derive(Debug)]
pub struct AuditLog {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite {
        path: PathBuf,
        conn: Mutex<Connection>,
    },
    Postgres {
        /// The connection string without a password, for messages.
        target: String,
        worker: Mutex<mpsc::Sender<Request>>,
    },
}

fn sql_error(path: &Path, e: rusqlite::Error) -> String {
    format!("audit trail {}: {e}", path.display())
}

impl AuditLog {
    /// Opens (creating if needed) the audit trail `target`.
    pub fn open(target: &AuditTarget) -> Result<Arc<Self>, String> {
        let backend = match target {
            AuditTarget::Sqlite(path) => Backend::Sqlite {
                path: path.clone(),
                conn: Mutex::new(open_sqlite(path)?),
            },
            AuditTarget::Postgres {
                connection,
                password_env,
            } => {
                let mut config: postgres::Config = connection
                    .parse()
                    .map_err(|e| format!("audit trail: bad PostgreSQL connection string: {e}"))?;
                if let Some(var) = password_env {
                    let password = std::env::var(var).map_err(|_| {
                        format!("audit trail: the password variable {var} is not set")
                    })?;
                    config.password(password);
                }
                let target = describe_postgres(&config);
                let worker = postgres_worker(config, target.clone())?;
                Backend::Postgres {
                    target,
                    worker: Mutex::new(worker),
                }
            }
        };
        Ok(Arc::new(Self { backend }))
    }

    /// Where the trail is, for messages.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite { path, .. } => path.display().to_string(),
            Backend::Postgres { target, .. } => target.clone(),
        }
    }

    /// Appends `entry`, chained to the newest entry; returns its sequence
    /// number. One transaction holding a write lock, so concurrent writers
    /// (several processes on one trail) serialize and the chain stays linear.
    pub fn append(&self, entry: &Entry) -> Result<i64, String> {
        self.append_with(entry, None)?
    }

    /// Appends `entry` only if `check` accepts the ledger entries since
    /// `since_micros`, in the same transaction and under the same write lock
    /// as [`Self::append`]: of two writers racing for the last of a budget,
    /// one sees the other's spend. `Ok(Err(reason))` when `check` refused.
    pub fn append_checked(
        &self,
        entry: &Entry,
        since_micros: i64,
        check: LedgerCheck,
    ) -> Result<Result<i64, String>, String> {
        self.append_with(entry, Some((since_micros, check)))
    }

    fn append_with(
        &self,
        entry: &Entry,
        check: Option<(i64, LedgerCheck)>,
    ) -> Result<Result<i64, String>, String> {
        match &self.backend {
            Backend::Sqlite { path, conn } => {
                let mut conn = conn
                    .lock()
                    .map_err(|_| "audit trail: a writer panicked".to_string())?;
                let check = check.as_ref().map(|(since, c)| (*since, c));
                sqlite_append(&mut conn, path, entry, check)
            }
            Backend::Postgres { worker, .. } => {
                let (reply, answer) = mpsc::channel();
                ask(
                    worker,
                    Request::Append(Box::new(entry.clone()), check, reply),
                )?;
                answer
                    .recv()
                    .map_err(|_| "audit trail: the PostgreSQL writer stopped".to_string())?
            }
        }
    }

    /// The privacy-budget ledger entries since `since_micros`, oldest first.
    pub fn ledger(&self, since_micros: i64) -> Result<Vec<LedgerEntry>, String> {
        match &self.backend {
            Backend::Sqlite { path, conn } => {
                let conn = conn
                    .lock()
                    .map_err(|_| "audit trail: a writer panicked".to_string())?;
                retry_busy(|| sqlite_ledger(&conn, since_micros)).map_err(|e| sql_error(path, e))
            }
            Backend::Postgres { worker, .. } => {
                let (reply, answer) = mpsc::channel();
                ask(worker, Request::Ledger(since_micros, reply))?;
                answer
                    .recv()
                    .map_err(|_| "audit trail: the PostgreSQL reader stopped".to_string())?
            }
        }
    }

    /// Every entry, oldest first.
    pub fn read_all(&self) -> Result<Vec<Row>, String> {
        match &self.backend {
            Backend::Sqlite { path, .. } => sqlite_read_all(path),
            Backend::Postgres { worker, .. } => {
                let (reply, answer) = mpsc::channel();
                ask(worker, Request::ReadAll(reply))?;
                answer
                    .recv()
                    .map_err(|_| "audit trail: the PostgreSQL reader stopped".to_string())?
            }
        }
    }

    /// Checks the chain; see [`Verification`].
    pub fn verify(&self) -> Result<Verification, String> {
        let rows = self.read_all()?;
        let mut problems = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1;
        for row in &rows {
            if row.seq != expected_seq {
                problems.push(format!(
                    "entry {expected_seq}{} is missing (next entry is {})",
                    if row.seq > expected_seq + 1 {
                        format!("..{}", row.seq - 1)
                    } else {
                        String::new()
                    },
                    row.seq
                ));
            }
            if row.prev_hash != prev {
                problems.push(format!(
                    "entry {} does not follow the entry before it (chain broken: an entry was deleted or replaced)",
                    row.seq
                ));
            }
            if row.digest() != row.hash {
                problems.push(format!(
                    "entry {} was modified after it was written (its hash does not match its content)",
                    row.seq
                ));
            }
            prev = row.hash.clone();
            expected_seq = row.seq + 1;
        }
        Ok(Verification {
            entries: rows.len(),
            head: rows.last().map(|r| (r.seq, r.hash.clone())),
            problems,
        })
    }
}

/// Runs `step` again while another process holds the database (SQLITE_BUSY
/// can come back without the busy handler being consulted, for example
/// while a new trail is switched to WAL or a read transaction would have to
/// upgrade); gives up after 30 seconds like the busy timeout.
fn retry_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn open_sqlite(path: &Path) -> Result<Connection, String> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut conn = Connection::open(path).map_err(|e| sql_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| sql_error(path, e))?;
    retry_busy(|| {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
        }
        conn.execute_batch("PRAGMA synchronous = FULL;")
    })
    .map_err(|e| sql_error(path, e))?;
    retry_busy(|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS audit_log (
                 seq INTEGER PRIMARY KEY,
                 ts_micros INTEGER NOT NULL,
                 user TEXT NOT NULL,
                 role TEXT NOT NULL,
                 purpose TEXT,
                 kind TEXT NOT NULL,
                 statement TEXT NOT NULL,
                 tables TEXT NOT NULL,
                 columns TEXT NOT NULL,
                 masks TEXT NOT NULL,
                 filters TEXT NOT NULL,
                 rows INTEGER,
                 status TEXT NOT NULL,
                 error TEXT,
                 detail TEXT,
                 prev_hash TEXT NOT NULL,
                 hash TEXT NOT NULL
             );
             CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
                 BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
             CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
                 BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
             CREATE INDEX IF NOT EXISTS audit_log_ledger ON audit_log (kind, ts_micros);",
        )?;
        tx.commit()
    })
    .map_err(|e| sql_error(path, e))?;
    Ok(conn)
}

/// The row `entry` becomes after `last` (sequence number and hash).
fn next_row(last: Option<(i64, String)>, entry: &Entry) -> Row {
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let mut row = Row {
        seq,
        ts_micros: entry
            .at_micros
            .unwrap_or_else(|| chrono::Utc::now().timestamp_micros()),
        user: entry.user.clone(),
        role: entry.role.clone(),
        purpose: entry.purpose.clone(),
        kind: entry.kind.clone(),
        statement: entry.statement.clone(),
        tables: json(&entry.tables),
        columns: json(&entry.columns),
        masks: json(&entry.masks),
        filters: json(&entry.filters),
        rows: entry.rows.map(|r| r as i64),
        status: entry.status.unwrap_or(Status::Ok).as_str().to_string(),
        error: entry.error.clone(),
        detail: entry.detail.clone(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = row.digest();
    row
}

/// Appends `entry` in one transaction holding the write lock; with a
/// check, only if the check accepts the ledger read in that transaction.
fn sqlite_append(
    conn: &mut Connection,
    path: &Path,
    entry: &Entry,
    check: Option<(i64, &LedgerCheck)>,
) -> Result<Result<i64, String>, String> {
    retry_busy(|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((since, check)) = check
            && let Err(refused) = check(&sqlite_ledger(&tx, since)?)
        {
            return Ok(Err(refused));
        }
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let row = next_row(last, entry);
        tx.execute(
            &format!("INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
            params![
                row.seq, row.ts_micros, row.user, row.role, row.purpose, row.kind, row.statement,
                row.tables, row.columns, row.masks, row.filters, row.rows, row.status, row.error,
                row.detail, row.prev_hash, row.hash
            ],
        )?;
        tx.commit()?;
        Ok(Ok(row.seq))
    })
    .map_err(|e| sql_error(path, e))
}

fn sqlite_ledger(conn: &Connection, since_micros: i64) -> rusqlite::Result<Vec<LedgerEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts_micros, user, kind, tables, detail FROM audit_log
         WHERE kind IN ('dp_spend', 'dp_grant') AND ts_micros >= ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([since_micros], |r| {
        Ok(LedgerEntry {
            ts_micros: r.get(0)?,
            user: r.get(1)?,
            kind: r.get(2)?,
            tables: parse_list(&r.get::<_, String>(3)?),
            detail: r.get(4)?,
        })
    })?;
    rows.collect()
}

fn parse_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn sqlite_read_all(path: &Path) -> Result<Vec<Row>, String> {
    if !path.is_file() {
        return Err(format!("audit trail {} does not exist", path.display()));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| sql_error(path, e))?;
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))
        .map_err(|e| sql_error(path, e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                seq: r.get(0)?,
                ts_micros: r.get(1)?,
                user: r.get(2)?,
                role: r.get(3)?,
                purpose: r.get(4)?,
                kind: r.get(5)?,
                statement: r.get(6)?,
                tables: r.get(7)?,
                columns: r.get(8)?,
                masks: r.get(9)?,
                filters: r.get(10)?,
                rows: r.get(11)?,
                status: r.get(12)?,
                error: r.get(13)?,
                detail: r.get(14)?,
                prev_hash: r.get(15)?,
                hash: r.get(16)?,
            })
        })
        .map_err(|e| sql_error(path, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| sql_error(path, e))
}

// --- PostgreSQL ---------------------------------------------------------------

/// Work for the PostgreSQL thread. The synchronous `postgres` client runs
/// its own small runtime, which must not be nested in the session's tokio
/// runtime: it lives on a thread of its own and statements wait for it.
enum Request {
    /// An entry, with the ledger check it must pass (and since when).
    Append(
        Box<Entry>,
        Option<(i64, LedgerCheck)>,
        mpsc::Sender<Result<Result<i64, String>, String>>,
    ),
    Ledger(i64, mpsc::Sender<Result<Vec<LedgerEntry>, String>>),
    ReadAll(mpsc::Sender<Result<Vec<Row>, String>>),
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Append(..) => "Append",
            Self::Ledger(..) => "Ledger",
            Self::ReadAll(_) => "ReadAll",
        })
    }
}

fn ask(worker: &Mutex<mpsc::Sender<Request>>, request: Request) -> Result<(), String> {
    worker
        .lock()
        .map_err(|_| "audit trail: a writer panicked".to_string())?
        .send(request)
        .map_err(|_| "audit trail: the PostgreSQL connection is closed".to_string())
}

fn describe_postgres(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "postgresql://{}@{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// Connects, creates the table and its append-only triggers if needed, and
/// starts the thread that owns the connection.
fn postgres_worker(
    config: postgres::Config,
    target: String,
) -> Result<mpsc::Sender<Request>, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (requests, inbox) = mpsc::channel::<Request>();
    let error = move |e: postgres::Error| format!("audit trail {target}: {e}");
    std::thread::Builder::new()
        .name("finsight-audit".into())
        .spawn(move || {
            let mut client = match config.connect(postgres::NoTls) {
                Ok(client) => client,
                Err(e) => {
                    let _ = ready_tx.send(Err(error(e)));
                    return;
                }
            };
            if let Err(e) = create_postgres_schema(&mut client) {
                let _ = ready_tx.send(Err(error(e)));
                return;
            }
            let _ = ready_tx.send(Ok(()));
            for request in inbox {
                match request {
                    Request::Append(entry, check, reply) => {
                        let check = check.as_ref().map(|(since, c)| (*since, c));
                        let _ =
                            reply.send(postgres_append(&mut client, &entry, check).map_err(&error));
                    }
                    Request::Ledger(since, reply) => {
                        let _ = reply.send(postgres_ledger(&mut client, since).map_err(&error));
                    }
                    Request::ReadAll(reply) => {
                        let _ = reply.send(postgres_read_all(&mut client).map_err(&error));
                    }
                }
            }
        })
        .map_err(|e| format!("audit trail: cannot start the PostgreSQL thread: {e}"))?;
    ready_rx
        .recv()
        .map_err(|_| "audit trail: the PostgreSQL thread stopped".to_string())??;
    Ok(requests)
}

fn create_postgres_schema(client: &mut postgres::Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    // Several processes may open a new trail at once; DDL is not safe to race.
    tx.execute("SELECT pg_advisory_xact_lock(7213400112)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS audit_log (
             seq BIGINT PRIMARY KEY,
             ts_micros BIGINT NOT NULL,
             \"user\" TEXT NOT NULL,
             role TEXT NOT NULL,
             purpose TEXT,
             kind TEXT NOT NULL,
             statement TEXT NOT NULL,
             tables TEXT NOT NULL,
             columns TEXT NOT NULL,
             masks TEXT NOT NULL,
             filters TEXT NOT NULL,
             rows BIGINT,
             status TEXT NOT NULL,
             error TEXT,
             detail TEXT,
             prev_hash TEXT NOT NULL,
             hash TEXT NOT NULL
         );
         CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
         CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
         CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
             FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
         CREATE INDEX IF NOT EXISTS audit_log_ledger ON audit_log (kind, ts_micros);",
    )?;
    tx.commit()
}

fn postgres_append(
    client: &mut postgres::Client,
    entry: &Entry,
    check: Option<(i64, &LedgerCheck)>,
) -> Result<Result<i64, String>, postgres::Error> {
    let mut tx = client.transaction()?;
    // Self-exclusive, so appends (and budget checks) serialize; readers are not blocked.
    tx.batch_execute("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")?;
    if let Some((since, check)) = check
        && let Err(refused) = check(&postgres_ledger_in(&mut tx, since)?)
    {
        tx.rollback()?;
        return Ok(Err(refused));
    }
    let last = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )?
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
    let row = next_row(last, entry);
    tx.execute(
        &format!("INSERT INTO audit_log ({PG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"),
        &[
            &row.seq, &row.ts_micros, &row.user, &row.role, &row.purpose, &row.kind,
            &row.statement, &row.tables, &row.columns, &row.masks, &row.filters, &row.rows,
            &row.status, &row.error, &row.detail, &row.prev_hash, &row.hash,
        ],
    )?;
    tx.commit()?;
    Ok(Ok(row.seq))
}

fn postgres_ledger(
    client: &mut postgres::Client,
    since_micros: i64,
) -> Result<Vec<LedgerEntry>, postgres::Error> {
    let mut tx = client.transaction()?;
    let ledger = postgres_ledger_in(&mut tx, since_micros)?;
    tx.commit()?;
    Ok(ledger)
}

fn postgres_ledger_in(
    tx: &mut postgres::Transaction<'_>,
    since_micros: i64,
) -> Result<Vec<LedgerEntry>, postgres::Error> {
    let rows = tx.query(
        "SELECT ts_micros, \"user\", kind, tables, detail FROM audit_log
         WHERE kind IN ('dp_spend', 'dp_grant') AND ts_micros >= $1 ORDER BY seq",
        &[&since_micros],
    )?;
    Ok(rows
        .iter()
        .map(|r| LedgerEntry {
            ts_micros: r.get(0),
            user: r.get(1),
            kind: r.get(2),
            tables: parse_list(&r.get::<_, String>(3)),
            detail: r.get(4),
        })
        .collect())
}

fn postgres_read_all(client: &mut postgres::Client) -> Result<Vec<Row>, postgres::Error> {
    let rows = client.query(
        &format!("SELECT {PG_COLUMNS} FROM audit_log ORDER BY seq"),
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Row {
            seq: r.get(0),
            ts_micros: r.get(1),
            user: r.get(2),
            role: r.get(3),
            purpose: r.get(4),
            kind: r.get(5),
            statement: r.get(6),
            tables: r.get(7),
            columns: r.get(8),
            masks: r.get(9),
            filters: r.get(10),
            rows: r.get(11),
            status: r.get(12),
            error: r.get(13),
            detail: r.get(14),
            prev_hash: r.get(15),
            hash: r.get(16),
        })
        .collect())
}

/// Result of [`AuditLog::verify`].
#[derive(Debug, Clone)]
pub struct Verification {
    pub entries: usize,
    /// Sequence number and hash of the newest entry.
    pub head: Option<(i64, String)>,
    pub problems: Vec<String>,
}

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub seq: i64,
    pub ts_micros: i64,
    pub user: String,
    pub role: String,
    pub purpose: Option<String>,
    pub kind: String,
    pub statement: String,
    pub tables: String,
    pub columns: String,
    pub masks: String,
    pub filters: String,
    pub rows: Option<i64>,
    pub status: String,
    pub error: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl Row {
    /// SHA-256 over the previous hash and every field, each length-prefixed
    /// so no two different entries serialize alike.
    fn digest(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |s: Option<&str>| match s {
            None => h.update(b"N"),
            Some(s) => {
                h.update(b"S");
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        };
        field(Some(&self.prev_hash));
        field(Some(&self.seq.to_string()));
        field(Some(&self.ts_micros.to_string()));
        field(Some(&self.user));
        field(Some(&self.role));
        field(self.purpose.as_deref());
        field(Some(&self.kind));
        field(Some(&self.statement));
        field(Some(&self.tables));
        field(Some(&self.columns));
        field(Some(&self.masks));
        field(Some(&self.filters));
        field(self.rows.map(|r| r.to_string()).as_deref());
        field(Some(&self.status));
        field(self.error.as_deref());
        field(self.detail.as_deref());
        hex::encode(h.finalize())
    }
}

fn json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_string())
}

/// Arrow schema of the audit trail as the SQL table `audit.log`.
pub fn schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        // `user` is an SQL keyword (the current user).
        text("user_name", false),
        text("role", false),
        text("purpose", true),
        text("kind", false),
        text("statement", false),
        text("tables", false),
        text("columns", false),
        text("masks", false),
        text("filters", false),
        Field::new("rows", DataType::Int64, true),
        text("status", false),
        text("error", true),
        text("detail", true),
        text("prev_hash", false),
        text("hash", false),
    ]))
}

/// The rows as one record batch of [`schema`].
pub fn to_batch(rows: &[Row]) -> datafusion::common::Result<RecordBatch> {
    let strings = |f: &dyn Fn(&Row) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.seq).collect::<Int64Array>()),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.ts_micros))
                .with_timezone("UTC"),
        ),
        strings(&|r| Some(&r.user)),
        strings(&|r| Some(&r.role)),
        strings(&|r| r.purpose.as_deref()),
        strings(&|r| Some(&r.kind)),
        strings(&|r| Some(&r.statement)),
        strings(&|r| Some(&r.tables)),
        strings(&|r| Some(&r.columns)),
        strings(&|r| Some(&r.masks)),
        strings(&|r| Some(&r.filters)),
        Arc::new(rows.iter().map(|r| r.rows).collect::<Int64Array>()),
        strings(&|r| Some(&r.status)),
        strings(&|r| r.error.as_deref()),
        strings(&|r| r.detail.as_deref()),
        strings(&|r| Some(&r.prev_hash)),
        strings(&|r| Some(&r.hash)),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(statement: &str) -> Entry {
        Entry {
            user: "alice".into(),
            role: "analyst".into(),
            kind: "statement".into(),
            statement: statement.into(),
            tables: vec!["customers".into()],
            rows: Some(3),
            ..Entry::default()
        }
    }

    #[test]
    fn an_intact_chain_verifies_and_tampering_is_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.db");
        let log = AuditLog::open(&AuditTarget::Sqlite(path.clone())).expect("open");
        for i in 0..5 {
            log.append(&entry(&format!("SELECT {i}"))).expect("append");
        }
        let ok = log.verify().expect("verify");
        assert_eq!(ok.entries, 5);
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);

        // UPDATE and DELETE are refused by the triggers...
        let conn = Connection::open(&path).expect("open");
        assert!(
            conn.execute("UPDATE audit_log SET rows = 0 WHERE seq = 2", [])
                .is_err()
        );
        assert!(
            conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
                .is_err()
        );
        // ...and someone who drops them is caught by the chain.
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
             UPDATE audit_log SET statement = 'SELECT 42' WHERE seq = 2;
             DELETE FROM audit_log WHERE seq = 4;",
        )
        .expect("tamper");
        let bad = log.verify().expect("verify");
        assert!(
            bad.problems
                .iter()
                .any(|p| p.contains("entry 2 was modified")),
            "{:?}",
            bad.problems
        );
        assert!(
            bad.problems
                .iter()
                .any(|p| p.contains("entry 4 is missing")),
            "{:?}",
            bad.problems
        );
        assert!(
            bad.problems
                .iter()
                .any(|p| p.contains("entry 5 does not follow")),
            "{:?}",
            bad.problems
        );
    }

    #[test]
    fn concurrent_writers_on_a_new_trail_keep_one_chain() {
        // Separate connections, as separate processes have, racing to create
        // the trail and append: none may fail with "database is locked".
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.db");
        std::thread::scope(|scope| {
            for t in 0..8 {
                let path = path.clone();
                scope.spawn(move || {
                    let log = AuditLog::open(&AuditTarget::Sqlite(path)).expect("open");
                    for i in 0..20 {
                        log.append(&entry(&format!("SELECT {t}, {i}")))
                            .expect("append");
                    }
                });
            }
        });
        let log = AuditLog::open(&AuditTarget::Sqlite(path)).expect("open");
        let verification = log.verify().expect("verify");
        assert_eq!(verification.entries, 160);
        assert!(
            verification.problems.is_empty(),
            "{:?}",
            verification.problems
        );
    }

    #[test]
    fn rows_become_a_record_batch() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.db");
        let log = AuditLog::open(&AuditTarget::Sqlite(path)).expect("open");
        log.append(&entry("SELECT 1")).expect("append");
        let batch = to_batch(&log.read_all().expect("read")).expect("batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), schema());
    }
}
