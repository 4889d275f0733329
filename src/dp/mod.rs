//! Differentially private queries: `SELECT WITH DIFFERENTIAL_PRIVACY
//! OPTIONS (...)`, with privacy budgets enforced by the governance layer.
//!
//! A DP query runs in five steps:
//! 1. [`syntax`] splits it into an input query (the user's FROM and WHERE,
//!    projecting the privacy unit, the group keys and the aggregates'
//!    arguments), the aggregates, and a post-processing query;
//! 2. the input is planned as the user (masks, row filters and consent
//!    apply as to any query), [`stability`] checks that every row stays
//!    attributable to one privacy unit and [`fallible`] that no expression
//!    can fail on some row (a failure would tell about that row);
//! 3. [`release::calibrate`] fixes the noise scales and the threshold,
//!    and the budget is spent (refused when it would overrun) before
//!    anything runs;
//! 4. [`bounding`] bounds each unit's contribution and sums it per group,
//!    as a DataFusion plan in a [`DpScope`] (the only state in which a
//!    role's DP-only tables can be scanned); its rows go only to
//! 5. [`release::release`], which applies OpenDP's mechanisms, and the
//!    post-processing query, planned in a session that holds nothing but
//!    the released groups.
//!
//! `EXPLAIN SELECT WITH DIFFERENTIAL_PRIVACY ...` shows the noise scales,
//! the epsilon split and the threshold, and spends nothing.

mod bounding;
mod capped;
mod fallible;
mod release;
mod stability;
pub mod syntax;

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider,
};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Query, Statement};

use crate::governance::budget::Spend;
use crate::governance::{Access, DpScope, Governance};
use syntax::{DpStatement, RELEASE_TABLE};

/// Recognizes a DP statement; `Ok(None)` for any other.
pub fn parse(ctx: &SessionContext, sql: &str) -> Result<Option<DpStatement>> {
    if !sql.to_ascii_uppercase().contains("DIFFERENTIAL_PRIVACY") {
        return Ok(None);
    }
    let state = ctx.state();
    let aggregates: HashSet<String> = state
        .aggregate_functions()
        .keys()
        .chain(state.window_functions().keys())
        .map(|n| n.to_ascii_lowercase())
        .collect();
    syntax::parse(sql, &aggregates)
}

fn query_statement(query: Query) -> DfStatement {
    DfStatement::Statement(Box::new(Statement::Query(Box::new(query))))
}

/// The session state the bounded aggregation runs in.
fn scoped_state(ctx: &SessionContext) -> SessionState {
    let state = ctx.state();
    // Without the flag, building would register a new, empty default catalog.
    let config = state
        .config()
        .clone()
        .with_create_default_catalog_and_schema(false)
        .with_extension(Arc::new(DpScope));
    SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build()
}

/// A state whose only table is `__dp_release`, for post-processing.
fn release_state(ctx: &SessionContext, released: RecordBatch) -> Result<SessionState> {
    let state = ctx.state();
    let options = state.config().options();
    let (catalog_name, schema_name) = (
        options.catalog.default_catalog.clone(),
        options.catalog.default_schema.clone(),
    );
    let schema = Arc::new(MemorySchemaProvider::new());
    schema.register_table(
        RELEASE_TABLE.to_string(),
        Arc::new(MemTable::try_new(released.schema(), vec![vec![released]])?),
    )?;
    let catalog = Arc::new(MemoryCatalogProvider::new());
    catalog.register_schema(&schema_name, schema)?;
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    catalogs.register_catalog(catalog_name, catalog);
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_catalog_list(catalogs)
        .build())
}

fn unit_name(unit: &SqlExpr) -> String {
    match unit {
        SqlExpr::Identifier(i) => i.value.clone(),
        SqlExpr::CompoundIdentifier(parts) => parts
            .last()
            .map_or_else(|| unit.to_string(), |i| i.value.clone()),
        other => other.to_string(),
    }
}

/// A DP statement checked and calibrated, ready to spend and run.
struct Planned {
    scoped: SessionState,
    input: LogicalPlan,
    analysis: stability::Analysis,
    public: Option<LogicalPlan>,
    calibration: release::Calibration,
}

/// Everything before the budget is spent: planning, the checks, the noise plan.
async fn plan(
    ctx: &SessionContext,
    statement: &DpStatement,
    access: &mut Access,
) -> Result<Planned> {
    let governance = Governance::of(ctx);
    let shape = &statement.shape;
    let options = &statement.options;
    let scoped = scoped_state(ctx);
    let input = match scoped
        .statement_to_plan(query_statement(shape.input.clone()))
        .await
    {
        Ok(plan) => plan,
        Err(e) => return Err(unit_error(&scoped, statement).await.unwrap_or(e)),
    };
    if !input.get_parameter_types()?.is_empty() {
        return plan_err!(
            "DP queries take no parameters: the release runs once, with its values in the text"
        );
    }
    if let Some(g) = &governance {
        g.check_dp_input(&input)?;
    }
    let unit = unit_name(&options.unit);
    let policy = governance.as_ref().map(|g| g.policy.as_ref());
    let analysis = stability::analyze(&input, policy, &unit)?;
    let optimized = scoped.optimize(&input)?;
    fallible::refuse_fallible(&scoped, &optimized)?;
    access.add_plan(&optimized);
    let public = match &shape.public_groups {
        Some(query) => Some(public_groups(ctx, query, governance.as_deref(), &unit, access).await?),
        None => None,
    };
    let calibration = release::calibrate(options, shape)?;
    Ok(Planned {
        scoped,
        input,
        analysis,
        public,
        calibration,
    })
}

/// The result schema of a DP statement, without running or spending
/// anything (a Flight SQL client preparing it).
pub async fn schema(ctx: &SessionContext, statement: &DpStatement) -> Result<SchemaRef> {
    let planned = plan(ctx, statement, &mut Access::default()).await?;
    if statement.explain {
        return Ok(explain_schema());
    }
    let released = release::released_schema(planned.input.schema().as_arrow(), &statement.shape);
    let post = release_state(ctx, RecordBatch::new_empty(released))?;
    let plan = post
        .statement_to_plan(query_statement(statement.shape.post.clone()))
        .await?;
    Ok(Arc::new(plan.schema().as_arrow().clone()))
}

/// Plans (and, unless it is EXPLAIN, runs and releases) a DP statement;
/// the result is the post-processed released groups.
pub async fn dataframe(
    ctx: &SessionContext,
    statement: &DpStatement,
    text: &str,
    access: &mut Access,
) -> Result<DataFrame> {
    let Planned {
        scoped,
        input,
        analysis,
        public,
        calibration,
    } = plan(ctx, statement, access).await?;
    let shape = &statement.shape;
    let options = &statement.options;
    if statement.explain {
        return explain(ctx, options, shape, &calibration, &analysis, &input);
    }
    let governance = Governance::of(ctx);
    if let Some(g) = &governance {
        g.spend_budget(
            text,
            &Spend {
                epsilon: calibration.epsilon,
                delta: calibration.delta,
                datasets: analysis.datasets.iter().cloned().collect(),
            },
        )?;
    }
    let seed = options.seed.unwrap_or_else(rand::random);
    let bounded = bounding::bounded(DataFrame::new(scoped, input), shape, options, seed)?;
    let schema = Arc::new(bounded.schema().as_arrow().clone());
    let restricted = governance.as_ref().is_some_and(|g| !g.identity.is_owner());
    let batches = bounded.collect().await.map_err(|e| {
        if restricted {
            // An error raised by some input row (a cast, a division) could
            // echo its values: restricted roles get the fact, not the text.
            DataFusionError::Execution(
                "DP query: computing the bounded aggregates failed on some input row (the detail is withheld: it could reveal the row's values)".into(),
            )
        } else {
            e
        }
    })?;
    let candidates = concat_batches(&schema, &batches)?;
    let public = match public {
        Some(plan) => {
            let df = ctx.execute_logical_plan(plan).await?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            Some(concat_batches(&schema, &df.collect().await?)?)
        }
        None => None,
    };
    let released = release::release(&candidates, shape, &calibration, public.as_ref())?;
    let post = release_state(ctx, released)?;
    let plan = post
        .statement_to_plan(query_statement(shape.post.clone()))
        .await?;
    Ok(DataFrame::new(post, plan))
}

/// When the input does not plan, whether the privacy unit column is why:
/// the same input with a constant for it plans.
async fn unit_error(state: &SessionState, statement: &DpStatement) -> Option<DataFusionError> {
    let mut input = statement.shape.input.clone();
    if let datafusion::sql::sqlparser::ast::SetExpr::Select(select) = input.body.as_mut()
        && let Some(datafusion::sql::sqlparser::ast::SelectItem::ExprWithAlias { expr, .. }) =
            select.projection.first_mut()
    {
        *expr = SqlExpr::Value(datafusion::sql::sqlparser::ast::Value::Null.into());
    }
    state
        .statement_to_plan(query_statement(input))
        .await
        .ok()
        .map(|_| {
            DataFusionError::Plan(format!(
                "OPTIONS: privacy_unit_column '{}' is not a column of the query's FROM clause (qualify it, e.g. t.customer_id, when several tables have it)",
                statement.options.unit
            ))
        })
}

/// Plans the public list of groups, which must read only a table the
/// policy marks `public_groups` and no personal data.
async fn public_groups(
    ctx: &SessionContext,
    query: &Query,
    governance: Option<&Governance>,
    unit: &str,
    access: &mut Access,
) -> Result<LogicalPlan> {
    let state = ctx.state();
    let plan = state
        .statement_to_plan(query_statement(query.clone()))
        .await?;
    if let Some(g) = governance {
        g.check(&plan)?;
    }
    let mut tables = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            tables.push(scan.table_name.table().to_string());
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    })?;
    if let Some(g) = governance {
        for table in &tables {
            let listed = g.policy.table(table).is_some_and(|(_, t)| t.public_groups);
            if !listed {
                return plan_err!(
                    "OPTIONS: public_groups: table '{table}' is not marked public_groups = true in the policy, so its rows cannot be released without a threshold"
                );
            }
        }
    }
    let personal = stability::personal_tables(&plan, governance.map(|g| g.policy.as_ref()), unit)?;
    if !personal.is_empty() {
        return plan_err!(
            "OPTIONS: public_groups: {} holds personal data and cannot list public groups",
            personal.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    access.add_plan(&plan);
    Ok(plan)
}

fn explain_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("item", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
    ]))
}

fn explain(
    ctx: &SessionContext,
    options: &syntax::Options,
    shape: &syntax::Shape,
    calibration: &release::Calibration,
    analysis: &stability::Analysis,
    input: &LogicalPlan,
) -> Result<DataFrame> {
    let mut rows = release::explain_rows(options, shape, calibration);
    rows.insert(
        1,
        (
            "privacy unit".into(),
            if analysis.private {
                format!(
                    "{} (the rows of {}); budget charged on {}",
                    options.unit,
                    analysis
                        .units
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    analysis
                        .datasets
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!("{} (the query reads no personal data)", options.unit)
            },
        ),
    );
    rows.push(("input plan".into(), input.display_indent().to_string()));
    let batch = RecordBatch::try_new(
        explain_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(i, _)| i))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(_, d)| d))),
        ],
    )?;
    ctx.read_batch(batch)
}
