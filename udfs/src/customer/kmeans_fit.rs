//! `kmeans_fit(k, feature1 [, feature2 ...], seed)`: k-means clustering with
//! k-means++ initialisation.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Float64Builder, Int64Array, ListBuilder, StringArray,
};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::kmeans::{MODEL_NAME, model_fields, nearest};
use crate::collect::CollectedRows;
use crate::kernel::{coerce_numeric, constant_argument, feature_name};
use crate::model::{model_type, model_value};

/// Independent k-means++ starts; the run with the lowest inertia wins
/// (scikit-learn's n_init).
pub const N_INIT: u64 = 10;
/// Lloyd iterations per start (scikit-learn's max_iter).
const MAX_ITERATIONS: u64 = 300;
/// Convergence when the centroids move less than this fraction of the mean
/// feature variance (scikit-learn's tol).
const TOLERANCE: f64 = 1e-4;
const MAX_K: i64 = 1000;

/// SQL `kmeans_fit`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KmeansFitFunc {
    signature: Signature,
}

impl Default for KmeansFitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl KmeansFitFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn constant_integer(args: &AccumulatorArgs, argument: &str, index: usize) -> Result<i64> {
    match constant_argument(MODEL_NAME, argument, args, index)? {
        ScalarValue::Float64(Some(v)) if v.fract() == 0.0 => Ok(v as i64),
        other => {
            plan_err!("{MODEL_NAME}: argument '{argument}' must be a whole number, got {other}")
        }
    }
}

impl AggregateUDFImpl for KmeansFitFunc {
    fn name(&self) -> &str {
        MODEL_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 3 {
            return plan_err!(
                "{MODEL_NAME} expects (k, feature1 [, feature2 ...], seed), got {} arguments",
                arg_types.len()
            );
        }
        let last = arg_types.len() - 1;
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let name = match i {
                    0 => "k".to_string(),
                    i if i == last => "seed".to_string(),
                    i => format!("feature{i}"),
                };
                coerce_numeric(MODEL_NAME, &name, t)
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type(&model_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let names: Vec<String> = (1..args.input_fields.len() - 1)
            .map(|i| format!("feature{i}"))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(CollectedRows::state_fields(args.name, &names))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let last = args.exprs.len() - 1;
        let k = constant_integer(&args, "k", 0)?;
        if !(1..=MAX_K).contains(&k) {
            return plan_err!("{MODEL_NAME}: argument 'k' must be between 1 and {MAX_K}, got {k}");
        }
        let seed = constant_integer(&args, "seed", last)?;
        let features = args.exprs[1..last]
            .iter()
            .map(|e| feature_name(e))
            .collect();
        Ok(Box::new(KmeansAccumulator {
            rows: CollectedRows::new(last - 1),
            k: k as usize,
            seed,
            features,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct KmeansAccumulator {
    rows: CollectedRows,
    k: usize,
    seed: i64,
    features: Vec<String>,
}

impl Accumulator for KmeansAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let width = self.rows.columns.len();
        self.rows.append(MODEL_NAME, &values[1..=width], |_| Ok(()))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.rows.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(MODEL_NAME, states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = model_fields();
        if self.rows.len() < self.k {
            // Fewer points than clusters: there is no k-means solution.
            return ScalarValue::try_from(&model_type(&fields));
        }
        let points = to_points(&self.rows.columns);
        let fit = fit(&points, self.k, self.seed as u64);
        let mut centroids = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
        for c in &fit.centroids {
            centroids.values().values().append_slice(c);
            centroids.values().append(true);
        }
        centroids.append(true);
        let list = |values: ArrayRef| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(values).build_list_array())
        };
        let sizes: Vec<i64> = fit.sizes.iter().map(|s| *s as i64).collect();
        model_value(
            &fields,
            vec![
                Arc::new(Int64Array::from(vec![self.k as i64])),
                Arc::new(centroids.finish()),
                list(Arc::new(StringArray::from(self.features.clone()))),
                list(Arc::new(Int64Array::from(sizes))),
                Arc::new(Float64Array::from(vec![fit.inertia])),
                Arc::new(Int64Array::from(vec![points.len() as i64])),
                Arc::new(Int64Array::from(vec![fit.iterations as i64])),
                Arc::new(BooleanArray::from(vec![fit.converged])),
                Arc::new(Int64Array::from(vec![self.seed])),
            ],
        )
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

fn to_points(columns: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = columns.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

/// A k-means solution.
#[derive(Debug, Clone, PartialEq)]
pub struct KmeansFit {
    pub centroids: Vec<Vec<f64>>,
    pub sizes: Vec<usize>,
    pub inertia: f64,
    pub iterations: u64,
    pub converged: bool,
}

/// Best of [`N_INIT`] runs of Lloyd's algorithm from k-means++ starts, each
/// run seeded from `seed`, so the same data and seed give the same model.
pub fn fit(points: &[Vec<f64>], k: usize, seed: u64) -> KmeansFit {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dims = points.first().map_or(0, Vec::len);
    let n = points.len() as f64;
    let mean_variance = (0..dims)
        .map(|d| {
            let mean = points.iter().map(|p| p[d]).sum::<f64>() / n;
            points.iter().map(|p| (p[d] - mean).powi(2)).sum::<f64>() / n
        })
        .sum::<f64>()
        / dims.max(1) as f64;
    let tolerance = TOLERANCE * mean_variance;
    let mut best: Option<KmeansFit> = None;
    for _ in 0..N_INIT {
        let start = kmeans_plus_plus(points, k, &mut rng);
        let run = lloyd(points, start, tolerance);
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    best.unwrap_or(KmeansFit {
        centroids: Vec::new(),
        sizes: Vec::new(),
        inertia: f64::NAN,
        iterations: 0,
        converged: false,
    })
}

/// k-means++ (Arthur and Vassilvitskii 2007): each next centre drawn with
/// probability proportional to the squared distance to the nearest centre
/// so far, with scikit-learn's greedy refinement of 2 + ln k candidates per
/// step (keep the candidate that lowers the potential most).
fn kmeans_plus_plus(points: &[Vec<f64>], k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let trials = 2 + (k as f64).ln() as usize;
    let mut centres = vec![points[rng.random_range(0..points.len())].clone()];
    let mut closest: Vec<f64> = points
        .iter()
        .map(|p| super::kmeans::distance2(p, &centres[0]))
        .collect();
    while centres.len() < k {
        let potential: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if potential > 0.0 {
                let target = rng.random::<f64>() * potential;
                let mut cumulative = 0.0;
                let mut chosen = points.len() - 1;
                for (i, d) in closest.iter().enumerate() {
                    cumulative += d;
                    if cumulative > target {
                        chosen = i;
                        break;
                    }
                }
                chosen
            } else {
                rng.random_range(0..points.len())
            };
            let distances: Vec<f64> = points
                .iter()
                .zip(&closest)
                .map(|(p, c)| c.min(super::kmeans::distance2(p, &points[candidate])))
                .collect();
            let total: f64 = distances.iter().sum();
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, candidate, distances));
            }
        }
        if let Some((_, chosen, distances)) = best {
            centres.push(points[chosen].clone());
            closest = distances;
        }
    }
    centres
}

fn lloyd(points: &[Vec<f64>], mut centroids: Vec<Vec<f64>>, tolerance: f64) -> KmeansFit {
    let k = centroids.len();
    let dims = centroids.first().map_or(0, Vec::len);
    let mut labels = vec![0usize; points.len()];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        for (label, p) in labels.iter_mut().zip(points) {
            *label = nearest(p, &centroids).0;
        }
        let mut sums = vec![vec![0.0; dims]; k];
        let mut counts = vec![0usize; k];
        for (label, p) in labels.iter().zip(points) {
            counts[*label] += 1;
            for (s, v) in sums[*label].iter_mut().zip(p) {
                *s += v;
            }
        }
        let mut moved = 0.0;
        for j in 0..k {
            let next: Vec<f64> = if counts[j] > 0 {
                sums[j].iter().map(|s| s / counts[j] as f64).collect()
            } else {
                // An empty cluster restarts at the point farthest from its centroid.
                let far = points
                    .iter()
                    .zip(&labels)
                    .map(|(p, l)| super::kmeans::distance2(p, &centroids[*l]))
                    .enumerate()
                    .fold((0, -1.0), |b, (i, d)| if d > b.1 { (i, d) } else { b })
                    .0;
                points[far].clone()
            };
            moved += super::kmeans::distance2(&next, &centroids[j]);
            centroids[j] = next;
        }
        if moved <= tolerance {
            converged = true;
            break;
        }
    }
    // Final assignment against the final centroids, as scikit-learn reports.
    let mut sizes = vec![0usize; k];
    let mut inertia = 0.0;
    for p in points {
        let (j, d) = nearest(p, &centroids);
        sizes[j] += 1;
        inertia += d;
    }
    KmeansFit {
        centroids,
        sizes,
        inertia,
        iterations,
        converged,
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Clusters rows into k groups by k-means on the given numeric features: k-means++ \
         starts (with scikit-learn's greedy 2 + ln k candidates), Lloyd iterations until the \
         centroids move less than 1e-4 of the mean feature variance (at most 300), best of 10 \
         starts by inertia, all seeded from seed so a fit is reproducible. Returns a struct {k, \
         centroids, features, cluster_sizes, inertia (sum of squared distances to the nearest \
         centroid), rows, iterations, converged, seed} for kmeans_assign. Features are used as \
         given: standardise them first ((x - avg(x) OVER ()) / stddev(x) OVER ()) when their \
         scales differ. Rows with a NULL are skipped; fewer rows than k give a NULL model.",
        "kmeans_fit(k, feature1 [, feature2 ...], seed)",
    )
    .with_sql_example(
        r#"```sql
> SELECT m.k, m.cluster_sizes
  FROM (SELECT kmeans_fit(2, x, y, 42) AS m
        FROM (VALUES (0.0, 0.0), (0.0, 1.0), (10.0, 10.0), (10.0, 11.0), (11.0, 10.0)) AS t(x, y));
+-----+---------------+
| k   | cluster_sizes |
+-----+---------------+
| 2   | [2, 3]        |
+-----+---------------+
```"#,
    )
    .with_argument("k", "Constant number of clusters, 1 to 1000.")
    .with_argument("feature1", "Numeric features; as many as needed.")
    .with_argument("seed", "Constant integer seed for the k-means++ draws.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_well_separated_blobs_and_is_reproducible() {
        let mut points = Vec::new();
        for i in 0..50 {
            let jitter = (i % 7) as f64 * 0.01;
            points.push(vec![jitter, jitter]);
            points.push(vec![10.0 + jitter, 10.0 - jitter]);
            points.push(vec![-10.0 - jitter, 10.0 + jitter]);
        }
        let fit1 = fit(&points, 3, 7);
        assert!(fit1.converged);
        let mut sizes = fit1.sizes.clone();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![50, 50, 50]);
        assert_eq!(fit1, fit(&points, 3, 7));
    }
}
