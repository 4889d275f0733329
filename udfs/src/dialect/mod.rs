//! Functions analysts know from other SQL dialects (PostgreSQL, DuckDB,
//! Snowflake) that neither DataFusion nor a maintained function crate has
//! under any name. Spellings of functions DataFusion does have (`year(t)`,
//! `arg_max`, `strftime`...) are rewrites in the engine's SQL front end,
//! not functions here.

pub mod age;
pub mod len;
pub mod mode;
pub mod percentile_disc;
mod values;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// Scalar functions of this domain.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(age::AgeFunc::new()),
        ScalarUDF::new_from_impl(len::LenFunc::new()),
    ]
}

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(mode::ModeFunc::new()),
        AggregateUDF::new_from_impl(percentile_disc::PercentileDiscFunc::new()),
    ]
}
