//! `item_similarity_agg(basket, item, min_common)`: item-item similarity
//! from co-occurrence in baskets ("clients holding X also hold Y").

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::baskets::{BasketRows, IndexedBaskets};
use crate::kernel::{check_arity, constant_argument, single_row_list};

pub const NAME: &str = "item_similarity_agg";
const ARGUMENTS: [&str; 3] = ["basket", "item", "min_common"];

/// Items up to which co-occurrences are counted in a dense matrix (16 MB);
/// beyond, in a hash map of the pairs that occur.
const DENSE_ITEMS: usize = 2048;

pub fn similarity_fields() -> Fields {
    Fields::from(vec![
        Field::new("item", DataType::Utf8, false),
        Field::new("similar_item", DataType::Utf8, false),
        Field::new("common_baskets", DataType::Int64, false),
        Field::new("item_baskets", DataType::Int64, false),
        Field::new("similar_item_baskets", DataType::Int64, false),
        Field::new("cosine", DataType::Float64, false),
        Field::new("jaccard", DataType::Float64, false),
        Field::new("confidence", DataType::Float64, false),
        Field::new("lift", DataType::Float64, false),
    ])
}

fn return_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(
        DataType::Struct(similarity_fields()),
        true,
    )))
}

/// SQL `item_similarity_agg`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ItemSimilarityAggFunc {
    signature: Signature,
}

impl Default for ItemSimilarityAggFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ItemSimilarityAggFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

pub fn check_min_common(function: &str, value: i64) -> Result<u64> {
    if value >= 1 {
        Ok(value as u64)
    } else {
        plan_err!("{function}: argument 'min_common' must be a number of baskets >= 1, got {value}")
    }
}

impl AggregateUDFImpl for ItemSimilarityAggFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        if !(arg_types[2].is_integer() || arg_types[2].is_null()) {
            return plan_err!(
                "{NAME}: argument 'min_common' must be an integer (a number of baskets), got {}",
                arg_types[2]
            );
        }
        Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(BasketRows::state_fields(args.name))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let min_common = match constant_argument(NAME, "min_common", &args, 2)? {
            ScalarValue::Int64(Some(v)) => check_min_common(NAME, v)?,
            other => {
                return plan_err!(
                    "{NAME}: argument 'min_common' must be a number of baskets >= 1, got {other}"
                );
            }
        };
        Ok(Box::new(ItemSimilarityAccumulator {
            rows: BasketRows::default(),
            min_common,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct ItemSimilarityAccumulator {
    rows: BasketRows,
    min_common: u64,
}

impl Accumulator for ItemSimilarityAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows.update(NAME, values)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.rows.state())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(NAME, states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let pairs = similar_items(&self.rows.index(), self.min_common);
        Ok(ScalarValue::List(Arc::new(single_row_list(
            similarity_array(&pairs)?,
        )?)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

/// One ordered pair of items that share baskets.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarItem {
    pub item: String,
    pub similar_item: String,
    pub common_baskets: u64,
    pub item_baskets: u64,
    pub similar_item_baskets: u64,
    pub cosine: f64,
    pub jaccard: f64,
    pub confidence: f64,
    pub lift: f64,
}

/// Every ordered pair (X, Y), X ≠ Y, held together in at least `min_common`
/// baskets, with n_X, n_Y the baskets holding each, n_XY both, N all:
/// cosine n_XY / √(n_X n_Y) (of the binary basket vectors), Jaccard
/// n_XY / (n_X + n_Y - n_XY), confidence n_XY / n_X (the share of X's holders
/// who hold Y) and lift N n_XY / (n_X n_Y). Sorted by item, then cosine
/// (highest first), then similar item.
pub fn similar_items(indexed: &IndexedBaskets, min_common: u64) -> Vec<SimilarItem> {
    let IndexedBaskets { baskets, names } = indexed;
    let m = names.len();
    let total = baskets.len() as f64;
    let mut holders = vec![0u64; m];
    for basket in baskets {
        for &i in basket {
            holders[i as usize] += 1;
        }
    }
    // Co-occurrence counts of unordered pairs i < j (baskets are sorted).
    let mut common: Vec<(u32, u32, u64)> = Vec::new();
    if m <= DENSE_ITEMS {
        let mut counts = vec![0u64; m * m];
        for basket in baskets {
            for (k, &i) in basket.iter().enumerate() {
                for &j in &basket[k + 1..] {
                    counts[i as usize * m + j as usize] += 1;
                }
            }
        }
        for i in 0..m {
            for j in i + 1..m {
                let n = counts[i * m + j];
                if n > 0 {
                    common.push((i as u32, j as u32, n));
                }
            }
        }
    } else {
        let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
        for basket in baskets {
            for (k, &i) in basket.iter().enumerate() {
                for &j in &basket[k + 1..] {
                    *counts.entry((i, j)).or_default() += 1;
                }
            }
        }
        common.extend(counts.into_iter().map(|((i, j), n)| (i, j, n)));
    }
    let mut pairs = Vec::new();
    for (i, j, n) in common {
        if n < min_common {
            continue;
        }
        for (x, y) in [(i, j), (j, i)] {
            let (n_x, n_y) = (holders[x as usize], holders[y as usize]);
            let (nf, n_xf, n_yf) = (n as f64, n_x as f64, n_y as f64);
            pairs.push(SimilarItem {
                item: names[x as usize].clone(),
                similar_item: names[y as usize].clone(),
                common_baskets: n,
                item_baskets: n_x,
                similar_item_baskets: n_y,
                cosine: nf / (n_xf * n_yf).sqrt(),
                jaccard: nf / (n_xf + n_yf - nf),
                confidence: nf / n_xf,
                lift: total * nf / (n_xf * n_yf),
            });
        }
    }
    pairs.sort_by(|p, q| {
        p.item
            .cmp(&q.item)
            .then(q.cosine.total_cmp(&p.cosine))
            .then_with(|| p.similar_item.cmp(&q.similar_item))
    });
    pairs
}

fn similarity_array(pairs: &[SimilarItem]) -> Result<StructArray> {
    let text = |get: fn(&SimilarItem) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(pairs.iter().map(get)))
    };
    let count = |get: fn(&SimilarItem) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            pairs.iter().map(|p| get(p) as i64),
        ))
    };
    let real = |get: fn(&SimilarItem) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(pairs.iter().map(get)))
    };
    Ok(StructArray::try_new(
        similarity_fields(),
        vec![
            text(|p| &p.item),
            text(|p| &p.similar_item),
            count(|p| p.common_baskets),
            count(|p| p.item_baskets),
            count(|p| p.similar_item_baskets),
            real(|p| p.cosine),
            real(|p| p.jaccard),
            real(|p| p.confidence),
            real(|p| p.lift),
        ],
        None,
    )?)
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_GENERAL,
        "Item-item similarity from (basket, item) rows: for every ordered pair of items X, Y held \
         together in at least min_common baskets, a struct {item, similar_item, common_baskets, \
         item_baskets, similar_item_baskets, cosine, jaccard, confidence, lift}. With n_X, n_Y \
         the baskets holding each item, n_XY both and N all baskets: cosine = n_XY / sqrt(n_X \
         n_Y) (cosine of the binary basket vectors, as scikit-learn's cosine_similarity on the \
         basket-by-item matrix), jaccard = n_XY / (n_X + n_Y - n_XY), confidence = n_XY / n_X \
         (the share of X's holders who also hold Y) and lift = N n_XY / (n_X n_Y). Sorted by item, \
         then cosine descending. Duplicates within a basket count once; NULL baskets or items \
         are skipped. Unnest it, or use the item_similarity table function.",
        "item_similarity_agg(basket, item, min_common)",
    )
    .with_sql_example(
        r#"```sql
> SELECT s['similar_item'] AS also_held, round(s['cosine'], 4) AS cosine
  FROM (SELECT unnest(item_similarity_agg(basket, item, 1)) AS s
        FROM (VALUES (1, 'fund'), (1, 'card'), (2, 'fund'), (2, 'card'), (3, 'fund'),
                     (3, 'loan')) AS t(basket, item))
  WHERE s['item'] = 'fund';
+-----------+--------+
| also_held | cosine |
+-----------+--------+
| card      | 0.8165 |
| loan      | 0.5774 |
+-----------+--------+
```"#,
    )
    .with_argument(
        "basket",
        "Basket id (customer, transaction); any type, compared as text.",
    )
    .with_argument("item", "Item or product in the basket.")
    .with_argument(
        "min_common",
        "Constant integer >= 1: the fewest baskets a pair must share to be reported.",
    )
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(baskets: &[&[&str]]) -> IndexedBaskets {
        let mut rows = IndexedBaskets::default();
        for basket in baskets {
            let mut ids: Vec<u32> = basket
                .iter()
                .map(|item| match rows.names.iter().position(|n| n == item) {
                    Some(i) => i as u32,
                    None => {
                        rows.names.push((*item).to_string());
                        (rows.names.len() - 1) as u32
                    }
                })
                .collect();
            ids.sort_unstable();
            rows.baskets.push(ids);
        }
        rows
    }

    #[test]
    fn counts_pairs_both_ways_and_sorts_by_cosine() {
        // fund in 3 baskets, card in 2 (both with fund), loan in 1.
        let rows = indexed(&[&["fund", "card"], &["card", "fund"], &["fund", "loan"]]);
        let pairs = similar_items(&rows, 1);
        let fund: Vec<(&str, u64)> = pairs
            .iter()
            .filter(|p| p.item == "fund")
            .map(|p| (p.similar_item.as_str(), p.common_baskets))
            .collect();
        assert_eq!(fund, [("card", 2), ("loan", 1)]);
        assert_eq!(pairs.len(), 4);
        let card_fund = &pairs[0];
        assert_eq!(
            (card_fund.item.as_str(), card_fund.similar_item.as_str()),
            ("card", "fund")
        );
        assert!((card_fund.cosine - 2.0 / 6f64.sqrt()).abs() < 1e-15);
        assert!((card_fund.jaccard - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(card_fund.confidence, 1.0);
        assert!((card_fund.lift - 1.0).abs() < 1e-15);
        assert_eq!(similar_items(&rows, 2).len(), 2);
        assert!(similar_items(&IndexedBaskets::default(), 1).is_empty());
    }

    #[test]
    fn dense_and_sparse_counting_agree() {
        // More items than the dense limit forces the hash-map path.
        let names: Vec<String> = (0..DENSE_ITEMS + 10).map(|i| format!("i{i}")).collect();
        let baskets: Vec<Vec<u32>> = (0..50u32)
            .map(|b| {
                let mut v = vec![b % 7, 3 + b % 5, (DENSE_ITEMS as u32) + b % 3];
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        let sparse = similar_items(
            &IndexedBaskets {
                baskets: baskets.clone(),
                names: names.clone(),
            },
            1,
        );
        // The same baskets with the items renumbered into a small catalogue.
        let mut used: Vec<u32> = baskets.iter().flatten().copied().collect();
        used.sort_unstable();
        used.dedup();
        let small = IndexedBaskets {
            baskets: baskets
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|i| used.binary_search(i).unwrap_or(0) as u32)
                        .collect()
                })
                .collect(),
            names: used.iter().map(|i| names[*i as usize].clone()).collect(),
        };
        assert_eq!(similar_items(&small, 1), sparse);
    }
}
