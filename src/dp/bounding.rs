//! Contribution bounding, as a DataFusion plan over the DP query's input.
//!
//! Per privacy unit and group, at most `max_rows_per_group` rows are kept;
//! per unit, at most `max_groups_contributed` groups. Which ones is decided
//! by a seeded hash of the rows' own values (xxh3), so the choice depends
//! only on the unit's own data and the seed: the same seed keeps the same
//! rows, whatever the scan order or the number of partitions. Values are
//! clamped to each aggregate's bounds before anything is added up.
//!
//! The plan's result has one row per candidate group: the group keys, the
//! number of distinct units (`__dp_units`) and, for each aggregate, the
//! bounded sums its mechanism adds noise to.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, UInt64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprFunctionExt, ExprSchemable, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, cast, col, lit, when,
};
use datafusion::prelude::DataFrame;

use super::capped::{self, Capped};
use super::syntax::{AggregateKind, Options, Shape, UNIT, group_column, value_column};

/// Number of distinct units per candidate group.
pub const UNITS: &str = "__dp_units";

/// A measure column of aggregate `j`: `n` (a count), `s` (a sum, centred
/// on the bounds' midpoint for means and variances), `q` (a sum of
/// squares around the midpoint), `l` (the bounded values, for quantiles).
pub fn measure(j: usize, part: char) -> String {
    format!("__dp_m{j}{part}")
}

const ROW_HASH: &str = "__dp_row_hash";
const GROUP_RANK: &str = "__dp_group_rank";

/// Makes the seeded hash salts for rows and for groups differ.
const GROUP_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

/// The bounding plan over `input` (columns `__dp_unit`, `__dp_g*`, `__dp_v*`).
pub fn bounded(input: DataFrame, shape: &Shape, options: &Options, seed: u64) -> Result<DataFrame> {
    let schema = input.schema().clone();
    for (i, value) in shape.values.iter().enumerate() {
        let name = value_column(i);
        let data_type = col(name.as_str()).get_type(&schema)?;
        let numeric = data_type.is_numeric() || data_type == DataType::Null;
        let counted_only = shape
            .aggregates
            .iter()
            .all(|a| a.value != Some(i) || a.kind == AggregateKind::CountValues);
        if !numeric && !counted_only {
            let users: Vec<&str> = shape
                .aggregates
                .iter()
                .filter(|a| a.value == Some(i))
                .map(|a| a.text.as_str())
                .collect();
            return plan_err!(
                "DP query: {} needs a numeric argument, but '{value}' is {data_type}",
                users.join(", ")
            );
        }
    }
    let groups: Vec<Expr> = (0..shape.groups.len())
        .map(|i| col(group_column(i).as_str()))
        .collect();
    let hash = ScalarUDF::new_from_impl(BoundingHash::new());
    let seed_lit = lit(ScalarValue::UInt64(Some(seed)));

    let df = input.filter(col(UNIT).is_not_null())?;
    // At most max_rows rows per unit and group: each measure keeps the rows
    // with the max_rows smallest row hashes (a bounded heap per group in a
    // hash aggregate; see capped.rs).
    let mut unit_and_groups = vec![col(UNIT)];
    unit_and_groups.extend(groups.iter().cloned());
    let mut row_key = vec![seed_lit.clone()];
    row_key.extend(unit_and_groups.iter().cloned());
    row_key.extend((0..shape.values.len()).map(|i| col(value_column(i).as_str())));
    let df = df.with_column(ROW_HASH, hash.call(row_key))?;
    let max_rows = lit(ScalarValue::UInt64(Some(options.max_rows)));
    let capped = |kind: Capped, value: Expr| {
        capped::udaf(kind).call(vec![
            col(ROW_HASH),
            cast(value, DataType::Float64),
            max_rows.clone(),
        ])
    };
    // 1.0 where a value counts, NULL where it does not.
    let counted = |x: Expr| when(x.is_null(), lit(ScalarValue::Float64(None))).otherwise(lit(1.0));

    // Per unit and group: the bounded measures.
    let mut per_unit = Vec::new();
    for (j, aggregate) in shape.aggregates.iter().enumerate() {
        let value = aggregate.value.map(|v| col(value_column(v).as_str()));
        let mid = (aggregate.lower + aggregate.upper) / 2.0;
        let clamped = value
            .clone()
            .map(|v| clamp(v, aggregate.lower, aggregate.upper))
            .transpose()?;
        match (aggregate.kind, clamped) {
            (AggregateKind::CountRows, _) => {
                per_unit.push(capped(Capped::Count, lit(1.0)).alias(measure(j, 'n')));
            }
            (AggregateKind::CountValues, _) => {
                let Some(v) = value else {
                    return exec_err!("DP query: COUNT(x) without its argument");
                };
                per_unit.push(capped(Capped::Count, counted(v)?).alias(measure(j, 'n')));
            }
            (AggregateKind::CountUnits, _) => {}
            (AggregateKind::Sum, Some(c)) => {
                per_unit.push(capped(Capped::Sum, c).alias(measure(j, 's')));
            }
            (AggregateKind::Avg | AggregateKind::Variance | AggregateKind::Stddev, Some(c)) => {
                let centred = c - lit(mid);
                per_unit.push(capped(Capped::Count, centred.clone()).alias(measure(j, 'n')));
                per_unit.push(capped(Capped::Sum, centred.clone()).alias(measure(j, 's')));
                if aggregate.kind != AggregateKind::Avg {
                    per_unit.push(
                        capped(Capped::Sum, centred.clone() * centred).alias(measure(j, 'q')),
                    );
                }
            }
            (AggregateKind::Percentile(_), Some(c)) => {
                per_unit.push(capped(Capped::Values, c).alias(measure(j, 'l')));
            }
            (kind, None) => return exec_err!("DP query: {kind:?} without its argument"),
        }
    }
    let df = df.aggregate(unit_and_groups, per_unit)?;

    // At most max_groups groups per unit.
    let mut group_key = vec![lit(ScalarValue::UInt64(Some(seed ^ GROUP_SALT))), col(UNIT)];
    group_key.extend(groups.iter().cloned());
    let group_rank = datafusion::functions_window::expr_fn::row_number()
        .partition_by(vec![col(UNIT)])
        .order_by(vec![hash.call(group_key).sort(true, false)])
        .build()?
        .alias(GROUP_RANK);
    let df = df
        .window(vec![group_rank])?
        .filter(col(GROUP_RANK).lt_eq(lit(options.max_groups)))?;

    // Per group: distinct units and the sums of the units' measures.
    use datafusion::functions_aggregate::expr_fn::{array_agg, count, sum};
    let mut per_group = vec![count(lit(1)).alias(UNITS)];
    for (j, aggregate) in shape.aggregates.iter().enumerate() {
        let parts: &[char] = match aggregate.kind {
            AggregateKind::CountRows | AggregateKind::CountValues => &['n'],
            AggregateKind::CountUnits => &[],
            AggregateKind::Sum => &['s'],
            AggregateKind::Avg => &['n', 's'],
            AggregateKind::Variance | AggregateKind::Stddev => &['n', 's', 'q'],
            AggregateKind::Percentile(_) => &['l'],
        };
        for &part in parts {
            let name = measure(j, part);
            let expr = if part == 'l' {
                datafusion::functions_nested::expr_fn::flatten(array_agg(col(name.as_str())))
            } else {
                sum(col(name.as_str()))
            };
            per_group.push(expr.alias(name));
        }
    }
    df.aggregate(groups, per_group)
}

/// `x` as a double clamped to `[lower, upper]`; NaN becomes NULL (ignored).
fn clamp(x: Expr, lower: f64, upper: f64) -> Result<Expr> {
    let x = cast(x, DataType::Float64);
    when(x.clone().not_eq(x.clone()), lit(ScalarValue::Float64(None)))
        .when(x.clone().lt(lit(lower)), lit(lower))
        .when(x.clone().gt(lit(upper)), lit(upper))
        .otherwise(x)
}

/// `dp_bounding_hash(seed, columns...)`: xxh3 of each row's values in
/// Arrow's row format, seeded. Internal to DP queries (not registered).
#[derive(Debug, PartialEq, Eq, Hash)]
struct BoundingHash {
    signature: Signature,
}

impl BoundingHash {
    fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for BoundingHash {
    fn name(&self) -> &str {
        "dp_bounding_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((seed, columns)) = args.args.split_first() else {
            return exec_err!("dp_bounding_hash: expected a seed and columns");
        };
        let ColumnarValue::Scalar(ScalarValue::UInt64(Some(seed))) = seed else {
            return exec_err!("dp_bounding_hash: the seed must be a UInt64 literal");
        };
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|c| c.to_array(rows))
            .collect::<Result<_>>()?;
        let fields = arrays
            .iter()
            .map(|a| SortField::new(a.data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let converted = converter.convert_columns(&arrays)?;
        let hashes: UInt64Array = (0..rows)
            .map(|i| twox_hash::XxHash3_64::oneshot_with_seed(*seed, converted.row(i).as_ref()))
            .collect::<Vec<u64>>()
            .into();
        debug_assert_eq!(hashes.len(), rows);
        Ok(ColumnarValue::Array(Arc::new(hashes)))
    }
}
