//! The isolation-forest model shared by `isolation_forest_fit` and
//! `isolation_forest_score` (Liu, Ting and Zhou, 2008, as scikit-learn's
//! `IsolationForest`).
//!
//! The model is a struct like the other fitted models, but its trees are one
//! binary field, dictionary-encoded: a forest of 100 trees is a few hundred
//! kilobytes, and a model joined to every transaction (`CROSS JOIN` a model
//! table, or a scalar subquery, which DataFusion plans as a join) is
//! repeated per row. Repeating a dictionary copies a key per row and shares
//! the bytes; a struct of lists would copy the whole forest per row. The
//! dictionary keeps its type through Parquet.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, DictionaryArray, GenericBinaryArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type};
use datafusion::common::{Result, exec_err, plan_err};

pub const MODEL_NAME: &str = "isolation_forest_fit";
/// Leads the encoded forest, so that other bytes are refused, not misread.
const MAGIC: &[u8; 8] = b"FSIFOR01";
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

pub fn forest_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Binary))
}

pub fn model_fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("n_trees", DataType::Int64),
        ("sample_size", DataType::Int64),
        (
            "features",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        ),
        ("rows", DataType::Int64),
        ("seed", DataType::Int64),
        ("average_path_length", DataType::Float64),
        ("forest", forest_type()),
    ]
}

/// The average path length of an unsuccessful search in a binary search
/// tree of n points, c(n): what a leaf holding n points adds to the depth
/// (scikit-learn's `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        n => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// One node: a split (rows with x[feature] <= threshold go left) or a leaf
/// whose `value` is its depth plus c(points in it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// The feature a split tests, or `LEAF`.
    pub feature: u32,
    pub value: f64,
    pub left: u32,
    pub right: u32,
}

pub const LEAF: u32 = u32::MAX;

/// Trees of nodes, the root of each first.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    pub features: usize,
    pub trees: Vec<Vec<Node>>,
    /// c(sample size), the normaliser of the mean path length.
    pub normaliser: f64,
}

impl Forest {
    /// Bytes: magic, features, normaliser, trees, then per tree its node
    /// count and nodes (feature, value, left, right), little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let nodes: usize = self.trees.iter().map(Vec::len).sum();
        let mut out = Vec::with_capacity(32 + 4 * self.trees.len() + 20 * nodes);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.features as u32).to_le_bytes());
        out.extend_from_slice(&self.normaliser.to_le_bytes());
        out.extend_from_slice(&(self.trees.len() as u32).to_le_bytes());
        for tree in &self.trees {
            out.extend_from_slice(&(tree.len() as u32).to_le_bytes());
            for node in tree {
                out.extend_from_slice(&node.feature.to_le_bytes());
                out.extend_from_slice(&node.value.to_le_bytes());
                out.extend_from_slice(&node.left.to_le_bytes());
                out.extend_from_slice(&node.right.to_le_bytes());
            }
        }
        out
    }

    /// The inverse of [`Forest::encode`]; every index is checked, so bytes
    /// from elsewhere give an error, never a wrong walk or a panic.
    pub fn decode(function: &str, bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader { bytes, at: 0 };
        let bad = || {
            exec_err!(
                "{function}: argument 'model' is not an isolation forest from {MODEL_NAME} (its \
                 'forest' field is damaged or from another program)"
            )
        };
        if reader.take(8) != Some(&MAGIC[..]) {
            return bad();
        }
        let (Some(features), Some(normaliser), Some(count)) =
            (reader.u32(), reader.f64(), reader.u32())
        else {
            return bad();
        };
        let mut trees = Vec::with_capacity((count as usize).min(100_000));
        for _ in 0..count {
            let Some(nodes) = reader.u32() else {
                return bad();
            };
            if nodes == 0 || nodes as usize > bytes.len() / 20 {
                return bad();
            }
            let mut tree = Vec::with_capacity(nodes as usize);
            for _ in 0..nodes {
                let (Some(feature), Some(value), Some(left), Some(right)) =
                    (reader.u32(), reader.f64(), reader.u32(), reader.u32())
                else {
                    return bad();
                };
                let split_ok = left < nodes && right < nodes && feature < features;
                if feature != LEAF && !split_ok {
                    return bad();
                }
                tree.push(Node {
                    feature,
                    value,
                    left,
                    right,
                });
            }
            // Children come after their parent, so every walk ends.
            let ordered = tree
                .iter()
                .enumerate()
                .all(|(i, n)| n.feature == LEAF || (n.left as usize > i && n.right as usize > i));
            if !ordered {
                return bad();
            }
            trees.push(tree);
        }
        if reader.at != bytes.len() || trees.is_empty() || normaliser.is_nan() || normaliser <= 0.0
        {
            return bad();
        }
        Ok(Self {
            features: features as usize,
            trees,
            normaliser,
        })
    }

    /// The anomaly score 2^(-E[h(x)] / c(sample size)) of one point: near 1
    /// for points isolated in few splits, below 0.5 for ordinary ones. The
    /// negative of scikit-learn's `score_samples`.
    pub fn score(&self, point: &[f64]) -> f64 {
        let mut total = 0.0;
        for tree in &self.trees {
            let mut node = &tree[0];
            while node.feature != LEAF {
                let next = if point[node.feature as usize] <= node.value {
                    node.left
                } else {
                    node.right
                };
                node = &tree[next as usize];
            }
            total += node.value;
        }
        let mean = total / self.trees.len() as f64;
        (-mean / self.normaliser).exp2()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Plan-time check of a model argument.
pub fn check_model(function: &str, data_type: &DataType) -> Result<DataType> {
    if data_type.is_null() {
        return Ok(crate::model::model_type(&model_fields()));
    }
    let ok = matches!(data_type, DataType::Struct(fields)
        if fields.find("forest").is_some_and(|(_, f)| is_forest_type(f.data_type())));
    if ok {
        Ok(data_type.clone())
    } else {
        plan_err!(
            "{function}: argument 'model' must be the struct {MODEL_NAME} returns (with a binary \
             'forest' field), got {data_type}"
        )
    }
}

fn is_forest_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => true,
        DataType::Dictionary(_, value) => is_forest_type(value),
        _ => false,
    }
}

/// The forest of each row of a model column, decoded once per distinct
/// encoded forest (one, for a model repeated by a join), and the index of
/// each row's forest (None where the model is NULL).
pub fn forests_of(function: &str, model: &ArrayRef) -> Result<(Vec<Forest>, Vec<Option<usize>>)> {
    let Some(model) = model.as_any().downcast_ref::<StructArray>() else {
        return exec_err!("{function}: expected a model struct");
    };
    let Some(forest) = model.column_by_name("forest") else {
        return exec_err!("{function}: the model has no 'forest' field");
    };
    let valid = |i: usize| model.is_valid(i) && forest.is_valid(i);
    if let DataType::Dictionary(key, _) = forest.data_type()
        && key.as_ref() == &DataType::Int32
    {
        let dictionary: &DictionaryArray<Int32Type> = forest.as_dictionary();
        let values = binary_values(function, dictionary.values())?;
        let mut decoded: Vec<Option<usize>> = vec![None; values.len()];
        let mut forests = Vec::new();
        let mut rows = Vec::with_capacity(model.len());
        for (i, key) in dictionary.keys().values().iter().enumerate() {
            if !valid(i) {
                rows.push(None);
                continue;
            }
            let key = *key as usize;
            let index = match decoded.get(key) {
                Some(Some(index)) => *index,
                Some(None) => {
                    forests.push(Forest::decode(function, values.value(key))?);
                    decoded[key] = Some(forests.len() - 1);
                    forests.len() - 1
                }
                None => return exec_err!("{function}: the model's forest key is out of range"),
            };
            rows.push(Some(index));
        }
        return Ok((forests, rows));
    }
    // A plain binary column (a model rebuilt by hand or decoded elsewhere):
    // consecutive rows holding the same bytes share one decoded forest.
    let plain = datafusion::arrow::compute::cast(forest, &DataType::Binary)?;
    let values = binary_values(function, &plain)?;
    let mut forests: Vec<Forest> = Vec::new();
    let mut rows = Vec::with_capacity(model.len());
    let mut last: Option<(usize, usize)> = None;
    for i in 0..model.len() {
        if !valid(i) {
            rows.push(None);
            continue;
        }
        let index = match last {
            Some((row, index)) if values.value(row) == values.value(i) => index,
            _ => {
                forests.push(Forest::decode(function, values.value(i))?);
                forests.len() - 1
            }
        };
        last = Some((i, index));
        rows.push(Some(index));
    }
    Ok((forests, rows))
}

fn binary_values<'a>(function: &str, values: &'a ArrayRef) -> Result<&'a BinaryArray> {
    match values.as_any().downcast_ref::<GenericBinaryArray<i32>>() {
        Some(values) => Ok(values),
        None => exec_err!(
            "{function}: the model's 'forest' must be binary, got {}",
            values.data_type()
        ),
    }
}

/// The forest as the model's dictionary-encoded field.
pub fn forest_array(forest: &Forest) -> Result<ArrayRef> {
    let values = BinaryArray::from_vec(vec![forest.encode().as_slice()]);
    let keys = datafusion::arrow::array::Int32Array::from(vec![0]);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys,
        Arc::new(values),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Forest {
        Forest {
            features: 2,
            normaliser: average_path_length(4),
            trees: vec![vec![
                Node {
                    feature: 1,
                    value: 0.5,
                    left: 1,
                    right: 2,
                },
                Node {
                    feature: LEAF,
                    value: 1.0 + average_path_length(3),
                    left: 0,
                    right: 0,
                },
                Node {
                    feature: LEAF,
                    value: 1.0,
                    left: 0,
                    right: 0,
                },
            ]],
        }
    }

    #[test]
    fn the_encoding_round_trips_and_refuses_damage() {
        let forest = small();
        let bytes = forest.encode();
        assert_eq!(Forest::decode("f", &bytes).unwrap(), forest);
        for cut in 0..bytes.len() {
            assert!(Forest::decode("f", &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut cycle = bytes.clone();
        // The root's left child pointing back at the root would never end.
        let left = 8 + 4 + 8 + 4 + 4 + 4 + 8;
        cycle[left..left + 4].copy_from_slice(&0u32.to_le_bytes());
        assert!(Forest::decode("f", &cycle).is_err());
    }

    #[test]
    fn scores_follow_the_paths() {
        let forest = small();
        // An isolated point (depth 1) against one among three (1 + c(3)).
        let c4 = average_path_length(4);
        assert!((forest.score(&[0.0, 0.9]) - (-1.0 / c4).exp2()).abs() < 1e-15);
        let deep = 1.0 + average_path_length(3);
        assert!((forest.score(&[0.0, 0.1]) - (-deep / c4).exp2()).abs() < 1e-15);
    }

    #[test]
    fn average_path_length_is_scikit_learns() {
        // sklearn.ensemble._iforest._average_path_length(np.array([256])) printed
        // 10.244770920119917 (scikit-learn 1.5.2).
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
        assert_eq!(average_path_length(2), 1.0);
    }
}
