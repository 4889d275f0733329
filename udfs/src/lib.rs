//! finsight's SQL functions, grouped by domain (`customer`, `risk`,
//! `privacy`, `fairness`, `operations`, `cleaning`, `dialect`), one SQL function
//! per file.
//!
//! Every function is a vectorized DataFusion UDF over Arrow arrays, handles
//! NULLs, carries a [`Documentation`] (shown by the shell's `\df` and `\h`,
//! and by `information_schema.routines`) and holds no state beyond its
//! signature, so the same functions run in a local session and on Ballista.
//!
//! [`register_all`] is the only registration entry point; the engine's
//! session factory calls it.

pub mod cleaning;
pub mod customer;
pub mod dialect;
pub mod fairness;
pub mod operations;
pub mod privacy;
pub mod risk;

mod checks;
mod collect;
mod kernel;
mod model;
mod optimize;
mod quantile;
mod query_table;
mod special;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

pub use privacy::Keyring;
pub use query_table::backing_query;

/// A table function with its documentation (DataFusion's table-function trait
/// has no `documentation()`, so the pair travels together).
#[derive(Debug, Clone)]
pub struct TableFunction {
    pub name: &'static str,
    pub implementation: Arc<dyn TableFunctionImpl>,
    pub documentation: &'static Documentation,
}

/// Scalar functions of every domain, the keyed privacy functions with an
/// empty keyring (for documentation; sessions use [`register_all`]).
pub fn scalar_functions() -> Vec<ScalarUDF> {
    scalar_functions_with_keyring(&Arc::new(Keyring::empty()))
}

/// Scalar functions of every domain; `pseudonymize` and the FPE functions
/// take their keys from `keyring`.
pub fn scalar_functions_with_keyring(keyring: &Arc<Keyring>) -> Vec<ScalarUDF> {
    let mut functions = customer::scalar_functions();
    functions.extend(cleaning::scalar_functions());
    functions.extend(dialect::scalar_functions());
    functions.extend(operations::scalar_functions());
    functions.extend(privacy::scalar_functions(keyring));
    functions.extend(risk::scalar_functions());
    functions
}

/// Aggregate functions of every domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    let mut functions = customer::aggregate_functions();
    functions.extend(dialect::aggregate_functions());
    functions.extend(fairness::aggregate_functions());
    functions.extend(operations::aggregate_functions());
    functions.extend(privacy::aggregate_functions());
    functions.extend(risk::aggregate_functions());
    functions
}

/// Window functions of every domain.
pub fn window_functions() -> Vec<WindowUDF> {
    let mut functions = cleaning::window_functions();
    functions.extend(risk::window_functions());
    functions
}

/// Table functions of every domain.
pub fn table_functions() -> Vec<TableFunction> {
    let mut functions = customer::table_functions();
    functions.extend(cleaning::table_functions());
    functions.extend(fairness::table_functions());
    functions.extend(privacy::table_functions());
    functions.extend(risk::table_functions());
    functions
}

/// The kind of a finsight function, as shown by `\df`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Scalar,
    Aggregate,
    Window,
    Table,
}

impl std::fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Scalar => "scalar",
            Self::Aggregate => "aggregate",
            Self::Window => "window",
            Self::Table => "table",
        })
    }
}

/// One finsight function and its documentation.
#[derive(Debug, Clone)]
pub struct FunctionDoc {
    pub name: String,
    pub kind: FunctionKind,
    pub documentation: Option<Documentation>,
}

/// Every finsight function with its documentation, sorted by name.
pub fn function_docs() -> Vec<FunctionDoc> {
    let mut docs: Vec<FunctionDoc> = Vec::new();
    docs.extend(scalar_functions().iter().map(|f| FunctionDoc {
        name: f.name().to_string(),
        kind: FunctionKind::Scalar,
        documentation: f.documentation().cloned(),
    }));
    docs.extend(aggregate_functions().iter().map(|f| FunctionDoc {
        name: f.name().to_string(),
        kind: FunctionKind::Aggregate,
        documentation: f.documentation().cloned(),
    }));
    docs.extend(window_functions().iter().map(|f| FunctionDoc {
        name: f.name().to_string(),
        kind: FunctionKind::Window,
        documentation: f.documentation().cloned(),
    }));
    docs.extend(table_functions().into_iter().map(|f| FunctionDoc {
        name: f.name.to_string(),
        kind: FunctionKind::Table,
        documentation: Some(f.documentation.clone()),
    }));
    docs.sort_by(|a, b| a.name.cmp(&b.name));
    docs
}

/// Registers every finsight function with `ctx`, the keyed ones over
/// `keyring`.
pub fn register_all(ctx: &SessionContext, keyring: &Arc<Keyring>) {
    for udf in scalar_functions_with_keyring(keyring) {
        ctx.register_udf(udf);
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf);
    }
    for udwf in window_functions() {
        ctx.register_udwf(udwf);
    }
    for table in table_functions() {
        ctx.register_udtf(table.name, table.implementation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_documented() {
        for doc in function_docs() {
            let documentation = doc.documentation.as_ref();
            assert!(documentation.is_some(), "{} has no documentation", doc.name);
            assert!(
                documentation.is_some_and(|d| d.sql_example.is_some()),
                "{} has no SQL example",
                doc.name
            );
        }
    }
}
