//! Physical planning that finsight adds to DataFusion's: rules that replace
//! operators with faster ones for the shapes bank workloads are made of.
//! Each rule keeps the query's results; `SET finsight.<option> = false`
//! turns it off (the tests compare both ways).

use std::sync::Arc;

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;
use datafusion::physical_optimizer::PhysicalOptimizerRule;

pub mod segmented_window;
mod segmented_window_rule;
pub mod shared_subplan;

pub use segmented_window::SegmentedWindowExec;
pub use segmented_window_rule::SegmentedWindowRule;
pub use shared_subplan::{FinsightQueryPlanner, ShareRepeatedSubplans};

extensions_options! {
    /// finsight's engine options (`SET finsight.segmented_windows = false`).
    pub struct EngineOptions {
        /// Run aggregate window functions over sorted partitions with
        /// SegmentedWindowExec instead of DataFusion's window operators.
        pub segmented_windows: bool, default = true
        /// Compute a subplan used more than once in a query (a CTE
        /// referenced twice) once, instead of once per reference.
        pub share_repeated_subplans: bool, default = true
    }
}

impl ConfigExtension for EngineOptions {
    const PREFIX: &'static str = "finsight";
}

/// The rules every session gets, run after DataFusion's own.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    vec![Arc::new(SegmentedWindowRule)]
}

/// The logical rules every session gets, run after DataFusion's own.
pub fn optimizer_rules() -> Vec<Arc<dyn datafusion::optimizer::OptimizerRule + Send + Sync>> {
    vec![Arc::new(ShareRepeatedSubplans)]
}

/// The options in `config`, or their defaults when the extension is absent.
fn options(config: &datafusion::config::ConfigOptions) -> EngineOptions {
    config
        .extensions
        .get::<EngineOptions>()
        .cloned()
        .unwrap_or_default()
}
