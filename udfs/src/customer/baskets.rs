//! (basket, item) rows collected by the recommendation aggregates
//! (`association_rules_agg`, `item_similarity_agg`): partial states are two
//! string lists, merged across partitions, and turned into item ids per
//! basket once, at the end.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_list_array, as_string_array};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::utils::format_state_name;

#[derive(Debug, Default)]
pub struct BasketRows {
    baskets: Vec<String>,
    items: Vec<String>,
}

/// Baskets as sorted, de-duplicated item ids, and the item names by id.
#[derive(Debug, Default)]
pub struct IndexedBaskets {
    pub baskets: Vec<Vec<u32>>,
    pub names: Vec<String>,
}

impl BasketRows {
    pub fn state_fields(name: &str) -> Vec<FieldRef> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        vec![
            Arc::new(Field::new(
                format_state_name(name, "baskets"),
                list.clone(),
                true,
            )),
            Arc::new(Field::new(format_state_name(name, "items"), list, true)),
        ]
    }

    /// Appends the rows of (basket, item) string arrays; a NULL in either
    /// skips the row.
    pub fn update(&mut self, function: &str, values: &[ArrayRef]) -> Result<()> {
        let (Some(baskets), Some(items)) = (values.first(), values.get(1)) else {
            return internal_err!("{function} expects (basket, item) arrays");
        };
        let (baskets, items) = (as_string_array(baskets)?, as_string_array(items)?);
        for i in 0..baskets.len() {
            if baskets.is_valid(i) && items.is_valid(i) {
                self.baskets.push(baskets.value(i).to_string());
                self.items.push(items.value(i).to_string());
            }
        }
        Ok(())
    }

    pub fn state(&self) -> Vec<ScalarValue> {
        let baskets: ArrayRef = Arc::new(StringArray::from(self.baskets.clone()));
        let items: ArrayRef = Arc::new(StringArray::from(self.items.clone()));
        vec![
            SingleRowListArrayBuilder::new(baskets).build_list_scalar(),
            SingleRowListArrayBuilder::new(items).build_list_scalar(),
        ]
    }

    pub fn merge(&mut self, function: &str, states: &[ArrayRef]) -> Result<()> {
        let [baskets, items] = states else {
            return internal_err!("{function} expects 2 state arrays");
        };
        let (baskets, items) = (as_list_array(baskets)?, as_list_array(items)?);
        for i in 0..baskets.len() {
            if baskets.is_null(i) || items.is_null(i) {
                continue;
            }
            let (b, it) = (baskets.value(i), items.value(i));
            let (b, it) = (as_string_array(&b)?, as_string_array(&it)?);
            self.baskets
                .extend(b.iter().map(|v| v.unwrap_or_default().to_string()));
            self.items
                .extend(it.iter().map(|v| v.unwrap_or_default().to_string()));
        }
        Ok(())
    }

    /// Item ids in order of first appearance; every basket sorted and with
    /// duplicates removed (holding a product twice is holding it).
    pub fn index(&self) -> IndexedBaskets {
        let mut item_ids: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut basket_ids: HashMap<&str, usize> = HashMap::new();
        let mut baskets: Vec<Vec<u32>> = Vec::new();
        for (basket, item) in self.baskets.iter().zip(&self.items) {
            let next_item = item_ids.len() as u32;
            let item_id = *item_ids.entry(item.as_str()).or_insert_with(|| {
                names.push(item.clone());
                next_item
            });
            let next_basket = basket_ids.len();
            let basket_id = *basket_ids.entry(basket.as_str()).or_insert(next_basket);
            if basket_id == baskets.len() {
                baskets.push(Vec::new());
            }
            baskets[basket_id].push(item_id);
        }
        for basket in &mut baskets {
            basket.sort_unstable();
            basket.dedup();
        }
        IndexedBaskets { baskets, names }
    }

    pub fn size(&self) -> usize {
        self.baskets
            .iter()
            .chain(&self.items)
            .map(|s| s.capacity() + size_of::<String>())
            .sum()
    }
}
