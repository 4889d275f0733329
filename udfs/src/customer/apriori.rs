//! Apriori frequent itemsets and association rules, shared by the
//! `association_rules_agg` aggregate and the `association_rules` table
//! function. Metrics follow mlxtend's `association_rules`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields};

/// Longest itemset mined: beyond this the candidate count explodes, and a
/// rule with more than 7 antecedents is not something a product team acts on.
pub const MAX_ITEMSET_SIZE: usize = 8;

/// One rule antecedent → consequent with its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub antecedent: Vec<String>,
    pub consequent: Vec<String>,
    pub antecedent_support: f64,
    pub consequent_support: f64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub leverage: f64,
    pub conviction: f64,
    pub baskets: u64,
}

pub fn rule_fields() -> Fields {
    let list = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    Fields::from(vec![
        Field::new("antecedent", list.clone(), false),
        Field::new("consequent", list, false),
        Field::new("antecedent_support", DataType::Float64, false),
        Field::new("consequent_support", DataType::Float64, false),
        Field::new("support", DataType::Float64, false),
        Field::new("confidence", DataType::Float64, false),
        Field::new("lift", DataType::Float64, false),
        Field::new("leverage", DataType::Float64, false),
        Field::new("conviction", DataType::Float64, false),
        Field::new("baskets", DataType::Int64, false),
    ])
}

/// Mines rules from baskets (item ids per basket, any order, duplicates
/// allowed). Itemsets with support >= `min_support` (a share of baskets),
/// rules with confidence >= `min_confidence`, every split of every frequent
/// itemset of size >= 2 into non-empty antecedent and consequent.
pub fn mine(
    baskets: &[Vec<u32>],
    names: &[String],
    min_support: f64,
    min_confidence: f64,
) -> Vec<Rule> {
    let n = baskets.len() as f64;
    if baskets.is_empty() {
        return Vec::new();
    }
    let baskets: Vec<Vec<u32>> = baskets
        .iter()
        .map(|b| {
            let mut b = b.clone();
            b.sort_unstable();
            b.dedup();
            b
        })
        .collect();
    let min_count = (min_support * n - 1e-9).ceil().max(1.0) as u64;
    let mut support: HashMap<Vec<u32>, u64> = HashMap::new();
    // Level 1.
    let mut counts: HashMap<u32, u64> = HashMap::new();
    for b in &baskets {
        for item in b {
            *counts.entry(*item).or_default() += 1;
        }
    }
    let mut level: Vec<Vec<u32>> = counts
        .into_iter()
        .filter(|(_, c)| *c >= min_count)
        .map(|(item, c)| {
            support.insert(vec![item], c);
            vec![item]
        })
        .collect();
    level.sort_unstable();
    let mut size = 1;
    while !level.is_empty() && size < MAX_ITEMSET_SIZE {
        // Join itemsets sharing all but the last item; prune candidates with
        // an infrequent subset (the Apriori property).
        let mut candidates: Vec<Vec<u32>> = Vec::new();
        for i in 0..level.len() {
            for j in i + 1..level.len() {
                let (a, b) = (&level[i], &level[j]);
                if a[..size - 1] != b[..size - 1] {
                    break;
                }
                let mut candidate = a.clone();
                candidate.push(b[size - 1]);
                let all_subsets_frequent = (0..candidate.len()).all(|skip| {
                    let subset: Vec<u32> = candidate
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| *k != skip)
                        .map(|(_, v)| *v)
                        .collect();
                    support.contains_key(&subset)
                });
                if all_subsets_frequent {
                    candidates.push(candidate);
                }
            }
        }
        let mut candidate_counts = vec![0u64; candidates.len()];
        for b in &baskets {
            if b.len() <= size {
                continue;
            }
            for (count, candidate) in candidate_counts.iter_mut().zip(&candidates) {
                if candidate.iter().all(|item| b.binary_search(item).is_ok()) {
                    *count += 1;
                }
            }
        }
        level = candidates
            .into_iter()
            .zip(candidate_counts)
            .filter(|(_, c)| *c >= min_count)
            .map(|(itemset, c)| {
                support.insert(itemset.clone(), c);
                itemset
            })
            .collect();
        level.sort_unstable();
        size += 1;
    }
    let mut rules = Vec::new();
    let label = |ids: &[u32]| -> Vec<String> {
        let mut v: Vec<String> = ids.iter().map(|i| names[*i as usize].clone()).collect();
        v.sort();
        v
    };
    let mut itemsets: Vec<(&Vec<u32>, &u64)> =
        support.iter().filter(|(s, _)| s.len() >= 2).collect();
    itemsets.sort();
    for (itemset, &count) in itemsets {
        let k = itemset.len();
        // Every non-empty proper subset as the antecedent (bit masks).
        for mask in 1..(1u32 << k) - 1 {
            let (antecedent, consequent): (Vec<u32>, Vec<u32>) = {
                let mut a = Vec::new();
                let mut c = Vec::new();
                for (bit, item) in itemset.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        a.push(*item)
                    } else {
                        c.push(*item)
                    }
                }
                (a, c)
            };
            let (Some(&a_count), Some(&c_count)) =
                (support.get(&antecedent), support.get(&consequent))
            else {
                continue;
            };
            let s = count as f64 / n;
            let sa = a_count as f64 / n;
            let sc = c_count as f64 / n;
            let confidence = count as f64 / a_count as f64;
            if confidence + 1e-12 < min_confidence {
                continue;
            }
            rules.push(Rule {
                antecedent: label(&antecedent),
                consequent: label(&consequent),
                antecedent_support: sa,
                consequent_support: sc,
                support: s,
                confidence,
                lift: confidence / sc,
                leverage: s - sa * sc,
                conviction: if confidence >= 1.0 {
                    f64::INFINITY
                } else {
                    (1.0 - sc) / (1.0 - confidence)
                },
                baskets: count,
            });
        }
    }
    rules.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.antecedent.cmp(&b.antecedent))
            .then(a.consequent.cmp(&b.consequent))
    });
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example() {
        // Five baskets over {bread, milk, diapers, beer}: {diapers} -> {beer}
        // has support 3/5, confidence 3/4 and lift (3/4)/(3/5) = 1.25.
        let names: Vec<String> = ["bread", "milk", "diapers", "beer"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let baskets = vec![
            vec![0, 1],
            vec![0, 2, 3],
            vec![1, 2, 3],
            vec![0, 1, 2, 3],
            vec![0, 1, 2],
        ];
        let rules = mine(&baskets, &names, 0.6, 0.7);
        let rule = rules
            .iter()
            .find(|r| r.antecedent == ["diapers"] && r.consequent == ["beer"])
            .expect("diapers -> beer");
        assert_eq!((rule.support, rule.confidence), (0.6, 0.75));
        assert!((rule.lift - 1.25).abs() < 1e-12);
    }
}
