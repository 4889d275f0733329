//! Noise, thresholds and the epsilon split, all through OpenDP's vetted
//! measurements (`opendp` crate): discrete Laplace for counts,
//! Laplace on a 2^k grid for sums (resistant to floating-point attacks),
//! Laplace thresholding of distinct-unit counts for choosing which groups
//! to release, and the exponential mechanism (report noisy max) over a grid
//! of candidates for percentiles. Every scale is checked against OpenDP's
//! own privacy map, so the epsilon spent is what OpenDP proves, not a
//! formula of ours.
//!
//! Epsilon is split evenly (basic composition) between the group selection
//! (when groups are not public) and the aggregates; a mean takes half of
//! its share for a count and half for a centred sum, a variance thirds.
//! `COUNT(DISTINCT unit)` reuses the selection's noisy unit counts. All of
//! delta goes to the selection.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::{SortColumn, cast, lexsort_to_indices, take};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use opendp::core::Measurement;
use opendp::domains::{AtomDomain, MapDomain, VectorDomain};
use opendp::measurements::{make_laplace, make_laplace_threshold, make_private_quantile};
use opendp::measures::{Approximate, MaxDivergence};
use opendp::metrics::{AbsoluteDistance, L0PInfDistance, L1Distance, SymmetricDistance};

use super::bounding::{UNITS, measure};
use super::syntax::{Aggregate, AggregateKind, Options, Shape, aggregate_column, group_column};

/// Candidates of a DP percentile: this many evenly spaced values between
/// the bounds (the release is one of them).
const QUANTILE_CANDIDATES: usize = 1001;

/// The confidence of the accuracy EXPLAIN states.
const ALPHA: f64 = 0.05;

fn opendp_error(what: &str, e: opendp::error::Error) -> DataFusionError {
    DataFusionError::Execution(format!("differential privacy ({what}): {e}"))
}

/// How groups are chosen for release.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Discrete Laplace scale on each group's count of distinct units.
    pub scale: f64,
    /// Groups whose noisy count is at least this are released.
    pub threshold: i64,
    pub epsilon: f64,
    pub delta: f64,
}

/// One noisy release inside an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub what: &'static str,
    /// L1 sensitivity over all groups (for a quantile: the symmetric
    /// distance of one group's values).
    pub sensitivity: f64,
    pub scale: f64,
    /// As OpenDP's privacy map computes it.
    pub epsilon: f64,
    /// Half-width of the (1 - ALPHA) interval of the noise (Laplace parts).
    pub accuracy: Option<f64>,
}

/// The noise plan of a DP query.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub epsilon: f64,
    /// Delta spent (zero with public groups).
    pub delta: f64,
    pub share: f64,
    pub shares: usize,
    pub threshold: Option<Threshold>,
    /// Per aggregate, in the order of [`Shape::aggregates`].
    pub parts: Vec<Vec<Part>>,
}

fn float_laplace_epsilon(scale: f64, sensitivity: f64) -> Result<f64> {
    let m = make_laplace::<_, _, MaxDivergence>(
        VectorDomain::new(AtomDomain::<f64>::new_non_nan()),
        L1Distance::<f64>::default(),
        scale,
        None,
    )
    .map_err(|e| opendp_error("Laplace", e))?;
    m.map(&sensitivity).map_err(|e| opendp_error("Laplace", e))
}

fn int_laplace_epsilon(scale: f64, sensitivity: i64) -> Result<f64> {
    let m = make_laplace::<_, _, MaxDivergence>(
        VectorDomain::new(AtomDomain::<i64>::default()),
        L1Distance::<i64>::default(),
        scale,
        None,
    )
    .map_err(|e| opendp_error("discrete Laplace", e))?;
    m.map(&sensitivity)
        .map_err(|e| opendp_error("discrete Laplace", e))
}

/// The smallest scale (to 1 ppm) whose OpenDP privacy map gives at most
/// `epsilon` for `sensitivity`, starting from the textbook `sensitivity /
/// epsilon`.
fn scale_for(epsilon: f64, first: f64, map: impl Fn(f64) -> Result<f64>) -> Result<(f64, f64)> {
    let mut scale = first;
    for _ in 0..64 {
        let spent = map(scale)?;
        if spent <= epsilon {
            return Ok((scale, spent));
        }
        scale *= (spent / epsilon).max(1.0 + 1e-6);
    }
    exec_err!("differential privacy: no noise scale found for epsilon {epsilon}")
}

fn laplace_part(what: &'static str, sensitivity: f64, epsilon: f64, integer: bool) -> Result<Part> {
    let (scale, spent) = if integer {
        let l1 = sensitivity.round() as i64;
        scale_for(epsilon, sensitivity / epsilon, |s| {
            int_laplace_epsilon(s, l1)
        })?
    } else {
        scale_for(epsilon, sensitivity / epsilon, |s| {
            float_laplace_epsilon(s, sensitivity)
        })?
    };
    let accuracy = if integer {
        opendp::accuracy::discrete_laplacian_scale_to_accuracy(scale, ALPHA)
    } else {
        opendp::accuracy::laplacian_scale_to_accuracy(scale, ALPHA)
    }
    .ok();
    Ok(Part {
        what,
        sensitivity,
        scale,
        epsilon: spent,
        accuracy,
    })
}

fn quantile_candidates(lower: f64, upper: f64) -> Vec<f64> {
    let step = (upper - lower) / (QUANTILE_CANDIDATES - 1) as f64;
    (0..QUANTILE_CANDIDATES)
        .map(|i| {
            if i + 1 == QUANTILE_CANDIDATES {
                upper
            } else {
                lower + step * i as f64
            }
        })
        .collect()
}

/// A DP percentile over one group's values.
type QuantileMeasurement =
    Measurement<VectorDomain<AtomDomain<f64>>, SymmetricDistance, MaxDivergence, f64>;

/// Released noisy counts of distinct units, by candidate group.
type ThresholdMeasurement = Measurement<
    MapDomain<AtomDomain<u64>, AtomDomain<i64>>,
    L0PInfDistance<1, AbsoluteDistance<i64>>,
    Approximate<MaxDivergence>,
    HashMap<u64, i64>,
>;

fn quantile_measurement(
    aggregate: &Aggregate,
    alpha: f64,
    scale: f64,
) -> Result<QuantileMeasurement> {
    make_private_quantile(
        VectorDomain::new(AtomDomain::<f64>::new_non_nan()),
        SymmetricDistance,
        MaxDivergence,
        quantile_candidates(aggregate.lower, aggregate.upper),
        alpha,
        scale,
    )
    .map_err(|e| opendp_error("percentile", e))
}

fn threshold_measurement(scale: f64, threshold: i64) -> Result<ThresholdMeasurement> {
    make_laplace_threshold(
        MapDomain::new(AtomDomain::<u64>::default(), AtomDomain::<i64>::default()),
        L0PInfDistance(AbsoluteDistance::<i64>::default()),
        scale,
        threshold,
        None,
    )
    .map_err(|e| opendp_error("threshold", e))
}

/// Epsilon and delta of the threshold mechanism when a unit is in at most
/// `groups` groups (L0 = groups, Linf = 1: one unit adds one to a count).
fn threshold_loss(scale: f64, threshold: i64, groups: u32) -> Result<(f64, f64)> {
    threshold_measurement(scale, threshold)?
        .map(&(groups, i64::from(groups), 1))
        .map_err(|e| opendp_error("threshold", e))
}

fn calibrate_threshold(epsilon: f64, delta: f64, groups: u64) -> Result<Threshold> {
    let k = u32::try_from(groups)
        .map_err(|_| DataFusionError::Plan("max_groups_contributed is too large".into()))?;
    let (scale, _) = scale_for(epsilon, groups as f64 / epsilon, |s| {
        threshold_loss(s, 1 << 40, k).map(|(e, _)| e)
    })?;
    // The smallest threshold whose delta fits (delta falls as it grows).
    let (mut low, mut high) = (1i64, 1i64 << 40);
    if threshold_loss(scale, high, k)?.1 > delta {
        return plan_err!(
            "OPTIONS: delta {delta} is too small for epsilon {epsilon} (no threshold reaches it)"
        );
    }
    while low < high {
        let mid = low + (high - low) / 2;
        if threshold_loss(scale, mid, k)?.1 <= delta {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    let (spent_epsilon, spent_delta) = threshold_loss(scale, low, k)?;
    Ok(Threshold {
        scale,
        threshold: low,
        epsilon: spent_epsilon,
        delta: spent_delta,
    })
}

/// The noise plan for `shape` under `options`.
pub fn calibrate(options: &Options, shape: &Shape) -> Result<Calibration> {
    let k = options.max_groups as f64;
    let m = options.max_rows as f64;
    let selected = options.public_groups.is_none();
    let noised = shape
        .aggregates
        .iter()
        .filter(|a| !(selected && a.kind == AggregateKind::CountUnits))
        .count();
    let shares = (noised + usize::from(selected)).max(1);
    let share = options.epsilon / shares as f64;
    let threshold = match (selected, options.delta) {
        (true, Some(delta)) => Some(calibrate_threshold(share, delta, options.max_groups)?),
        (true, None) => return plan_err!("OPTIONS: delta is required to select groups"),
        (false, _) => None,
    };
    let mut parts = Vec::new();
    for aggregate in &shape.aggregates {
        let half_width = (aggregate.upper - aggregate.lower) / 2.0;
        let largest = aggregate.lower.abs().max(aggregate.upper.abs());
        let p = match aggregate.kind {
            AggregateKind::CountRows | AggregateKind::CountValues => {
                vec![laplace_part("count", k * m, share, true)?]
            }
            AggregateKind::CountUnits if selected => vec![],
            AggregateKind::CountUnits => vec![laplace_part("count of units", k, share, true)?],
            AggregateKind::Sum => vec![laplace_part("sum", k * m * largest, share, false)?],
            AggregateKind::Avg => vec![
                laplace_part("count", k * m, share / 2.0, true)?,
                laplace_part("centred sum", k * m * half_width, share / 2.0, false)?,
            ],
            AggregateKind::Variance | AggregateKind::Stddev => vec![
                laplace_part("count", k * m, share / 3.0, true)?,
                laplace_part("centred sum", k * m * half_width, share / 3.0, false)?,
                laplace_part(
                    "centred sum of squares",
                    k * m * half_width * half_width,
                    share / 3.0,
                    false,
                )?,
            ],
            AggregateKind::Percentile(alpha) => {
                // One unit changes up to max_rows values in each of up to
                // max_groups groups: each group's release gets share / k.
                let per_group = share / k;
                let d_in = options.max_rows as u32;
                let first = quantile_measurement(aggregate, alpha, 1.0)?
                    .map(&d_in)
                    .map_err(|e| opendp_error("percentile", e))?
                    / per_group;
                let (scale, spent) = scale_for(per_group, first, |s| {
                    quantile_measurement(aggregate, alpha, s)?
                        .map(&d_in)
                        .map_err(|e| opendp_error("percentile", e))
                })?;
                vec![Part {
                    what: "percentile (exponential mechanism)",
                    sensitivity: m,
                    scale,
                    epsilon: spent * k,
                    accuracy: None,
                }]
            }
        };
        parts.push(p);
    }
    Ok(Calibration {
        epsilon: options.epsilon,
        delta: if selected {
            options.delta.unwrap_or(0.0)
        } else {
            0.0
        },
        share,
        shares,
        threshold,
        parts,
    })
}

fn int_column(batch: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("DP release: no column {name}")))?;
    let array = cast(array, &DataType::Int64)?;
    let values = array.as_primitive::<Int64Type>();
    Ok((0..values.len())
        .map(|i| {
            if values.is_valid(i) {
                values.value(i)
            } else {
                0
            }
        })
        .collect())
}

fn float_column(batch: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("DP release: no column {name}")))?;
    let array = cast(array, &DataType::Float64)?;
    let values = array.as_primitive::<Float64Type>();
    Ok((0..values.len())
        .map(|i| {
            let v = values.value(i);
            if values.is_valid(i) && v.is_finite() {
                v
            } else {
                0.0
            }
        })
        .collect())
}

fn noisy_ints(values: Vec<i64>, scale: f64) -> Result<Vec<i64>> {
    make_laplace::<_, _, MaxDivergence>(
        VectorDomain::new(AtomDomain::<i64>::default()),
        L1Distance::<i64>::default(),
        scale,
        None,
    )
    .and_then(|m| m.invoke(&values))
    .map_err(|e| opendp_error("discrete Laplace", e))
}

fn noisy_floats(values: Vec<f64>, scale: f64) -> Result<Vec<f64>> {
    make_laplace::<_, _, MaxDivergence>(
        VectorDomain::new(AtomDomain::<f64>::new_non_nan()),
        L1Distance::<f64>::default(),
        scale,
        None,
    )
    .and_then(|m| m.invoke(&values))
    .map_err(|e| opendp_error("Laplace", e))
}

/// Which candidate rows are released, in order, with their noisy distinct
/// unit counts when the threshold chose them. `None` is a public group
/// absent from the data.
struct Selection {
    rows: Vec<Option<usize>>,
    noisy_units: Option<Vec<i64>>,
    keys: Vec<ArrayRef>,
}

fn select_by_threshold(
    batch: &RecordBatch,
    groups: usize,
    threshold: &Threshold,
) -> Result<Selection> {
    let units = int_column(batch, UNITS)?;
    let counts: HashMap<u64, i64> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (i as u64, *u))
        .collect();
    let released = threshold_measurement(threshold.scale, threshold.threshold)?
        .invoke(&counts)
        .map_err(|e| opendp_error("threshold", e))?;
    let mut rows: Vec<(usize, i64)> = released
        .into_iter()
        .map(|(i, noisy)| (i as usize, noisy))
        .collect();
    rows.sort_unstable();
    let indices = UInt32Array::from_iter_values(rows.iter().map(|(i, _)| *i as u32));
    let keys = (0..groups)
        .map(|g| {
            let column = batch
                .column_by_name(&group_column(g))
                .ok_or_else(|| DataFusionError::Internal("DP release: no group key".into()))?;
            Ok(take(column.as_ref(), &indices, None)?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(Selection {
        rows: rows.iter().map(|(i, _)| Some(*i)).collect(),
        noisy_units: Some(rows.iter().map(|(_, n)| *n).collect()),
        keys,
    })
}

fn select_public(batch: &RecordBatch, groups: usize, public: &RecordBatch) -> Result<Selection> {
    let mut candidate_keys = Vec::new();
    let mut public_keys = Vec::new();
    for g in 0..groups {
        let name = group_column(g);
        let candidate = batch
            .column_by_name(&name)
            .ok_or_else(|| DataFusionError::Internal("DP release: no group key".into()))?;
        let listed = public.column_by_name(&name).ok_or_else(|| {
            DataFusionError::Plan(
                "OPTIONS: public_groups: the table lacks a group key column".into(),
            )
        })?;
        let listed = cast(listed, candidate.data_type()).map_err(|e| {
            DataFusionError::Plan(format!(
                "OPTIONS: public_groups: group key {} has type {} in the public table, {} in the query: {e}",
                g + 1,
                listed.data_type(),
                candidate.data_type()
            ))
        })?;
        candidate_keys.push(Arc::clone(candidate));
        public_keys.push(listed);
    }
    let converter = RowConverter::new(
        candidate_keys
            .iter()
            .map(|a| SortField::new(a.data_type().clone()))
            .collect(),
    )?;
    let candidates = converter.convert_columns(&candidate_keys)?;
    let listed = converter.convert_columns(&public_keys)?;
    let index: HashMap<&[u8], usize> = (0..candidates.num_rows())
        .map(|i| (candidates.row(i).data(), i))
        .collect();
    let rows = (0..listed.num_rows())
        .map(|i| index.get(listed.row(i).data()).copied())
        .collect();
    Ok(Selection {
        rows,
        noisy_units: None,
        keys: public_keys,
    })
}

/// Values of the candidate rows `rows` (0 for absent public groups).
fn pick<T: Copy + Default>(values: &[T], rows: &[Option<usize>]) -> Vec<T> {
    rows.iter()
        .map(|r| r.and_then(|i| values.get(i).copied()).unwrap_or_default())
        .collect()
}

/// The type a DP aggregate is released as.
fn released_type(kind: AggregateKind) -> DataType {
    match kind {
        AggregateKind::CountRows | AggregateKind::CountValues | AggregateKind::CountUnits => {
            DataType::Int64
        }
        _ => DataType::Float64,
    }
}

/// The schema of the released table, from the input's (`__dp_g*` keep
/// their types).
pub fn released_schema(input: &Schema, shape: &Shape) -> SchemaRef {
    let mut fields: Vec<Field> = (0..shape.groups.len())
        .map(|g| {
            let name = group_column(g);
            let data_type = input
                .field_with_name(&name)
                .map(|f| f.data_type().clone())
                .unwrap_or(DataType::Null);
            Field::new(name, data_type, true)
        })
        .collect();
    fields.extend(
        shape
            .aggregates
            .iter()
            .enumerate()
            .map(|(j, a)| Field::new(aggregate_column(j), released_type(a.kind), false)),
    );
    Arc::new(Schema::new(fields))
}

/// The released table (`__dp_g*`, `__dp_a*`), sorted by the group keys.
pub fn release(
    candidates: &RecordBatch,
    shape: &Shape,
    calibration: &Calibration,
    public: Option<&RecordBatch>,
) -> Result<RecordBatch> {
    let groups = shape.groups.len();
    let selection = match (&calibration.threshold, public) {
        (Some(threshold), _) => select_by_threshold(candidates, groups, threshold)?,
        (None, Some(public)) => select_public(candidates, groups, public)?,
        (None, None) => return exec_err!("DP release: neither a threshold nor public groups"),
    };
    let rows = &selection.rows;
    let mut fields: Vec<Field> = (0..groups)
        .map(|g| Field::new(group_column(g), selection.keys[g].data_type().clone(), true))
        .collect();
    let mut columns: Vec<ArrayRef> = selection.keys.clone();
    for (j, (aggregate, parts)) in shape.aggregates.iter().zip(&calibration.parts).enumerate() {
        let scale = |i: usize| parts.get(i).map(|p| p.scale).unwrap_or(1.0);
        let mid = (aggregate.lower + aggregate.upper) / 2.0;
        let half_width = (aggregate.upper - aggregate.lower) / 2.0;
        let array: ArrayRef = match aggregate.kind {
            AggregateKind::CountRows | AggregateKind::CountValues => {
                let counts = pick(&int_column(candidates, &measure(j, 'n'))?, rows);
                let noisy = noisy_ints(counts, scale(0))?;
                Arc::new(Int64Array::from_iter_values(
                    noisy.into_iter().map(|c| c.max(0)),
                ))
            }
            AggregateKind::CountUnits => {
                let noisy = match &selection.noisy_units {
                    Some(reused) => reused.clone(),
                    None => noisy_ints(pick(&int_column(candidates, UNITS)?, rows), scale(0))?,
                };
                Arc::new(Int64Array::from_iter_values(
                    noisy.into_iter().map(|c| c.max(0)),
                ))
            }
            AggregateKind::Sum => {
                let sums = pick(&float_column(candidates, &measure(j, 's'))?, rows);
                Arc::new(Float64Array::from(noisy_floats(sums, scale(0))?))
            }
            AggregateKind::Avg | AggregateKind::Variance | AggregateKind::Stddev => {
                let counts = noisy_ints(
                    pick(&int_column(candidates, &measure(j, 'n'))?, rows),
                    scale(0),
                )?;
                let sums = noisy_floats(
                    pick(&float_column(candidates, &measure(j, 's'))?, rows),
                    scale(1),
                )?;
                let squares = if aggregate.kind == AggregateKind::Avg {
                    vec![0.0; rows.len()]
                } else {
                    noisy_floats(
                        pick(&float_column(candidates, &measure(j, 'q'))?, rows),
                        scale(2),
                    )?
                };
                let values = counts
                    .iter()
                    .zip(&sums)
                    .zip(&squares)
                    .map(|((&n, &s), &q)| {
                        // Post-processing: a noisy count below one is taken as one.
                        let n = (n.max(1)) as f64;
                        let centred_mean = (s / n).clamp(-half_width, half_width);
                        match aggregate.kind {
                            AggregateKind::Avg => mid + centred_mean,
                            _ => {
                                let variance = (q / n - centred_mean * centred_mean)
                                    .clamp(0.0, half_width * half_width);
                                if aggregate.kind == AggregateKind::Stddev {
                                    variance.sqrt()
                                } else {
                                    variance
                                }
                            }
                        }
                    });
                Arc::new(Float64Array::from_iter_values(values))
            }
            AggregateKind::Percentile(alpha) => {
                let lists = candidates
                    .column_by_name(&measure(j, 'l'))
                    .ok_or_else(|| DataFusionError::Internal("DP release: no values".into()))?;
                let lists = lists.as_list_opt::<i32>().ok_or_else(|| {
                    DataFusionError::Internal("DP release: values are not a list".into())
                })?;
                let measurement = quantile_measurement(aggregate, alpha, scale(0))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let values: Vec<f64> = match row {
                        Some(i) if lists.is_valid(*i) => {
                            let list = lists.value(*i);
                            let list = cast(&list, &DataType::Float64)?;
                            list.as_primitive::<Float64Type>()
                                .iter()
                                .flatten()
                                .filter(|v| v.is_finite())
                                .collect()
                        }
                        _ => Vec::new(),
                    };
                    out.push(
                        measurement
                            .invoke(&values)
                            .map_err(|e| opendp_error("percentile", e))?,
                    );
                }
                Arc::new(Float64Array::from(out))
            }
        };
        fields.push(Field::new(
            aggregate_column(j),
            array.data_type().clone(),
            false,
        ));
        columns.push(array);
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    if groups == 0 || batch.num_rows() < 2 {
        return Ok(batch);
    }
    let sort: Vec<SortColumn> = (0..groups)
        .map(|g| SortColumn {
            values: Arc::clone(batch.column(g)),
            options: None,
        })
        .collect();
    let order = lexsort_to_indices(&sort, None)?;
    let sorted = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &order, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, sorted)?)
}

/// EXPLAIN of a DP query: one (item, detail) row per decision.
pub fn explain_rows(
    options: &Options,
    shape: &Shape,
    calibration: &Calibration,
) -> Vec<(String, String)> {
    let mut rows = vec![
        (
            "privacy guarantee".to_string(),
            format!(
                "({}, {})-differential privacy per privacy unit, basic composition over {} equal shares of epsilon {}",
                calibration.epsilon,
                calibration.delta,
                calibration.shares,
                round(calibration.share)
            ),
        ),
        (
            "contribution bounds".to_string(),
            format!(
                "each privacy unit ({}) keeps at most {} group(s) and at most {} row(s) per group, chosen by a seeded hash of its own rows{}",
                options.unit,
                options.max_groups,
                options.max_rows,
                options
                    .seed
                    .map(|s| format!(" (seed {s})"))
                    .unwrap_or_default()
            ),
        ),
    ];
    match &calibration.threshold {
        Some(t) => rows.push((
            "group selection".to_string(),
            format!(
                "noisy count of distinct units (discrete Laplace, scale {}), released when >= {}: epsilon {}, delta {:.3e} (OpenDP make_laplace_threshold)",
                round(t.scale),
                t.threshold,
                round(t.epsilon),
                t.delta
            ),
        )),
        None => rows.push((
            "group selection".to_string(),
            format!(
                "public groups: every row of {} and nothing else, without a threshold",
                options
                    .public_groups
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        )),
    }
    for (aggregate, parts) in shape.aggregates.iter().zip(&calibration.parts) {
        let bounds = match aggregate.kind {
            AggregateKind::CountRows | AggregateKind::CountValues | AggregateKind::CountUnits => {
                String::new()
            }
            _ => format!(
                "values clamped to [{}, {}]; ",
                aggregate.lower, aggregate.upper
            ),
        };
        if parts.is_empty() {
            rows.push((
                aggregate.text.clone(),
                "the group selection's noisy count of distinct units (no further epsilon)".into(),
            ));
            continue;
        }
        let described: Vec<String> = parts
            .iter()
            .map(|p| {
                let noise = if p.what.starts_with("percentile") {
                    format!(
                        "{}: {} candidates, scale {}, symmetric distance {} per group",
                        p.what,
                        QUANTILE_CANDIDATES,
                        round(p.scale),
                        p.sensitivity
                    )
                } else {
                    format!(
                        "{}: {} Laplace, L1 sensitivity {}, scale {}",
                        p.what,
                        if p.what.contains("count") {
                            "discrete"
                        } else {
                            "2^k-grid"
                        },
                        round(p.sensitivity),
                        round(p.scale)
                    )
                };
                let accuracy = p
                    .accuracy
                    .map(|a| {
                        format!(
                            ", {:.0}% of noise within ±{}",
                            (1.0 - ALPHA) * 100.0,
                            round(a)
                        )
                    })
                    .unwrap_or_default();
                format!("{noise}, epsilon {}{accuracy}", round(p.epsilon))
            })
            .collect();
        rows.push((
            aggregate.text.clone(),
            format!("{bounds}{}", described.join("; ")),
        ));
    }
    rows
}

fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 6 - x.abs().log10().ceil() as i32;
    let factor = 10f64.powi(digits.clamp(-300, 300));
    (x * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_meet_opendp_privacy_maps() {
        // Discrete Laplace: scale = sensitivity / epsilon exactly.
        let part = laplace_part("count", 3.0, 0.5, true).expect("calibrates");
        assert_eq!(part.scale, 6.0);
        assert!(part.epsilon <= 0.5 + 1e-12, "{part:?}");
        // Float Laplace: at most epsilon by OpenDP's map, within 1 ppm of the textbook scale.
        let part = laplace_part("sum", 1500.0, 0.25, false).expect("calibrates");
        assert!(part.epsilon <= 0.25, "{part:?}");
        assert!((part.scale / 6000.0 - 1.0).abs() < 1e-5, "{part:?}");
        // 95% of Laplace(b) noise is within b ln 20.
        let accuracy = part.accuracy.expect("accuracy");
        assert!((accuracy - part.scale * 20f64.ln()).abs() < 1e-6 * accuracy);
    }

    #[test]
    fn thresholds_meet_delta_and_grow_with_groups_per_unit() {
        let one = calibrate_threshold(0.5, 1e-6, 1).expect("calibrates");
        assert!(one.delta <= 1e-6 && one.epsilon <= 0.5, "{one:?}");
        // One unit must not be able to cross the threshold: with scale 2 and
        // delta 1e-6 that needs a threshold near 1 + 2 ln(1 / 2e-6) = 27.2.
        assert!((20..=40).contains(&one.threshold), "{one:?}");
        // One below is not enough for delta.
        let (_, delta) = threshold_loss(one.scale, one.threshold - 1, 1).expect("map");
        assert!(delta > 1e-6);
        let three = calibrate_threshold(0.5, 1e-6, 3).expect("calibrates");
        assert!(three.threshold > one.threshold && three.scale > one.scale);
    }
}
