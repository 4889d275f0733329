//! Running a statement for a Flight client: planning through the user's
//! governed session (`sql::dataframe`, the same path as the shell), a
//! memory pool of its own per query, a deadline, a cap on each user's
//! concurrent queries, cancellation, and streaming through a bounded
//! channel, so a slow client slows the query down instead of the server
//! buffering its result. Every statement ends in exactly one audit entry:
//! finished, failed, timed out, cancelled or cut off by a disconnecting
//! client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use datafusion::common::{DataFusionError, ParamValues};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant as TokioInstant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::Status;

use super::auth::UserSession;
use super::{locked, random_hex};
use crate::governance::Access;
use crate::memory_pool::AggregateBorrowingPool;
use crate::sql;

/// Per-query and per-user limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Memory each query's operators may hold; sorts, joins and aggregates
    /// spill to disk beyond it, other operators fail the query.
    pub query_memory: usize,
    pub query_timeout: Duration,
    pub queries_per_user: usize,
}

/// A planned statement waiting for its ticket to be fetched.
pub struct Planned {
    pub session: Arc<UserSession>,
    /// What the audit trail records (with bound parameters).
    pub statement: String,
    pub df: DataFrame,
    pub access: Access,
    /// The schema clients see (view types as plain strings and binaries).
    pub schema: SchemaRef,
    pub cancel: CancellationToken,
    pub deadline: Instant,
}

/// Everything the server runs: planned statements by ticket, running ones
/// by ticket, per-user slots, and the tasks streaming results.
pub struct Queries {
    pub limits: Limits,
    planned: Mutex<HashMap<String, Planned>>,
    running: Mutex<HashMap<String, (String, CancellationToken)>>,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    pub tasks: TaskTracker,
    /// Cancelled when the shutdown grace period is over.
    pub shutdown: CancellationToken,
}

/// How a cancelled query was cancelled.
pub enum Cancelled {
    /// It was running and will stop.
    Running,
    /// Its ticket had not been fetched; it never ran.
    BeforeStart,
    /// Not found: finished already, or someone else's.
    Unknown,
}

impl Queries {
    /// Queries streaming now.
    pub fn running(&self) -> usize {
        locked(&self.running).len()
    }

    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            planned: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// A context for one query: the user's session (tables, functions,
    /// policies, views) with a memory pool of the query's own.
    fn query_context(&self, session: &UserSession) -> SessionContext {
        let state = session.ctx.state();
        let shared = state.runtime_env();
        let runtime = RuntimeEnv {
            memory_pool: Arc::new(AggregateBorrowingPool::new(self.limits.query_memory)),
            disk_manager: Arc::clone(&shared.disk_manager),
            cache_manager: Arc::clone(&shared.cache_manager),
            object_store_registry: Arc::clone(&shared.object_store_registry),
            parquet_encryption_factory_registry: Arc::clone(
                &shared.parquet_encryption_factory_registry,
            ),
        };
        let mut state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(Arc::new(runtime))
            .build();
        // A sort sets aside memory for merging its spill files (10 MiB by
        // default); under a small per-query limit that reservation alone
        // would fail the sort instead of letting it spill.
        let execution = &mut state.config_mut().options_mut().execution;
        execution.sort_spill_reservation_bytes = execution
            .sort_spill_reservation_bytes
            .min(self.limits.query_memory / 8);
        SessionContext::new_with_state(state)
    }

    /// Plans `statement` (with `params` bound to its placeholders) as the
    /// session's user. A statement that fails to plan is audited here.
    pub async fn plan(
        &self,
        session: &Arc<UserSession>,
        statement: &str,
        params: Option<&ParamValues>,
    ) -> Result<Planned, Status> {
        let deadline = Instant::now() + self.limits.query_timeout;
        let ctx = self.query_context(session);
        let mut access = Access::default();
        let audited = audit_text(statement, params);
        let planned = tokio::time::timeout(self.limits.query_timeout, async {
            let df = sql::dataframe(&ctx, statement, &mut access).await?;
            match params {
                Some(values) => df.with_param_values(values.clone()),
                None => {
                    let missing = df.logical_plan().get_parameter_types()?;
                    if missing.is_empty() {
                        Ok(df)
                    } else {
                        let mut names: Vec<&String> = missing.keys().collect();
                        names.sort();
                        Err(DataFusionError::Plan(format!(
                            "the statement has parameters ({}) but no values were bound: prepare it and bind one row of values",
                            names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                        )))
                    }
                }
            }
        })
        .await;
        let result = match planned {
            Ok(Ok(df)) => Ok(df),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DataFusionError::ResourcesExhausted(format!(
                "planning timed out after {} s (--query-timeout)",
                self.limits.query_timeout.as_secs_f64()
            ))),
        };
        match result {
            Ok(df) => {
                let schema = match analyzed_schema(&ctx, df.logical_plan()) {
                    Ok(schema) => schema,
                    Err(e) => {
                        let message = e.strip_backtrace();
                        record(session, &audited, &access, None, Some(&message))?;
                        return Err(status_of(&e, &self.limits));
                    }
                };
                Ok(Planned {
                    session: Arc::clone(session),
                    statement: audited,
                    df,
                    access,
                    schema,
                    cancel: CancellationToken::new(),
                    deadline,
                })
            }
            Err(e) => {
                let message = e.strip_backtrace();
                record(session, &audited, &access, None, Some(&message))?;
                Err(status_of(&e, &self.limits))
            }
        }
    }

    /// Keeps `planned` until its ticket is fetched; returns the ticket's id.
    pub fn park(&self, planned: Planned) -> String {
        let id = random_hex(16);
        let mut parked = locked(&self.planned);
        // Tickets never fetched (a client that went away after GetFlightInfo)
        // expire with their deadline and are audited as not run.
        let now = Instant::now();
        let expired: Vec<String> = parked
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            if let Some(p) = parked.remove(&key) {
                let _ = record(
                    &p.session,
                    &p.statement,
                    &p.access,
                    None,
                    Some("cancelled: the result was never fetched before the query deadline"),
                );
            }
        }
        parked.insert(id.clone(), planned);
        id
    }

    /// Takes the planned statement of ticket `id`, if it is `user`'s.
    pub fn take(&self, id: &str, user: &str) -> Result<Planned, Status> {
        let mut parked = locked(&self.planned);
        match parked.get(id) {
            Some(p) if p.session.user() == user => parked
                .remove(id)
                .ok_or_else(|| Status::internal("ticket vanished")),
            _ => Err(Status::not_found(
                "unknown ticket: it was already fetched, has expired, or belongs to another login",
            )),
        }
    }

    /// A slot for one of `user`'s concurrent queries.
    pub fn slot(&self, user: &str) -> Result<OwnedSemaphorePermit, Status> {
        let semaphore = Arc::clone(
            locked(&self.slots)
                .entry(user.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limits.queries_per_user))),
        );
        semaphore.try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "user '{user}' already runs {} queries, the limit per user (--max-queries-per-user); wait for one to finish",
                self.limits.queries_per_user
            ))
        })
    }

    /// Cancels ticket `id` of `user`, whether running or still parked.
    pub fn cancel(&self, id: &str, user: &str) -> Cancelled {
        if let Some((owner, token)) = locked(&self.running).get(id)
            && owner == user
        {
            token.cancel();
            return Cancelled::Running;
        }
        let parked = {
            let mut parked = locked(&self.planned);
            match parked.get(id) {
                Some(p) if p.session.user() == user => parked.remove(id),
                _ => None,
            }
        };
        match parked {
            Some(p) => {
                let _ = record(
                    &p.session,
                    &p.statement,
                    &p.access,
                    None,
                    Some("cancelled by the client before it ran"),
                );
                Cancelled::BeforeStart
            }
            None => Cancelled::Unknown,
        }
    }

    /// Runs `planned` in a task of its own that streams batches into a
    /// bounded channel and audits how the statement ended.
    pub fn start(
        self: &Arc<Self>,
        id: String,
        planned: Planned,
        permit: OwnedSemaphorePermit,
    ) -> impl futures::Stream<Item = Result<RecordBatch, Status>> + Send + 'static {
        // Two batches in flight: enough to overlap encoding and sending,
        // small enough that a slow reader throttles the query.
        let (tx, rx) = mpsc::channel(2);
        // How the query failed, delivered after the batches already queued:
        // a full channel must not swallow the error, or the client would
        // take a cut-off result for a complete one.
        let failure: Arc<Mutex<Option<Status>>> = Arc::new(Mutex::new(None));
        let fail = Arc::clone(&failure);
        let queries = Arc::clone(self);
        locked(&self.running).insert(
            id.clone(),
            (planned.session.user().to_string(), planned.cancel.clone()),
        );
        self.tasks.spawn(async move {
            let _permit = permit;
            let Planned {
                session,
                statement,
                df,
                access,
                schema,
                cancel,
                deadline,
            } = planned;
            let run = Run {
                tx: &tx,
                fail: &fail,
                cancel: &cancel,
                shutdown: &queries.shutdown,
                deadline,
                limits: &queries.limits,
            };
            let (rows, error) = stream_batches(df, &schema, run).await;
            locked(&queries.running).remove(&id);
            if let Err(status) = record(&session, &statement, &access, Some(rows), error.as_deref())
            {
                locked(&fail).get_or_insert(status);
            }
            // Dropping `tx` here ends the batches; the failure follows.
            drop(tx);
        });
        tokio_stream::wrappers::ReceiverStream::new(rx).chain(
            futures::stream::once(async move { locked(&failure).take() })
                .filter_map(|failed| async move { failed.map(Err) }),
        )
    }
}

/// Pulls batches from the query and sends them to the client; returns the
/// rows sent and, unless the query finished, why it stopped.
/// Where a running query sends its batches, and what may stop it.
struct Run<'a> {
    tx: &'a mpsc::Sender<Result<RecordBatch, Status>>,
    /// The error the client gets after the batches already queued.
    fail: &'a Mutex<Option<Status>>,
    cancel: &'a CancellationToken,
    shutdown: &'a CancellationToken,
    deadline: Instant,
    limits: &'a Limits,
}

async fn stream_batches(
    df: DataFrame,
    schema: &SchemaRef,
    run: Run<'_>,
) -> (usize, Option<String>) {
    let Run {
        tx,
        fail,
        cancel,
        shutdown,
        deadline,
        limits,
    } = run;
    let deadline = TokioInstant::from_std(deadline);
    let timeout_message = format!(
        "query timed out after {} s (--query-timeout)",
        limits.query_timeout.as_secs_f64()
    );
    let mut rows = 0usize;
    // Why the query stops early, and what the client is told.
    let stop = |why: Stop| -> (String, Status) {
        match why {
            Stop::Cancelled => (
                "cancelled by the client".into(),
                Status::cancelled("query cancelled"),
            ),
            Stop::Shutdown => (
                "cancelled: the server is shutting down".into(),
                Status::unavailable("the server is shutting down; the query was cancelled"),
            ),
            Stop::Disconnected => (
                "cancelled: the client disconnected".into(),
                Status::cancelled("client disconnected"),
            ),
            Stop::Timeout => (
                timeout_message.clone(),
                Status::deadline_exceeded(timeout_message.clone()),
            ),
        }
    };
    let stream = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Stop::Cancelled),
        _ = shutdown.cancelled() => Err(Stop::Shutdown),
        _ = tx.closed() => Err(Stop::Disconnected),
        _ = tokio::time::sleep_until(deadline) => Err(Stop::Timeout),
        stream = df.execute_stream() => Ok(stream),
    };
    let mut stream = match stream {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            *locked(fail) = Some(status_of(&e, limits));
            return (0, Some(e.strip_backtrace()));
        }
        Err(why) => {
            let (audit, status) = stop(why);
            *locked(fail) = Some(status);
            return (0, Some(audit));
        }
    };
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Stop::Cancelled),
            _ = shutdown.cancelled() => Err(Stop::Shutdown),
            _ = tx.closed() => Err(Stop::Disconnected),
            _ = tokio::time::sleep_until(deadline) => Err(Stop::Timeout),
            next = stream.next() => Ok(next),
        };
        let batch = match next {
            Ok(None) => return (rows, None),
            Ok(Some(Ok(batch))) => batch,
            Ok(Some(Err(e))) => {
                *locked(fail) = Some(status_of(&e, limits));
                return (rows, Some(e.strip_backtrace()));
            }
            Err(why) => {
                let (audit, status) = stop(why);
                *locked(fail) = Some(status);
                return (rows, Some(audit));
            }
        };
        let batch = match to_client_batch(batch, schema) {
            Ok(b) => b,
            Err(e) => {
                let message = format!("cannot convert a result batch for the client: {e}");
                *locked(fail) = Some(Status::internal(message.clone()));
                return (rows, Some(message));
            }
        };
        let n = batch.num_rows();
        let sent = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Stop::Cancelled),
            _ = shutdown.cancelled() => Err(Stop::Shutdown),
            _ = tokio::time::sleep_until(deadline) => Err(Stop::Timeout),
            sent = tx.send(Ok(batch)) => sent.map_err(|_| Stop::Disconnected),
        };
        if let Err(why) = sent {
            let (audit, status) = stop(why);
            *locked(fail) = Some(status);
            return (rows, Some(audit));
        }
        rows += n;
    }
}

enum Stop {
    Cancelled,
    Shutdown,
    Disconnected,
    Timeout,
}

/// Records a statement in the user's audit trail; a statement that cannot
/// be recorded fails.
pub fn record(
    session: &UserSession,
    statement: &str,
    access: &Access,
    rows: Option<usize>,
    error: Option<&str>,
) -> Result<(), Status> {
    session
        .governance
        .record(statement, access, rows, error)
        .map_err(|e| Status::internal(format!("audit trail: {e}")))
}

/// The statement as audited: with the values bound to its parameters.
fn audit_text(statement: &str, params: Option<&ParamValues>) -> String {
    match params {
        Some(ParamValues::List(values)) if !values.is_empty() => {
            let bound: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("${} = {}", i + 1, v.value))
                .collect();
            format!("{statement} /* parameters: {} */", bound.join(", "))
        }
        _ => statement.to_string(),
    }
}

/// The gRPC status for a failed statement, with DataFusion's message.
pub fn status_of(e: &DataFusionError, limits: &Limits) -> Status {
    let message = e.strip_backtrace();
    let root = e.find_root();
    match root {
        DataFusionError::ResourcesExhausted(_) if message.contains("timed out") => {
            Status::deadline_exceeded(message)
        }
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(format!(
            "query exceeded its memory limit of {} MiB (--query-memory-limit): {message}",
            limits.query_memory / (1024 * 1024)
        )),
        _ if message.contains("permission denied") => Status::permission_denied(message),
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_)
            if message.contains("not found") =>
        {
            Status::not_found(message)
        }
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_)
        | DataFusionError::Execution(_) => Status::invalid_argument(message),
        _ => Status::internal(message),
    }
}

/// The types BI clients read: Arrow's view types (which DataFusion uses
/// for Parquet strings) become plain strings and binaries, which every
/// Flight SQL client (ODBC and JDBC bridges among them) understands.
fn client_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::ListView(f) | DataType::List(f) => DataType::List(client_field(f)),
        DataType::LargeListView(f) | DataType::LargeList(f) => DataType::LargeList(client_field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(client_field(f), *n),
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(client_field).collect::<Fields>())
        }
        DataType::Map(f, sorted) => DataType::Map(client_field(f), *sorted),
        other => other.clone(),
    }
}

fn client_field(field: &FieldRef) -> FieldRef {
    Arc::new(
        Field::new(
            field.name(),
            client_type(field.data_type()),
            field.is_nullable(),
        )
        .with_metadata(field.metadata().clone()),
    )
}

/// The schema clients are told, and batches are sent in: that of the
/// analyzed plan. Type coercion runs in the analyzer, after the SQL planner
/// made `df.schema()`: `SELECT 1 UNION ALL SELECT 2.5` is Int64 there and
/// Float64 when it runs, and casting the rows to the planner's schema
/// turned 2.5 into 2.
pub fn analyzed_schema(
    ctx: &SessionContext,
    plan: &datafusion::logical_expr::LogicalPlan,
) -> datafusion::common::Result<SchemaRef> {
    let state = ctx.state();
    let analyzed =
        state
            .analyzer()
            .execute_and_check(plan.clone(), state.config_options(), |_, _| {})?;
    Ok(client_schema(analyzed.schema().as_arrow()))
}

pub fn client_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        schema.fields().iter().map(client_field).collect::<Fields>(),
        schema.metadata().clone(),
    ))
}

fn to_client_batch(
    batch: RecordBatch,
    schema: &SchemaRef,
) -> datafusion::arrow::error::Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                cast(column, field.data_type())
            }
        })
        .collect::<datafusion::arrow::error::Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{StringViewArray, StructArray};

    #[test]
    fn view_types_reach_clients_as_plain_types() {
        let inner = Arc::new(Field::new("s", DataType::Utf8View, true));
        let schema = Schema::new(vec![
            Field::new("a", DataType::Utf8View, true),
            Field::new("b", DataType::Struct(vec![Arc::clone(&inner)].into()), true),
            Field::new("c", DataType::Int64, false),
        ]);
        let client = client_schema(&schema);
        assert_eq!(client.field(0).data_type(), &DataType::Utf8);
        assert_eq!(
            client.field(1).data_type(),
            &DataType::Struct(vec![Field::new("s", DataType::Utf8, true)].into())
        );
        assert_eq!(client.field(2).data_type(), &DataType::Int64);
        let strings: ArrayRef = Arc::new(StringViewArray::from(vec![Some("x"), None]));
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::clone(&strings),
                Arc::new(StructArray::from(vec![(inner, Arc::clone(&strings))])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![1, 2])),
            ],
        )
        .expect("batch");
        let converted = to_client_batch(batch, &client).expect("cast");
        assert_eq!(converted.schema(), client);
        assert_eq!(converted.column(0).null_count(), 1);
    }

    #[test]
    fn errors_map_to_grpc_codes() {
        let limits = Limits {
            query_memory: 64 << 20,
            query_timeout: Duration::from_secs(1),
            queries_per_user: 1,
        };
        let code = |e: DataFusionError| status_of(&e, &limits).code();
        assert_eq!(
            code(DataFusionError::Plan("table 'x' not found".into())),
            tonic::Code::NotFound
        );
        assert_eq!(
            code(DataFusionError::Plan(
                "permission denied: role 'analyst' may not SET".into()
            )),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            code(DataFusionError::ResourcesExhausted(
                "Failed to allocate".into()
            )),
            tonic::Code::ResourceExhausted
        );
        assert_eq!(
            code(DataFusionError::Execution("rfm_score: bad".into())),
            tonic::Code::InvalidArgument
        );
        let with_params = audit_text(
            "SELECT $1",
            Some(&ParamValues::from(vec![
                datafusion::common::ScalarValue::from(7i64),
            ])),
        );
        assert_eq!(with_params, "SELECT $1 /* parameters: $1 = 7 */");
    }
}
