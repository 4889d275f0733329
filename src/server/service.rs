//! The Flight SQL service: every call authenticates its bearer token, then
//! runs in that user's session.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::SqlInfoData;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionCancelQueryRequest, ActionCancelQueryResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any, Command,
    CommandGetCatalogs, CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys,
    CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementQuery, CommandStatementUpdate,
    DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, ActionType, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus,
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket, decode::FlightRecordBatchStream,
};
use datafusion::arrow::array::{Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::{ParamValues, ScalarValue};
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Authenticator, UserSession};
use super::query::{Cancelled, Queries, client_schema, record};
use super::{locked, metadata, random_hex};
use crate::governance::Access;
use crate::sql::{identity_calls_without_parentheses, numbered_placeholders};

type DoGetStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// A prepared statement: its text, the user who prepared it and the
/// values bound to its parameters.
struct Prepared {
    user: String,
    sql: String,
    params: Option<ParamValues>,
}

pub struct FinsightFlightSql {
    auth: Arc<Authenticator>,
    queries: Arc<Queries>,
    prepared: Mutex<HashMap<String, Prepared>>,
    sql_info: SqlInfoData,
    /// Set once shutdown begins: new logins and statements are refused.
    draining: CancellationToken,
}

fn single_batch(schema: SchemaRef, batch: RecordBatch) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { Ok(batch) }))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

fn info_with_ticket(
    schema: &Schema,
    ticket: Vec<u8>,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("cannot encode the result schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_descriptor(descriptor)
        .with_ordered(true);
    Ok(Response::new(info))
}

fn schema_ipc(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: datafusion::arrow::error::ArrowError| {
            Status::internal(format!("cannot encode a schema: {e}"))
        })?;
    Ok(bytes)
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Status::invalid_argument(format!("malformed {what}: not UTF-8")))
}

/// The statement ids of the tickets of a FlightInfo this server issued.
fn ticket_ids(info: &FlightInfo) -> Vec<String> {
    info.endpoint
        .iter()
        .filter_map(|e| e.ticket.as_ref())
        .filter_map(|t| Any::decode(&*t.ticket).ok())
        .filter_map(|any| match Command::try_from(any) {
            Ok(Command::TicketStatementQuery(t)) => {
                String::from_utf8(t.statement_handle.to_vec()).ok()
            }
            _ => None,
        })
        .collect()
}

impl FinsightFlightSql {
    pub fn new(
        auth: Arc<Authenticator>,
        queries: Arc<Queries>,
        draining: CancellationToken,
    ) -> Result<Self, Status> {
        let sql_info = metadata::sql_info(&queries.limits)?;
        Ok(Self {
            auth,
            queries,
            prepared: Mutex::new(HashMap::new()),
            sql_info,
            draining,
        })
    }

    fn session<T>(&self, request: &Request<T>) -> Result<Arc<UserSession>, Status> {
        if self.draining.is_cancelled() {
            return Err(Status::unavailable(
                "the server is shutting down and accepts no new work",
            ));
        }
        self.auth.session(request.metadata())
    }

    fn park_info(
        &self,
        planned: super::query::Planned,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = Arc::clone(&planned.schema);
        let id = self.queries.park(planned);
        let ticket = TicketStatementQuery {
            statement_handle: id.into(),
        };
        info_with_ticket(&schema, ticket.as_any().encode_to_vec(), descriptor)
    }

    /// Runs a planned statement and streams its batches to the client.
    fn run(
        &self,
        id: String,
        planned: super::query::Planned,
    ) -> Result<Response<DoGetStream>, Status> {
        let permit = match self.queries.slot(planned.session.user()) {
            Ok(permit) => permit,
            Err(status) => {
                record(
                    &planned.session,
                    &planned.statement,
                    &planned.access,
                    None,
                    Some(status.message()),
                )?;
                return Err(status);
            }
        };
        let schema = Arc::clone(&planned.schema);
        let batches = self
            .queries
            .start(id, planned, permit)
            .map(|r| r.map_err(|status| FlightError::Tonic(Box::new(status))));
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    fn prepared(&self, handle: &[u8], user: &str) -> Result<(String, Option<ParamValues>), Status> {
        let handle = utf8(handle, "prepared statement handle")?;
        let prepared = locked(&self.prepared);
        match prepared.get(&handle) {
            Some(p) if p.user == user => Ok((p.sql.clone(), p.params.clone())),
            _ => Err(Status::not_found(
                "unknown prepared statement: it was closed, or belongs to another user",
            )),
        }
    }

    /// Runs an update-style statement to completion; returns its row count
    /// (the count DataFusion reports for DML, else the rows returned).
    async fn run_to_end(
        &self,
        session: &Arc<UserSession>,
        sql: &str,
        params: Option<&ParamValues>,
    ) -> Result<i64, Status> {
        let planned = self.queries.plan(session, sql, params).await?;
        let permit = match self.queries.slot(session.user()) {
            Ok(permit) => permit,
            Err(status) => {
                record(
                    session,
                    &planned.statement,
                    &planned.access,
                    None,
                    Some(status.message()),
                )?;
                return Err(status);
            }
        };
        let id = format!("update-{}", random_hex(8));
        let mut batches = Box::pin(self.queries.start(id, planned, permit));
        let mut rows = 0i64;
        let mut dml_count = None;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            rows += batch.num_rows() as i64;
            if batch.num_columns() == 1
                && batch.schema().field(0).name() == "count"
                && let Some(counts) = batch.column(0).as_any().downcast_ref::<UInt64Array>()
                && counts.len() == 1
                && counts.is_valid(0)
            {
                dml_count = Some(counts.value(0) as i64);
            }
        }
        Ok(dml_count.unwrap_or(rows))
    }

    /// The FlightInfo of a metadata command: its ticket is the command itself.
    fn command_info<T: ProstMessageExt>(
        &self,
        request: Request<FlightDescriptor>,
        command: &T,
        schema: &Schema,
    ) -> Result<Response<FlightInfo>, Status> {
        self.session(&request)?;
        info_with_ticket(
            schema,
            command.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    /// Key calls: Parquet tables declare no keys, so no rows of `schema`.
    fn no_keys(
        &self,
        request: &Request<Ticket>,
        schema: SchemaRef,
    ) -> Result<Response<DoGetStream>, Status> {
        self.session(request)?;
        Ok(single_batch(
            Arc::clone(&schema),
            RecordBatch::new_empty(schema),
        ))
    }

    fn cancel_ids(&self, ids: &[String], user: &str) -> CancelStatus {
        let mut status = CancelStatus::NotCancellable;
        for id in ids {
            match self.queries.cancel(id, user) {
                Cancelled::Running | Cancelled::BeforeStart => status = CancelStatus::Cancelled,
                Cancelled::Unknown => {}
            }
        }
        status
    }
}

/// One row of bound parameter values as positional `$1, $2, ...`.
fn parameter_values(batches: &[RecordBatch]) -> Result<ParamValues, Status> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Err(Status::invalid_argument(
            "bind parameters: expected one row of values, got none",
        ));
    };
    if rows != 1 {
        return Err(Status::invalid_argument(format!(
            "bind parameters: expected one row of values, got {rows} (run the statement once per row)"
        )));
    }
    let values = batch
        .columns()
        .iter()
        .map(|column| ScalarValue::try_from_array(column, 0))
        .collect::<datafusion::common::Result<Vec<_>>>()
        .map_err(|e| {
            Status::invalid_argument(format!("bind parameters: {}", e.strip_backtrace()))
        })?;
    Ok(ParamValues::from(values))
}

#[tonic::async_trait]
impl FlightSqlService for FinsightFlightSql {
    type FlightService = Self;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        if self.draining.is_cancelled() {
            return Err(Status::unavailable("the server is shutting down"));
        }
        let peer = request.remote_addr().map(|a| a.ip());
        let token = self.auth.login(request.metadata(), peer).await?;
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("token is not a valid header value"))?;
        let output = futures::stream::iter(vec![Ok(HandshakeResponse {
            protocol_version: 0,
            payload: token.into(),
        })]);
        let mut response: Response<
            Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>,
        > = Response::new(Box::pin(output));
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let session = self.session(&request)?;
        let planned = self.queries.plan(&session, &query.query, None).await?;
        self.park_info(planned, request.into_inner())
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let session = self.session(&request)?;
        let (sql, params) = self.prepared(&cmd.prepared_statement_handle, session.user())?;
        let planned = self.queries.plan(&session, &sql, params.as_ref()).await?;
        self.park_info(planned, request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let session = self.session(&request)?;
        let id = utf8(&ticket.statement_handle, "ticket")?;
        let planned = self.queries.take(&id, session.user())?;
        self.run(id, planned)
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let session = self.session(&request)?;
        let (sql, params) = self.prepared(&cmd.prepared_statement_handle, session.user())?;
        let planned = self.queries.plan(&session, &sql, params.as_ref()).await?;
        self.run(format!("prepared-{}", random_hex(8)), planned)
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let session = self.session(&request)?;
        // Planned, not run: DDL would otherwise take effect at PREPARE.
        // The statement is checked against the policy when it runs.
        let numbered = numbered_placeholders(&query.query).into_owned();
        let sql = identity_calls_without_parentheses(&numbered).into_owned();
        let planned = match crate::dp::parse(&session.ctx, &sql) {
            // A DP release is planned and checked but neither run nor
            // charged until it is executed.
            Ok(Some(dp)) => crate::dp::schema(&session.ctx, &dp)
                .await
                .map(|schema| (schema, Default::default())),
            Ok(None) => match crate::dialect::logical_plan(&session.ctx, &sql).await {
                Ok(plan) => plan.get_parameter_types().map(|types| {
                    // Unbound parameters can keep the analyzer from typing
                    // the plan; then the planner's schema is the best known.
                    let schema = super::query::analyzed_schema(&session.ctx, &plan)
                        .unwrap_or_else(|_| Arc::new(plan.schema().as_arrow().clone()));
                    (schema, types)
                }),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (schema, types) = match planned {
            Ok(planned) => planned,
            Err(e) => {
                let message = e.strip_backtrace();
                record(
                    &session,
                    &query.query,
                    &Access::default(),
                    None,
                    Some(&message),
                )?;
                return Err(super::query::status_of(&e, &self.queries.limits));
            }
        };
        let dataset_schema = client_schema(&schema);
        let mut names: Vec<(usize, String, Option<DataType>)> = types
            .into_iter()
            .map(|(name, t)| {
                let position = name.trim_start_matches('$').parse().unwrap_or(usize::MAX);
                (position, name, t)
            })
            .collect();
        names.sort();
        let parameter_schema = Schema::new(
            names
                .into_iter()
                .map(|(_, name, t)| Field::new(name, t.unwrap_or(DataType::Null), true))
                .collect::<Vec<_>>(),
        );
        let handle = random_hex(16);
        locked(&self.prepared).insert(
            handle.clone(),
            Prepared {
                user: session.user().to_string(),
                sql: numbered,
                params: None,
            },
        );
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into(),
            dataset_schema: schema_ipc(&dataset_schema)?,
            parameter_schema: schema_ipc(&parameter_schema)?,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let session = self.session(&request)?;
        let handle = utf8(&cmd.prepared_statement_handle, "prepared statement handle")?;
        self.prepared(&cmd.prepared_statement_handle, session.user())?;
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(
            request
                .into_inner()
                .into_peekable()
                .map_err(FlightError::from),
        )
        .try_collect()
        .await
        .map_err(|e| Status::invalid_argument(format!("bind parameters: {e}")))?;
        let values = parameter_values(&batches)?;
        if let Some(p) = locked(&self.prepared).get_mut(&handle) {
            p.params = Some(values);
        }
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle.into()),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let session = self.session(&request)?;
        self.prepared(&query.prepared_statement_handle, session.user())?;
        let handle = utf8(
            &query.prepared_statement_handle,
            "prepared statement handle",
        )?;
        locked(&self.prepared).remove(&handle);
        Ok(())
    }

    async fn do_put_statement_update(
        &self,
        cmd: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let session = self.session(&request)?;
        self.run_to_end(&session, &cmd.query, None).await
    }

    async fn do_put_prepared_statement_update(
        &self,
        cmd: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let session = self.session(&request)?;
        let (sql, params) = self.prepared(&cmd.prepared_statement_handle, session.user())?;
        self.run_to_end(&session, &sql, params.as_ref()).await
    }

    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let session = self.session(&request)?;
        let info = FlightInfo::decode(query.info).map_err(|e| {
            Status::invalid_argument(format!("CancelQuery: malformed FlightInfo: {e}"))
        })?;
        // ActionCancelQueryResult.CancelResult (not exported by arrow-flight):
        // 1 = CANCEL_RESULT_CANCELLED, 3 = CANCEL_RESULT_NOT_CANCELLABLE.
        let result = match self.cancel_ids(&ticket_ids(&info), session.user()) {
            CancelStatus::Cancelled => 1,
            _ => 3,
        };
        Ok(ActionCancelQueryResult { result })
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let session = self.session(&request)?;
        let action = request.get_ref();
        if action.r#type != "CancelFlightInfo" {
            return Err(Status::invalid_argument(format!(
                "unknown action '{}' (ListActions lists the supported ones)",
                action.r#type
            )));
        }
        let cancel = CancelFlightInfoRequest::decode(action.body.clone()).map_err(|e| {
            Status::invalid_argument(format!("CancelFlightInfo: malformed request: {e}"))
        })?;
        let info = cancel
            .info
            .ok_or_else(|| Status::invalid_argument("CancelFlightInfo: no FlightInfo given"))?;
        let status = self.cancel_ids(&ticket_ids(&info), session.user());
        let result = CancelFlightInfoResult {
            status: status as i32,
        };
        let output = futures::stream::iter(vec![Ok(arrow_flight::Result {
            body: result.encode_to_vec().into(),
        })]);
        Ok(Response::new(Box::pin(output)))
    }

    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(vec![Ok(ActionType {
            r#type: "CancelFlightInfo".into(),
            description: "Cancels a query: CancelFlightInfoRequest -> CancelFlightInfoResult"
                .into(),
        })])
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(request, &query, &schema)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let session = self.session(&request)?;
        let builder = query.into_builder();
        let schema = builder.schema();
        Ok(single_batch(
            schema,
            metadata::catalogs(&session.ctx, builder)?,
        ))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(request, &query, &schema)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let session = self.session(&request)?;
        let builder = query.into_builder();
        let schema = builder.schema();
        Ok(single_batch(
            schema,
            metadata::db_schemas(&session.ctx, builder)?,
        ))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(request, &query, &schema)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let session = self.session(&request)?;
        let builder = query.into_builder();
        let schema = builder.schema();
        Ok(single_batch(
            schema,
            metadata::get_tables(&session.ctx, builder).await?,
        ))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(request, &query, &schema)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.session(&request)?;
        let mut builder = query.into_builder();
        for table_type in metadata::TABLE_TYPES {
            builder.append(table_type);
        }
        let schema = builder.schema();
        Ok(single_batch(schema, builder.build().map_err(Status::from)?))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&self.sql_info).schema();
        self.command_info(request, &query, &schema)
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.session(&request)?;
        let builder = query.into_builder(&self.sql_info);
        let schema = builder.schema();
        Ok(single_batch(schema, builder.build().map_err(Status::from)?))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let types = metadata::xdbc_types()?;
        let schema = query.into_builder(types).schema();
        self.command_info(request, &query, &schema)
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.session(&request)?;
        let types = metadata::xdbc_types()?;
        let builder = query.into_builder(types);
        let schema = builder.schema();
        Ok(single_batch(schema, builder.build().map_err(Status::from)?))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &metadata::primary_keys_schema())
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.no_keys(&request, metadata::primary_keys_schema())
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &metadata::foreign_keys_schema())
    }

    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.no_keys(&request, metadata::foreign_keys_schema())
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &metadata::foreign_keys_schema())
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.no_keys(&request, metadata::foreign_keys_schema())
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.command_info(request, &query, &metadata::foreign_keys_schema())
    }

    async fn do_get_cross_reference(
        &self,
        _query: CommandGetCrossReference,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.no_keys(&request, metadata::foreign_keys_schema())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
