//! The policy as SQL tables (`governance.*`, readable by everyone: the policy
//! is reviewed in git, not secret), the audit trail as `audit.log` (auditors
//! only), and the stand-in for tables a role may not read.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use super::Governance;
use super::audit::{self, AuditLog};
use crate::error::Result as AppResult;

/// A table the role has no grant for: its columns are listed (names are not
/// personal data) but any read is refused.
#[derive(Debug)]
pub struct DeniedTable {
    name: String,
    schema: SchemaRef,
    role: String,
}

impl DeniedTable {
    pub fn new(name: String, schema: SchemaRef, role: String) -> Self {
        Self { name, schema, role }
    }
}

#[async_trait]
impl TableProvider for DeniedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan_err!(
            "permission denied: role '{}' may not read table '{}'",
            self.role,
            self.name
        )
    }
}

/// `audit.log`: the audit trail, read from SQLite or PostgreSQL when
/// scanned.
#[derive(Debug)]
struct AuditTable {
    log: Arc<AuditLog>,
}

#[async_trait]
impl TableProvider for AuditTable {
    fn schema(&self) -> SchemaRef {
        audit::schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = self
            .log
            .read_all()
            .map_err(datafusion::common::DataFusionError::Execution)?;
        let batch = audit::to_batch(&rows)?;
        let table = MemTable::try_new(audit::schema(), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}

/// `privacy.budgets`: the caller's privacy budgets (everyone's for roles
/// that manage budgets), computed from the ledger when scanned.
#[derive(Debug)]
struct BudgetsTable;

fn budgets_schema() -> SchemaRef {
    let float = |name: &str, nullable: bool| Field::new(name, DataType::Float64, nullable);
    Arc::new(Schema::new(vec![
        Field::new("user_name", DataType::Utf8, false),
        Field::new("dataset", DataType::Utf8, false),
        float("epsilon_limit", true),
        float("epsilon_granted", false),
        float("epsilon_spent", false),
        float("epsilon_remaining", true),
        float("delta_limit", true),
        float("delta_granted", false),
        float("delta_spent", false),
        float("delta_remaining", true),
        Field::new("budget_window", DataType::Utf8, true),
        Field::new("limit_from", DataType::Utf8, true),
        Field::new("queries", DataType::Int64, false),
        Field::new(
            "last_spend",
            DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Microsecond,
                Some("UTC".into()),
            ),
            true,
        ),
    ]))
}

#[async_trait]
impl TableProvider for BudgetsTable {
    fn schema(&self) -> SchemaRef {
        budgets_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        use datafusion::arrow::array::{Float64Array, Int64Array, TimestampMicrosecondArray};
        let Some(governance) = state.config().get_extension::<Governance>() else {
            return plan_err!("privacy.budgets needs a policy");
        };
        let rows = governance.budget_rows()?;
        let remaining = |r: &super::budget::BudgetRow| {
            r.limit
                .as_ref()
                .map(|l| super::budget::remaining(l, &r.usage))
        };
        let floats = |f: &dyn Fn(&super::budget::BudgetRow) -> Option<f64>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<Float64Array>())
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.user))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.dataset),
            )),
            floats(&|r| r.limit.as_ref().map(|l| l.epsilon)),
            floats(&|r| Some(r.usage.granted_epsilon)),
            floats(&|r| Some(r.usage.spent_epsilon)),
            floats(&|r| remaining(r).map(|(e, _)| e)),
            floats(&|r| r.limit.as_ref().map(|l| l.delta)),
            floats(&|r| Some(r.usage.granted_delta)),
            floats(&|r| Some(r.usage.spent_delta)),
            floats(&|r| remaining(r).map(|(_, d)| d)),
            Arc::new(
                rows.iter()
                    .map(|r| r.limit.as_ref().map(|l| l.window.describe()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| r.limit.as_ref().map(|l| l.source.clone()))
                    .collect::<StringArray>(),
            ),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.usage.queries as i64),
            )),
            Arc::new(
                rows.iter()
                    .map(|r| r.usage.last_spend_micros)
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC"),
            ),
        ];
        let batch = RecordBatch::try_new(budgets_schema(), columns)?;
        let table = MemTable::try_new(budgets_schema(), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}

/// A column of a system table.
enum Values {
    Text(Vec<Option<String>>),
    Flag(Vec<bool>),
}

fn table(columns: Vec<(&str, Values)>) -> Result<Arc<dyn TableProvider>> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, values)| match values {
            Values::Text(_) => Field::new(*name, DataType::Utf8, true),
            Values::Flag(_) => Field::new(*name, DataType::Boolean, false),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|(_, values)| -> ArrayRef {
            match values {
                Values::Text(v) => Arc::new(StringArray::from(v)),
                Values::Flag(v) => Arc::new(BooleanArray::from(v)),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

fn text<I: IntoIterator<Item = Option<String>>>(values: I) -> Values {
    Values::Text(values.into_iter().collect())
}

/// Registers `governance.*` and, for auditors, `audit.log`.
pub fn register(ctx: &SessionContext, governance: &Governance, auditor: bool) -> AppResult<()> {
    let policy = &governance.policy;
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| crate::Error::Usage("session has no default catalog".into()))?;
    let schema = Arc::new(MemorySchemaProvider::new());

    // governance.classifications: one row per classified column.
    let mut rows: Vec<[Option<String>; 5]> = Vec::new();
    let mut sensitive = Vec::new();
    let mut personal = Vec::new();
    for (table_name, spec) in &policy.tables {
        for (column, class) in &spec.columns {
            let class_spec = policy.class(class.get_ref());
            rows.push([
                Some(table_name.get_ref().clone()),
                Some(column.get_ref().clone()),
                Some(class.get_ref().clone()),
                spec.subject.as_ref().map(|s| s.get_ref().clone()),
                class_spec
                    .map(|c| c.description.clone())
                    .filter(|d| !d.is_empty()),
            ]);
            sensitive.push(class_spec.is_some_and(|c| c.sensitive));
            personal.push(spec.personal_data);
        }
    }
    let col = |i: usize| text(rows.iter().map(|r| r[i].clone()));
    schema.register_table(
        "classifications".into(),
        table(vec![
            ("table_name", col(0)),
            ("column_name", col(1)),
            ("class", col(2)),
            ("sensitive", Values::Flag(sensitive)),
            ("personal_data", Values::Flag(personal)),
            ("subject_column", col(3)),
            ("description", col(4)),
        ])?,
    )?;

    // governance.masks: what each role sees of each class.
    let mut rows: Vec<[Option<String>; 3]> = Vec::new();
    for (class_name, class) in &policy.classes {
        for (role_name, role) in &policy.roles {
            let treatment = if role.sees_raw(class_name.get_ref()) {
                "raw".to_string()
            } else if class
                .deny
                .iter()
                .any(|r| r.get_ref() == role_name.get_ref())
            {
                "denied".to_string()
            } else {
                class
                    .masks
                    .iter()
                    .find(|(r, _)| r.get_ref() == role_name.get_ref())
                    .map_or(&class.mask, |(_, m)| m)
                    .get_ref()
                    .clone()
            };
            rows.push([
                Some(class_name.get_ref().clone()),
                Some(role_name.get_ref().clone()),
                Some(treatment),
            ]);
        }
    }
    let col = |i: usize| text(rows.iter().map(|r| r[i].clone()));
    schema.register_table(
        "masks".into(),
        table(vec![
            ("class", col(0)),
            ("role", col(1)),
            ("treatment", col(2)),
        ])?,
    )?;

    // governance.row_filters and governance.retention.
    let mut filters: Vec<[Option<String>; 3]> = Vec::new();
    let mut retention: Vec<[Option<String>; 3]> = Vec::new();
    for (table_name, spec) in &policy.tables {
        for (role, filter) in &spec.row_filters {
            filters.push([
                Some(table_name.get_ref().clone()),
                Some(role.get_ref().clone()),
                Some(filter.get_ref().clone()),
            ]);
        }
        if let Some(r) = &spec.retention {
            retention.push([
                Some(table_name.get_ref().clone()),
                Some(r.column.get_ref().clone()),
                Some(r.keep.get_ref().clone()),
            ]);
        }
    }
    let col = |i: usize| text(filters.iter().map(|r| r[i].clone()));
    schema.register_table(
        "row_filters".into(),
        table(vec![
            ("table_name", col(0)),
            ("role", col(1)),
            ("filter", col(2)),
        ])?,
    )?;
    let col = |i: usize| text(retention.iter().map(|r| r[i].clone()));
    schema.register_table(
        "retention".into(),
        table(vec![
            ("table_name", col(0)),
            ("column_name", col(1)),
            ("keep", col(2)),
        ])?,
    )?;

    // governance.grants: one row per role.
    let join = |items: &[super::policy::Located]| -> Option<String> {
        Some(
            items
                .iter()
                .map(|i| i.get_ref().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    let roles: Vec<_> = policy.roles.iter().collect();
    schema.register_table(
        "grants".into(),
        table(vec![
            (
                "role",
                text(roles.iter().map(|(n, _)| Some(n.get_ref().clone()))),
            ),
            ("tables", text(roles.iter().map(|(_, r)| join(&r.tables)))),
            ("raw_classes", text(roles.iter().map(|(_, r)| join(&r.raw)))),
            (
                "functions",
                text(roles.iter().map(|(_, r)| join(&r.functions))),
            ),
            (
                "purposes",
                text(roles.iter().map(|(_, r)| join(&r.purposes))),
            ),
            (
                "auditor",
                Values::Flag(roles.iter().map(|(_, r)| r.auditor).collect()),
            ),
            (
                "erase",
                Values::Flag(roles.iter().map(|(_, r)| r.erase).collect()),
            ),
            (
                "files",
                Values::Flag(roles.iter().map(|(_, r)| r.files).collect()),
            ),
        ])?,
    )?;

    // governance.purposes and governance.users (never the password hashes).
    let purposes: Vec<_> = policy.purposes.iter().collect();
    schema.register_table(
        "purposes".into(),
        table(vec![
            (
                "purpose",
                text(purposes.iter().map(|(n, _)| Some(n.get_ref().clone()))),
            ),
            (
                "legal_basis",
                text(
                    purposes
                        .iter()
                        .map(|(_, p)| Some(p.basis.as_str().to_string())),
                ),
            ),
            (
                "consent_required",
                Values::Flag(
                    purposes
                        .iter()
                        .map(|(_, p)| p.basis == super::policy::LegalBasis::Consent)
                        .collect(),
                ),
            ),
            (
                "description",
                text(purposes.iter().map(|(_, p)| Some(p.description.clone()))),
            ),
        ])?,
    )?;
    let users: Vec<_> = policy.users.iter().collect();
    schema.register_table(
        "users".into(),
        table(vec![
            (
                "user_name",
                text(users.iter().map(|(n, _)| Some(n.get_ref().clone()))),
            ),
            ("roles", text(users.iter().map(|(_, u)| join(&u.roles)))),
            (
                "attributes",
                text(
                    users
                        .iter()
                        .map(|(_, u)| serde_json::to_string(&u.attributes).ok()),
                ),
            ),
        ])?,
    )?;
    catalog.register_schema("governance", schema)?;

    if let Some(log) = &governance.audit {
        let audit_schema = Arc::new(MemorySchemaProvider::new());
        // Others get a table that says why they may not read it, rather
        // than "not found".
        let table: Arc<dyn TableProvider> = if auditor {
            Arc::new(AuditTable {
                log: Arc::clone(log),
            })
        } else {
            Arc::new(DeniedTable::new(
                "audit.log".into(),
                audit::schema(),
                governance.identity.role_name().to_string(),
            ))
        };
        audit_schema.register_table("log".into(), table)?;
        catalog.register_schema("audit", audit_schema)?;
    }
    let privacy = Arc::new(MemorySchemaProvider::new());
    privacy.register_table("budgets".into(), Arc::new(BudgetsTable))?;
    catalog.register_schema("privacy", privacy)?;
    Ok(())
}
