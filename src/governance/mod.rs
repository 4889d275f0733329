//! Governance: identities, the policy file, enforcement in the query plan,
//! purposes and consent, the audit trail, erasure, subject access and
//! retention.
//!
//! A [`Governance`] (policy + identity + audit trail) travels with the
//! session as a config extension. The session factory calls [`apply`] after
//! registering tables: it validates the policy against the catalog, swaps
//! every protected table for a [`GovernedTable`] (masks, row filters,
//! consent, retention, denied columns in the plan), replaces restricted
//! functions the role may not call, and registers the identity functions and
//! the `governance` (and for auditors `audit`) system tables.
//! [`crate::sql::execute`] checks each statement with [`Governance::check`]
//! and records it with [`Governance::record`].

pub mod audit;
pub mod budget;
pub mod dp_only;
pub mod erasure;
pub mod functions;
pub mod governed_table;
pub mod identity;
pub mod policy;
mod system_tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result as DfResult, plan_err};
use datafusion::datasource::source_as_provider;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan, col, lit};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use audit::{AuditLog, Entry, Status};
use dp_only::DpOnlyTable;
pub use dp_only::DpScope;
use functions::{DeniedFunction, IdentityFunction, IdentityValue, UserAttribute};
use governed_table::{GovernedColumn, GovernedTable, SubjectJoin};
pub use identity::Identity;
use policy::{Located, Policy, PolicyError, RESTRICTED_FUNCTIONS, RoleSpec};

/// Where a data directory keeps its policy when `--policy` is not given.
pub const DATA_DIR_POLICY: &str = ".finsight/policy.toml";

/// Policy, identity and audit trail of one session.
#[derive(Debug)]
pub struct Governance {
    pub policy: Arc<Policy>,
    pub identity: Identity,
    pub audit: Option<Arc<AuditLog>>,
    /// Tables registered when the session started; a restricted identity
    /// may not replace them with views or tables of its own.
    base_tables: OnceLock<BTreeSet<String>>,
    /// The data directory the session's tables come from (for erasure).
    data_dir: OnceLock<PathBuf>,
}

/// Which tables, columns, masks and filters a statement touched.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub tables: BTreeSet<String>,
    pub columns: BTreeSet<String>,
    pub masks: BTreeSet<String>,
    pub filters: BTreeSet<String>,
    /// Queries that table functions in the plan run when scanned; what they
    /// read, the statement reads.
    pub inner_queries: Vec<String>,
}

impl Governance {
    /// The policy at `policy_path` with the identity of `--user`, `--role`
    /// and `--purpose`; audits to the policy's audit path.
    pub fn load(
        policy_path: &Path,
        user: Option<&str>,
        role: Option<&str>,
        purpose: Option<&str>,
    ) -> Result<Arc<Self>> {
        let policy = Policy::from_file(policy_path).map_err(|e| Error::Usage(e.to_string()))?;
        let identity = Identity::resolve(&policy, user, role, purpose).map_err(Error::Usage)?;
        let audit = AuditLog::open(&policy.audit_target()).map_err(Error::Usage)?;
        Ok(Arc::new(Self::new(Arc::new(policy), identity, Some(audit))))
    }

    pub fn new(policy: Arc<Policy>, identity: Identity, audit: Option<Arc<AuditLog>>) -> Self {
        Self {
            policy,
            identity,
            audit,
            base_tables: OnceLock::new(),
            data_dir: OnceLock::new(),
        }
    }

    /// The governance of a session, if it has a policy.
    pub fn of(ctx: &SessionContext) -> Option<Arc<Self>> {
        ctx.state_ref().read().config().get_extension::<Self>()
    }

    /// The policy file for a session: `explicit` (`--policy`), else
    /// `<data dir>/.finsight/policy.toml` when present.
    pub fn find_policy(explicit: Option<&Path>, data_dir: Option<&Path>) -> Option<PathBuf> {
        explicit.map(Path::to_path_buf).or_else(|| {
            data_dir
                .map(|d| d.join(DATA_DIR_POLICY))
                .filter(|p| p.is_file())
        })
    }

    /// The owner, or a role granted `files`: may read and write files
    /// directly, around the policies.
    pub fn may_use_files(&self) -> bool {
        self.identity.is_owner() || self.role().is_some_and(|r| r.files)
    }

    fn role(&self) -> Option<&RoleSpec> {
        self.identity
            .role
            .as_deref()
            .and_then(|r| self.policy.role(r))
    }

    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.get().map(PathBuf::as_path)
    }

    /// May this identity erase data subjects and apply retention?
    pub fn may_erase(&self) -> bool {
        self.identity.is_owner() || self.role().is_some_and(|r| r.erase)
    }

    /// Auditor roles and the owner (who holds the SQLite file anyway).
    fn is_auditor(&self) -> bool {
        self.identity.is_owner() || self.role().is_some_and(|r| r.auditor)
    }

    fn denied(&self, what: &str) -> DfResult<()> {
        plan_err!(
            "permission denied: role '{}' may not {what}",
            self.identity.role_name()
        )
    }

    /// Refuses what a restricted identity may not do, anywhere in `plan`
    /// (including inside EXPLAIN and subqueries): write or drop tables,
    /// read files directly, change configuration.
    pub fn check(&self, plan: &LogicalPlan) -> DfResult<()> {
        if self.identity.is_owner() {
            return Ok(());
        }
        // Tables the role may read only through DP queries: not here.
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && let Ok(provider) = source_as_provider(&scan.source)
                && let Some(table) = provider.downcast_ref::<DpOnlyTable>()
            {
                return plan_err!("{}", table.refusal());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        self.check_statement(plan)
    }

    /// [`Self::check`] for the input of a DP query, which may read the
    /// role's DP-only tables: its rows reach only the noise step.
    pub fn check_dp_input(&self, plan: &LogicalPlan) -> DfResult<()> {
        if self.identity.is_owner() {
            return Ok(());
        }
        self.check_statement(plan)
    }

    fn check_statement(&self, plan: &LogicalPlan) -> DfResult<()> {
        let base = self.base_tables.get();
        let is_base = |name: &str| base.is_some_and(|b| b.contains(name));
        // A table the session made itself: in the default schema, and not
        // one of the policy's tables (nor audit.*, governance.*, privacy.*).
        let is_own = |table: &datafusion::common::TableReference| {
            base.is_some_and(|b| !b.contains(table.table()))
                && table.schema().is_none_or(|s| s == "public")
                && table.catalog().is_none_or(|c| c == "datafusion")
        };
        let files = self.may_use_files();
        plan.apply_with_subqueries(|node| {
            match node {
                // A table of the session's own (CREATE TABLE AS) holds only
                // what its creator could read.
                LogicalPlan::Dml(dml) if is_own(&dml.table_name) => {}
                LogicalPlan::Dml(dml) => {
                    self.denied(&format!("modify table '{}' ({})", dml.table_name, dml.op))?;
                }
                LogicalPlan::Copy(_) if !files => self.denied("write files (COPY)")?,
                LogicalPlan::Ddl(ddl) => match ddl {
                    DdlStatement::CreateView(v) if !is_base(v.name.table()) => {}
                    DdlStatement::CreateMemoryTable(t) if !is_base(t.name.table()) => {}
                    DdlStatement::DropView(v) if !is_base(v.name.table()) => {}
                    DdlStatement::DropTable(t) if is_own(&t.name) => {}
                    DdlStatement::CreateExternalTable(t) if files && !is_base(t.name.table()) => {}
                    DdlStatement::CreateExternalTable(_) => {
                        self.denied("read files directly (CREATE EXTERNAL TABLE)")?;
                    }
                    other => self.denied(&format!("run {} on governed tables", other.name()))?,
                },
                LogicalPlan::Statement(statement) => {
                    use datafusion::logical_expr::Statement as S;
                    if matches!(statement, S::SetVariable(_) | S::ResetVariable(_)) {
                        self.denied("change the session configuration (SET)")?;
                    }
                }
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map(|_| ())
    }

    /// Records a statement in the audit trail. An audit failure is an error:
    /// a statement that cannot be recorded must not count as done.
    pub fn record(
        &self,
        statement: &str,
        access: &Access,
        rows: Option<usize>,
        error: Option<&str>,
    ) -> Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        let status = match error {
            None => Status::Ok,
            Some(e) if e.contains("permission denied") || e.contains("privacy budget exceeded") => {
                Status::Denied
            }
            Some(_) => Status::Error,
        };
        audit
            .append(&Entry {
                user: self.identity.user.clone(),
                role: self.identity.role_name().to_string(),
                purpose: self.identity.purpose.clone(),
                kind: "statement".into(),
                statement: statement.to_string(),
                tables: access.tables.iter().cloned().collect(),
                columns: access.columns.iter().cloned().collect(),
                masks: access.masks.iter().cloned().collect(),
                filters: access.filters.iter().cloned().collect(),
                rows: rows.map(|r| r as u64),
                status: Some(status),
                error: error.map(str::to_string),
                detail: None,
                at_micros: None,
            })
            .map(|_| ())
            .map_err(Error::Usage)
    }

    /// Records an event other than a statement (erasure, retention, login).
    pub fn record_event(
        &self,
        kind: &str,
        statement: &str,
        rows: u64,
        detail: String,
    ) -> Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        audit
            .append(&Entry {
                user: self.identity.user.clone(),
                role: self.identity.role_name().to_string(),
                purpose: self.identity.purpose.clone(),
                kind: kind.to_string(),
                statement: statement.to_string(),
                rows: Some(rows),
                status: Some(Status::Ok),
                detail: Some(detail),
                ..Entry::default()
            })
            .map(|_| ())
            .map_err(Error::Usage)
    }
}

impl Access {
    /// Adds what `plan` reads: every table scan, its columns and, for
    /// governed tables, the masks and filters it got.
    pub fn add_plan(&mut self, plan: &LogicalPlan) {
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let table = scan.table_name.table().to_string();
                for field in scan.projected_schema.fields() {
                    self.columns.insert(format!("{table}.{}", field.name()));
                }
                // A filter pushed into the scan reads columns the projection
                // may no longer carry.
                for filter in &scan.filters {
                    for column in filter.column_refs() {
                        self.columns.insert(format!("{table}.{}", column.name));
                    }
                }
                if let Ok(provider) = source_as_provider(&scan.source)
                    && let Some(query) = udfs::backing_query(provider.as_ref())
                {
                    self.inner_queries.push(query.to_string());
                }
                if let Ok(provider) = source_as_provider(&scan.source)
                    && let Some(governed) = governed_of(provider.as_ref())
                {
                    let applied = governed.applied();
                    for (column, mask) in &applied.masks {
                        if scan
                            .projected_schema
                            .field_with_unqualified_name(column)
                            .is_ok()
                        {
                            self.masks.insert(format!("{table}.{column}: {mask}"));
                        }
                    }
                    for filter in &applied.filters {
                        self.filters.insert(format!("{table}: {filter}"));
                    }
                    if let Some(purpose) = &applied.consent {
                        self.filters
                            .insert(format!("{table}: consent for {purpose}"));
                    }
                }
                self.tables.insert(table);
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
}

/// The governed table behind `provider`, also inside a DP-only table.
fn governed_of(provider: &dyn TableProvider) -> Option<&GovernedTable> {
    match provider.downcast_ref::<DpOnlyTable>() {
        Some(dp_only) => dp_only.inner.downcast_ref::<GovernedTable>(),
        None => provider.downcast_ref::<GovernedTable>(),
    }
}

/// A table the session's role may not read (listed by the shell's `\d`,
/// left out of Flight SQL's GetTables).
pub fn is_denied_table(provider: &dyn TableProvider) -> bool {
    provider
        .downcast_ref::<system_tables::DeniedTable>()
        .is_some()
}

fn policy_error(e: PolicyError) -> Error {
    Error::Usage(e.to_string())
}

/// Registers the identity functions and, for a restricted identity, replaces
/// the restricted functions its role is not granted.
pub fn apply_functions(ctx: &SessionContext, governance: &Governance) {
    let policy = &governance.policy;
    let identity = &governance.identity;
    let role = governance.role();

    ctx.register_udf(IdentityFunction::udf(
        IdentityValue::User,
        Some(identity.user.clone()),
    ));
    ctx.register_udf(IdentityFunction::udf(
        IdentityValue::Role,
        Some(identity.role_name().to_string()),
    ));
    ctx.register_udf(IdentityFunction::udf(
        IdentityValue::Purpose,
        identity.purpose.clone(),
    ));
    ctx.register_udf(UserAttribute::udf(identity.attributes.clone()));
    if !identity.is_owner() {
        let state = ctx.state();
        for &name in RESTRICTED_FUNCTIONS {
            if role.is_some_and(|r| r.may_call(name)) {
                continue;
            }
            if let Some(original) = state.scalar_functions().get(name) {
                let granted: Vec<String> = policy
                    .roles
                    .iter()
                    .filter(|(_, r)| r.may_call(name))
                    .map(|(n, _)| n.get_ref().clone())
                    .collect();
                ctx.register_udf(DeniedFunction::udf(original, identity.role_name(), granted));
            }
        }
    }
}

/// Validates the policy against the session's tables and applies it for the
/// session's identity (see the module documentation).
pub async fn apply_tables(
    ctx: &SessionContext,
    governance: &Arc<Governance>,
    data_dir: Option<&Path>,
) -> Result<()> {
    let policy = &governance.policy;
    let identity = &governance.identity;
    let role = governance.role();
    if let Some(dir) = data_dir {
        let _ = governance.data_dir.set(dir.to_path_buf());
    }

    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| Error::Usage("session has no default catalog".into()))?;
    let schema = catalog
        .schema("public")
        .ok_or_else(|| Error::Usage("session has no default schema".into()))?;
    let names: BTreeSet<String> = schema.table_names().into_iter().collect();
    let _ = governance.base_tables.set(names.clone());
    let state = ctx.state();

    // Validate every table entry, whoever the identity is, so a broken
    // policy fails for the owner too rather than only for restricted users.
    let mut raw: BTreeMap<String, Arc<dyn TableProvider>> = BTreeMap::new();
    for name in &names {
        if let Some(table) = schema.table(name).await? {
            raw.insert(name.clone(), table);
        }
    }
    let known = names.iter().cloned().collect::<Vec<_>>().join(", ");
    for table in policy.roles.values().flat_map(|r| &r.dp_only) {
        if !raw.contains_key(table.get_ref()) {
            return Err(policy_error(policy.error(
                table,
                format!(
                    "unknown table '{}' in dp_only (tables: {known})",
                    table.get_ref()
                ),
            )));
        }
    }
    for table in policy.tables.keys() {
        if !raw.contains_key(table.get_ref()) {
            return Err(policy_error(policy.error(
                table,
                format!("unknown table '{}' (tables: {known})", table.get_ref()),
            )));
        }
    }
    let consent_table = match &policy.consent {
        Some(c) => {
            let Some(table) = raw.get(c.table.get_ref()) else {
                return Err(policy_error(policy.error(
                    &c.table,
                    format!(
                        "unknown consent table '{}' (tables: {known})",
                        c.table.get_ref()
                    ),
                )));
            };
            let s = table.schema();
            for column in [&c.subject, &c.purpose, &c.granted, &c.withdrawn] {
                column_type(policy, &s, c.table.get_ref(), column)?;
            }
            Some((c, Arc::clone(table)))
        }
        None => None,
    };
    let consent_purpose = identity.consent_purpose(policy);
    // The subject table's row filters for this role, which reach every
    // personal-data table through its subject column.
    let subject_filter = match &policy.subjects {
        Some(subjects) => {
            let Some(table) = raw.get(subjects.table.get_ref()) else {
                return Err(policy_error(policy.error(
                    &subjects.table,
                    format!(
                        "unknown subjects table '{}' (tables: {known})",
                        subjects.table.get_ref()
                    ),
                )));
            };
            let s = table.schema();
            column_type(policy, &s, subjects.table.get_ref(), &subjects.column)?;
            let mut filters = Vec::new();
            if let Some((_, spec)) = policy.table(subjects.table.get_ref()) {
                for (filter_role, filter) in &spec.row_filters {
                    if filter_role.get_ref() == identity.role_name() {
                        filters.push((
                            parse_predicate(&state, policy, filter, &s)?,
                            filter.get_ref().clone(),
                        ));
                    }
                }
            }
            if filters.is_empty() || identity.is_owner() {
                None
            } else {
                Some((subjects, Arc::clone(table), filters))
            }
        }
        None => None,
    };

    for name in &names {
        let Some(provider) = raw.get(name) else {
            continue;
        };
        let may_read = identity.is_owner() || role.is_some_and(|r| r.may_read(name));
        let governed: Option<Arc<dyn TableProvider>> = match policy.table(name) {
            Some((_, spec)) => {
                let raw_schema = provider.schema();
                let mut columns = Vec::new();
                let mut denied = Vec::new();
                for column in spec.columns.keys() {
                    column_type(policy, &raw_schema, name, column)?;
                }
                for field in raw_schema.fields() {
                    let column = field.name();
                    let class = spec
                        .columns
                        .iter()
                        .find(|(c, _)| c.get_ref() == column)
                        .map(|(_, class)| class.get_ref().as_str());
                    let raw_expr = col(Column::from_name(column));
                    let Some(class_name) = class else {
                        columns.push(GovernedColumn {
                            name: column.clone(),
                            expr: raw_expr,
                            mask: None,
                        });
                        continue;
                    };
                    let class = policy.class(class_name).expect("validated at parse");
                    let role_name = identity.role_name();
                    let mask_text = class
                        .masks
                        .iter()
                        .find(|(r, _)| r.get_ref() == role_name)
                        .map(|(_, m)| m)
                        .unwrap_or(&class.mask);
                    // Parse every mask even when unused, so typos fail early.
                    let mask = parse_mask(&state, policy, mask_text, column, field.data_type())?;
                    if identity.is_owner() || role.is_some_and(|r| r.sees_raw(class_name)) {
                        columns.push(GovernedColumn {
                            name: column.clone(),
                            expr: raw_expr,
                            mask: None,
                        });
                    } else if class.deny.iter().any(|r| r.get_ref() == role_name) {
                        denied.push(column.clone());
                    } else {
                        let shown = mask.to_string();
                        columns.push(GovernedColumn {
                            name: column.clone(),
                            expr: mask,
                            mask: Some((class_name.to_string(), shown)),
                        });
                    }
                }
                let mut predicates = Vec::new();
                for (filter_role, filter) in &spec.row_filters {
                    let expr = parse_predicate(&state, policy, filter, &raw_schema)?;
                    if filter_role.get_ref() == identity.role_name() {
                        predicates.push((expr, filter.get_ref().clone()));
                    }
                }
                if let Some(retention) = &spec.retention {
                    let (expr, text) =
                        retention_predicate(&state, policy, name, retention, &raw_schema)?;
                    predicates.push((expr, text));
                }
                if let Some(subject) = &spec.subject {
                    column_type(policy, &raw_schema, name, subject)?;
                }
                let consent = match (&consent_purpose, &consent_table, &spec.subject) {
                    (Some(purpose), Some((c, table)), Some(subject)) if spec.personal_data => {
                        Some((
                            SubjectJoin {
                                table: Arc::clone(table),
                                table_name: format!("{}_consent", c.table.get_ref()),
                                subject: subject.get_ref().clone(),
                                other_subject: c.subject.get_ref().clone(),
                                predicate: active_consent(c, purpose),
                            },
                            purpose.clone(),
                        ))
                    }
                    _ => None,
                };
                let subject_join = match (&subject_filter, &spec.subject) {
                    (Some((subjects, table, filters)), Some(subject))
                        if spec.personal_data && subjects.table.get_ref() != name =>
                    {
                        let texts: Vec<&str> = filters.iter().map(|(_, t)| t.as_str()).collect();
                        Some((
                            SubjectJoin {
                                table: Arc::clone(table),
                                table_name: format!("{}_subjects", subjects.table.get_ref()),
                                subject: subject.get_ref().clone(),
                                other_subject: subjects.column.get_ref().clone(),
                                predicate: conjunction(filters.iter().map(|(e, _)| e.clone()))
                                    .expect("filters is not empty"),
                            },
                            format!(
                                "subjects visible in {}: {}",
                                subjects.table.get_ref(),
                                texts.join(" AND ")
                            ),
                        ))
                    }
                    _ => None,
                };
                let untouched = predicates.is_empty()
                    && consent.is_none()
                    && subject_join.is_none()
                    && denied.is_empty()
                    && columns.iter().all(|c| c.mask.is_none());
                if untouched {
                    None
                } else {
                    Some(Arc::new(
                        GovernedTable::try_new(
                            name.clone(),
                            Arc::clone(provider),
                            columns,
                            predicates,
                            subject_join,
                            consent,
                            denied,
                        )
                        .map_err(|e| {
                            Error::Usage(format!(
                                "policy for table '{name}': {}",
                                e.strip_backtrace()
                            ))
                        })?,
                    ))
                }
            }
            None => None,
        };
        let dp_only = role.is_some_and(|r| r.dp_only.iter().any(|t| t.get_ref() == name));
        let replacement: Option<Arc<dyn TableProvider>> = if !may_read {
            Some(Arc::new(system_tables::DeniedTable::new(
                name.clone(),
                provider.schema(),
                identity.role_name().to_string(),
            )))
        } else if dp_only && !identity.is_owner() {
            Some(Arc::new(DpOnlyTable::new(
                name.clone(),
                identity.role_name().to_string(),
                governed.unwrap_or_else(|| Arc::clone(provider)),
            )))
        } else {
            governed
        };
        if let Some(table) = replacement {
            schema.deregister_table(name)?;
            schema.register_table(name.clone(), table)?;
        }
    }
    system_tables::register(ctx, governance, governance.is_auditor())?;
    Ok(())
}

fn column_type(
    policy: &Policy,
    schema: &Schema,
    table: &str,
    column: &Located,
) -> Result<DataType> {
    schema
        .field_with_name(column.get_ref())
        .map(|f| f.data_type().clone())
        .map_err(|_| {
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            policy_error(policy.error(
                column,
                format!(
                    "table '{table}' has no column '{}' (columns: {})",
                    column.get_ref(),
                    columns.join(", ")
                ),
            ))
        })
}

/// A class's mask as an expression over `column`.
fn parse_mask(
    state: &SessionState,
    policy: &Policy,
    mask: &Located,
    column: &str,
    data_type: &DataType,
) -> Result<Expr> {
    let schema = DFSchema::try_from(Schema::new(vec![Field::new(
        "value",
        data_type.clone(),
        true,
    )]))?;
    let expr = state
        .create_logical_expr(mask.get_ref(), &schema)
        .map_err(|e| {
            policy_error(policy.error(
                mask,
                format!(
                    "mask '{}' for column '{column}': {}",
                    mask.get_ref(),
                    e.strip_backtrace()
                ),
            ))
        })?;
    let expr = expr
        .transform(|e| match e {
            Expr::Column(c) if c.name == "value" => {
                Ok(Transformed::yes(col(Column::from_name(column))))
            }
            other => Ok(Transformed::no(other)),
        })?
        .data;
    Ok(expr)
}

fn parse_predicate(
    state: &SessionState,
    policy: &Policy,
    text: &Located,
    schema: &Schema,
) -> Result<Expr> {
    let df_schema = DFSchema::try_from(schema.clone())?;
    let expr = state
        .create_logical_expr(text.get_ref(), &df_schema)
        .map_err(|e| {
            policy_error(policy.error(
                text,
                format!("row filter '{}': {}", text.get_ref(), e.strip_backtrace()),
            ))
        })?;
    let data_type =
        datafusion::logical_expr::ExprSchemable::get_type(&expr, &df_schema).map_err(|e| {
            policy_error(policy.error(
                text,
                format!("row filter '{}': {}", text.get_ref(), e.strip_backtrace()),
            ))
        })?;
    if data_type != DataType::Boolean {
        return Err(policy_error(policy.error(
            text,
            format!(
                "row filter '{}' must be a boolean predicate, got {data_type}",
                text.get_ref()
            ),
        )));
    }
    Ok(expr)
}

/// `column IS NULL OR column >= now() - INTERVAL 'keep'`.
fn retention_predicate(
    state: &SessionState,
    policy: &Policy,
    table: &str,
    retention: &policy::RetentionSpec,
    schema: &Schema,
) -> Result<(Expr, String)> {
    let data_type = column_type(policy, schema, table, &retention.column)?;
    if !matches!(
        data_type,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    ) {
        return Err(policy_error(policy.error(
            &retention.column,
            format!(
                "retention column '{}' must be a date or timestamp, got {data_type}",
                retention.column.get_ref()
            ),
        )));
    }
    let keep = retention.keep.get_ref();
    let well_formed = {
        let mut parts = keep.split_whitespace();
        matches!(
            (parts.next().map(|n| n.parse::<u32>().is_ok()), parts.next(), parts.next()),
            (Some(true), Some(unit), None)
                if matches!(unit.trim_end_matches('s'), "year" | "month" | "week" | "day")
        )
    };
    if !well_formed {
        return Err(policy_error(policy.error(
            &retention.keep,
            format!("retention keep '{keep}': expected a period such as '7 years', '18 months' or '90 days'"),
        )));
    }
    let column = retention.column.get_ref();
    let text = format!("\"{column}\" IS NULL OR \"{column}\" >= now() - INTERVAL '{keep}'");
    let df_schema = DFSchema::try_from(schema.clone())?;
    let expr = state
        .create_logical_expr(&text, &df_schema)
        .map_err(|e| policy_error(policy.error(&retention.keep, e.strip_backtrace())))?;
    Ok((expr, format!("retention: {column} within {keep}")))
}

/// Consents for `purpose` granted by now and not withdrawn by now.
fn active_consent(consent: &policy::ConsentSpec, purpose: &str) -> Expr {
    let now = datafusion::functions::datetime::expr_fn::now();
    let withdrawn = col(Column::from_name(consent.withdrawn.get_ref()));
    col(Column::from_name(consent.purpose.get_ref()))
        .eq(lit(purpose))
        .and(col(Column::from_name(consent.granted.get_ref())).lt_eq(now.clone()))
        .and(withdrawn.clone().is_null().or(withdrawn.gt(now)))
}
