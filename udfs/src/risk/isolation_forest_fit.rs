//! `isolation_forest_fit(feature1 [, feature2 ...], n_trees, sample_size,
//! seed)`: an isolation forest for anomaly and fraud scoring.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StringArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, UInt64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::isolation_forest::{
    Forest, LEAF, MODEL_NAME, Node, average_path_length, forest_array, model_fields,
};
use crate::kernel::{coerce_numeric, constant_argument, feature_name};
use crate::model::{model_type, model_value};

const MAX_TREES: i64 = 10_000;
const MAX_SAMPLE_SIZE: i64 = 1_000_000;
/// Most sampled values the fit may hold (trees x sample size x features).
const MAX_SAMPLED_VALUES: i64 = 200_000_000;
const PARAMETERS: [&str; 3] = ["n_trees", "sample_size", "seed"];

/// SQL `isolation_forest_fit`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsolationForestFitFunc {
    signature: Signature,
}

impl Default for IsolationForestFitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl IsolationForestFitFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn constant_integer(args: &AccumulatorArgs, argument: &str, index: usize) -> Result<i64> {
    match constant_argument(MODEL_NAME, argument, args, index)? {
        ScalarValue::Int64(Some(v)) => Ok(v),
        ScalarValue::Float64(Some(v)) if v.fract() == 0.0 && v.abs() < 9e15 => Ok(v as i64),
        other => {
            plan_err!("{MODEL_NAME}: argument '{argument}' must be a whole number, got {other}")
        }
    }
}

/// splitmix64's finaliser: a cheap, well-mixed 64-bit hash step.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl AggregateUDFImpl for IsolationForestFitFunc {
    fn name(&self) -> &str {
        MODEL_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 4 {
            return plan_err!(
                "{MODEL_NAME} expects (feature1 [, feature2 ...], n_trees, sample_size, seed), got {} arguments",
                arg_types.len()
            );
        }
        let features = arg_types.len() - 3;
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i < features {
                    coerce_numeric(MODEL_NAME, &format!("feature{}", i + 1), t)
                } else if t.is_integer() {
                    Ok(DataType::Int64)
                } else {
                    coerce_numeric(MODEL_NAME, PARAMETERS[i - features], t)
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type(&model_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "rows"),
                DataType::Int64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "sample_hashes"),
                list(DataType::UInt64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "sample_trees"),
                list(DataType::Int64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "sample_values"),
                list(DataType::Float64),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let features = args.exprs.len() - 3;
        let n_trees = constant_integer(&args, "n_trees", features)?;
        let sample_size = constant_integer(&args, "sample_size", features + 1)?;
        let seed = constant_integer(&args, "seed", features + 2)?;
        if !(1..=MAX_TREES).contains(&n_trees) {
            return plan_err!(
                "{MODEL_NAME}: argument 'n_trees' must be from 1 to {MAX_TREES}, got {n_trees}"
            );
        }
        if !(2..=MAX_SAMPLE_SIZE).contains(&sample_size) {
            return plan_err!(
                "{MODEL_NAME}: argument 'sample_size' must be from 2 to {MAX_SAMPLE_SIZE}, got {sample_size}"
            );
        }
        let held = n_trees * sample_size * features as i64;
        if held > MAX_SAMPLED_VALUES {
            return plan_err!(
                "{MODEL_NAME}: n_trees x sample_size x features must be at most {MAX_SAMPLED_VALUES} \
                 sampled values, got {held}"
            );
        }
        let names = args.exprs[..features]
            .iter()
            .map(|e| feature_name(e))
            .collect();
        Ok(Box::new(IsolationForestAccumulator {
            features: names,
            width: features,
            sample_size: sample_size as usize,
            seed,
            rows: 0,
            trees: (0..n_trees as u64)
                .map(|t| Sample {
                    key: mix((seed as u64) ^ mix(t.wrapping_add(0x9e37_79b9_7f4a_7c15))),
                    ..Sample::default()
                })
                .collect(),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// One tree's sample: the rows with the smallest hashes under the tree's
/// key (ties by value), so the sample depends on the rows, not on their
/// order or on how the query was partitioned.
#[derive(Debug, Default, Clone)]
struct Sample {
    key: u64,
    hashes: Vec<u64>,
    values: Vec<f64>,
    /// Once `sample_size` rows are held, the largest hash kept; rows above
    /// it cannot enter.
    bound: Option<u64>,
}

impl Sample {
    fn push(&mut self, hash: u64, row: &[f64], keep: usize) {
        if self.bound.is_some_and(|b| hash > b) {
            return;
        }
        self.hashes.push(hash);
        self.values.extend_from_slice(row);
        if self.hashes.len() >= 2 * keep {
            self.prune(keep, row.len());
        }
    }

    /// Keeps the `keep` smallest by (hash, value bits).
    fn prune(&mut self, keep: usize, width: usize) {
        let n = self.hashes.len();
        if n <= keep && self.bound.is_some() {
            return;
        }
        let mut order: Vec<usize> = (0..n).collect();
        let (hashes, values) = (&self.hashes, &self.values);
        let row = |i: usize| {
            values[i * width..(i + 1) * width]
                .iter()
                .map(|v| v.to_bits())
        };
        order.sort_unstable_by(|&a, &b| hashes[a].cmp(&hashes[b]).then_with(|| row(a).cmp(row(b))));
        order.truncate(keep);
        let hashes: Vec<u64> = order.iter().map(|&i| self.hashes[i]).collect();
        let kept: Vec<f64> = order
            .iter()
            .flat_map(|&i| values[i * width..(i + 1) * width].iter().copied())
            .collect();
        if hashes.len() == keep {
            self.bound = hashes.last().copied();
        }
        self.hashes = hashes;
        self.values = kept;
    }
}

#[derive(Debug)]
struct IsolationForestAccumulator {
    features: Vec<String>,
    width: usize,
    sample_size: usize,
    seed: i64,
    rows: i64,
    trees: Vec<Sample>,
}

impl IsolationForestAccumulator {
    fn append(&mut self, columns: &[&Float64Array]) -> Result<()> {
        let n = columns.first().map_or(0, |c| c.len());
        let seed = self.seed as u64;
        let mut row_hashes = Vec::with_capacity(n);
        let mut rows = Vec::with_capacity(n * self.width);
        'rows: for i in 0..n {
            let mut hash = mix(seed ^ 0x2545_f491_4f6c_dd1d);
            let start = rows.len();
            for (k, column) in columns.iter().enumerate() {
                if column.is_null(i) {
                    rows.truncate(start);
                    continue 'rows;
                }
                let v = column.value(i) + 0.0;
                if !v.is_finite() {
                    return exec_err!(
                        "{MODEL_NAME}: argument 'feature{}' must be finite, got {v}",
                        k + 1
                    );
                }
                rows.push(v);
                hash = mix(hash ^ v.to_bits());
            }
            row_hashes.push(hash);
        }
        self.rows += row_hashes.len() as i64;
        let (width, keep) = (self.width, self.sample_size);
        for tree in &mut self.trees {
            for (r, &hash) in row_hashes.iter().enumerate() {
                tree.push(
                    mix(hash ^ tree.key),
                    &rows[r * width..(r + 1) * width],
                    keep,
                );
            }
        }
        Ok(())
    }

    fn fit(&mut self) -> Forest {
        let (width, keep) = (self.width, self.sample_size);
        let mut trees = Vec::with_capacity(self.trees.len());
        let psi = (self.rows as usize).min(keep);
        for (t, sample) in self.trees.iter_mut().enumerate() {
            sample.prune(keep, width);
            let points = sample.hashes.len();
            let max_depth = (points.max(2) as f64).log2().ceil() as usize;
            let mut rng = ChaCha8Rng::seed_from_u64(mix(sample.key ^ t as u64));
            let mut indices: Vec<usize> = (0..points).collect();
            let mut nodes = Vec::new();
            grow(
                &sample.values,
                width,
                &mut indices,
                0,
                max_depth,
                &mut rng,
                &mut nodes,
            );
            trees.push(nodes);
        }
        Forest {
            features: width,
            trees,
            normaliser: average_path_length(psi),
        }
    }
}

/// Grows the subtree of the points at `indices` and returns its node's
/// position: a random feature that varies among them, split at a uniform
/// threshold between its minimum and maximum (scikit-learn's extra tree with
/// max_features = 1), until a point is isolated or `max_depth` is reached.
fn grow(
    values: &[f64],
    width: usize,
    indices: &mut [usize],
    depth: usize,
    max_depth: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> u32 {
    let at = nodes.len() as u32;
    let leaf = Node {
        feature: LEAF,
        value: depth as f64 + average_path_length(indices.len()),
        left: 0,
        right: 0,
    };
    nodes.push(leaf);
    if depth >= max_depth || indices.len() <= 1 {
        return at;
    }
    let mut candidates: Vec<usize> = (0..width).collect();
    while !candidates.is_empty() {
        let feature = candidates.swap_remove(rng.random_range(0..candidates.len()));
        let (low, high) = indices
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &i| {
                let v = values[i * width + feature];
                (l.min(v), h.max(v))
            });
        if high <= low {
            continue;
        }
        let mut threshold = rng.random_range(low..high);
        if threshold >= high {
            threshold = low;
        }
        let mut split = 0;
        for k in 0..indices.len() {
            if values[indices[k] * width + feature] <= threshold {
                indices.swap(k, split);
                split += 1;
            }
        }
        let (left_points, right_points) = indices.split_at_mut(split);
        let left = grow(values, width, left_points, depth + 1, max_depth, rng, nodes);
        let right = grow(
            values,
            width,
            right_points,
            depth + 1,
            max_depth,
            rng,
            nodes,
        );
        nodes[at as usize] = Node {
            feature: feature as u32,
            value: threshold,
            left,
            right,
        };
        return at;
    }
    at
}

impl Accumulator for IsolationForestAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let columns: Vec<&Float64Array> = values[..self.width]
            .iter()
            .map(|v| v.as_primitive::<Float64Type>())
            .collect();
        self.append(&columns)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (width, keep) = (self.width, self.sample_size);
        for tree in &mut self.trees {
            tree.prune(keep, width);
        }
        let list = |values: ArrayRef| -> ScalarValue {
            ScalarValue::List(Arc::new(
                SingleRowListArrayBuilder::new(values).build_list_array(),
            ))
        };
        let hashes =
            UInt64Array::from_iter_values(self.trees.iter().flat_map(|t| t.hashes.iter().copied()));
        let trees = Int64Array::from_iter_values(
            self.trees
                .iter()
                .enumerate()
                .flat_map(|(i, t)| std::iter::repeat_n(i as i64, t.hashes.len())),
        );
        let values = Float64Array::from_iter_values(
            self.trees.iter().flat_map(|t| t.values.iter().copied()),
        );
        Ok(vec![
            ScalarValue::Int64(Some(self.rows)),
            list(Arc::new(hashes)),
            list(Arc::new(trees)),
            list(Arc::new(values)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [rows, hashes, trees, values] = states else {
            return internal_err!("{MODEL_NAME}: expected 4 state arrays");
        };
        let rows = rows.as_primitive::<Int64Type>();
        let lists: [&ListArray; 3] = [hashes.as_list(), trees.as_list(), values.as_list()];
        let (width, keep) = (self.width, self.sample_size);
        for state in 0..rows.len() {
            if rows.is_null(state) || lists.iter().any(|l| l.is_null(state)) {
                continue;
            }
            self.rows += rows.value(state);
            let hashes = lists[0].value(state);
            let trees = lists[1].value(state);
            let values = lists[2].value(state);
            let (hashes, trees, values) = (
                hashes.as_primitive::<UInt64Type>(),
                trees.as_primitive::<Int64Type>(),
                values.as_primitive::<Float64Type>(),
            );
            if values.len() != hashes.len() * width || trees.len() != hashes.len() {
                return internal_err!("{MODEL_NAME}: inconsistent partial state");
            }
            for k in 0..hashes.len() {
                let Some(tree) = self.trees.get_mut(trees.value(k) as usize) else {
                    return internal_err!("{MODEL_NAME}: partial state names an unknown tree");
                };
                tree.push(
                    hashes.value(k),
                    &values.values()[k * width..(k + 1) * width],
                    keep,
                );
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = model_fields();
        if self.rows < 2 {
            // One point cannot be isolated from anything: no model.
            return ScalarValue::try_from(&model_type(&fields));
        }
        let forest = self.fit();
        let list = |values: ArrayRef| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(values).build_list_array())
        };
        let int = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v])) };
        let psi = (self.rows as usize).min(self.sample_size) as i64;
        model_value(
            &fields,
            vec![
                int(forest.trees.len() as i64),
                int(psi),
                list(Arc::new(StringArray::from(self.features.clone()))),
                int(self.rows),
                int(self.seed),
                Arc::new(Float64Array::from(vec![forest.normaliser])),
                forest_array(&forest)?,
            ],
        )
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .trees
                .iter()
                .map(|t| size_of::<Sample>() + t.hashes.capacity() * 8 + t.values.capacity() * 8)
                .sum::<usize>()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Fits an isolation forest (Liu, Ting and Zhou, 2008; scikit-learn's IsolationForest) \
         for anomaly and fraud scoring: n_trees trees, each grown on sample_size rows (or all \
         rows when fewer) by splitting on a random feature at a uniform threshold between its \
         minimum and maximum until a point is alone or the depth reaches ceil(log2(sample \
         size)). Each tree's rows are the ones with the smallest seeded hash of their values, \
         so the model depends on the data and the seed, not on row order or partitioning. \
         Returns a model struct (n_trees, sample_size, features, rows, seed, \
         average_path_length and the trees in a dictionary-encoded binary 'forest' field) \
         that can be stored in a table and passed to isolation_forest_score. Rows with a NULL \
         feature are skipped; NULL (no model) with fewer than 2 rows; an error on an \
         infinite feature. scikit-learn's defaults are 100 trees of 256 rows.",
        "isolation_forest_fit(feature1 [, feature2 ...], n_trees, sample_size, seed)",
    )
    .with_sql_example(
        r#"```sql
> SELECT m['n_trees'] AS trees, m['sample_size'] AS sample_size, m['rows'] AS rows
  FROM (SELECT isolation_forest_fit(x, x % 7, 100, 256, 42) AS m FROM generate_series(1, 1000) AS t(x));
+-------+-------------+------+
| trees | sample_size | rows |
+-------+-------------+------+
| 100   | 256         | 1000 |
+-------+-------------+------+
```"#,
    )
    .with_argument(
        "feature1",
        "Numeric features, one argument each (scale does not matter: splits are per feature).",
    )
    .with_argument("n_trees", "Number of trees, 1 to 10000 (100 is scikit-learn's default).")
    .with_argument(
        "sample_size",
        "Rows per tree, 2 to 1000000 (256 is scikit-learn's default).",
    )
    .with_argument("seed", "Whole number fixing the sampling and the splits.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn accumulator(trees: usize, keep: usize) -> IsolationForestAccumulator {
        IsolationForestAccumulator {
            features: vec!["x".into(), "y".into()],
            width: 2,
            sample_size: keep,
            seed: 7,
            rows: 0,
            trees: (0..trees as u64)
                .map(|t| Sample {
                    key: mix(7 ^ mix(t)),
                    ..Sample::default()
                })
                .collect(),
        }
    }

    fn points(n: usize) -> (Float64Array, Float64Array) {
        let x = Float64Array::from_iter_values((0..n).map(|i| (i % 97) as f64));
        let y = Float64Array::from_iter_values((0..n).map(|i| ((i * 31) % 89) as f64 / 3.0));
        (x, y)
    }

    #[test]
    fn the_sample_does_not_depend_on_how_rows_arrive() {
        let (x, y) = points(5000);
        let mut whole = accumulator(5, 64);
        whole.append(&[&x, &y]).unwrap();
        // The same rows in two reversed halves, merged through the state.
        let reversed =
            |a: &Float64Array| Float64Array::from_iter_values(a.values().iter().rev().copied());
        let (rx, ry) = (reversed(&x), reversed(&y));
        let mut first = accumulator(5, 64);
        first
            .append(&[&rx.slice(0, 2500), &ry.slice(0, 2500)])
            .unwrap();
        let mut second = accumulator(5, 64);
        second
            .append(&[&rx.slice(2500, 2500), &ry.slice(2500, 2500)])
            .unwrap();
        let state: Vec<ArrayRef> = second
            .state()
            .unwrap()
            .iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        first.merge_batch(&state).unwrap();
        assert_eq!(whole.fit(), first.fit());
    }

    #[test]
    fn an_outlier_scores_higher_than_the_crowd() {
        let (mut x, mut y): (Vec<f64>, Vec<f64>) = (0..2000)
            .map(|i| ((i % 40) as f64, ((i * 7) % 50) as f64))
            .unzip();
        x.push(500.0);
        y.push(-300.0);
        let mut fit = accumulator(50, 256);
        fit.append(&[&Float64Array::from(x), &Float64Array::from(y)])
            .unwrap();
        let forest = fit.fit();
        let outlier = forest.score(&[500.0, -300.0]);
        let ordinary = forest.score(&[20.0, 25.0]);
        assert!(
            outlier > ordinary + 0.1 && ordinary < 0.55,
            "{outlier} vs {ordinary}"
        );
        // Every tree is at most ceil(log2 256) = 8 deep, so no walk is longer.
        assert!(forest.trees.iter().all(|t| t.len() < 512));
    }
}
