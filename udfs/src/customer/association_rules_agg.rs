//! `association_rules_agg(basket, item, min_support, min_confidence)`:
//! association rules over baskets, as a list of rule structs.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::apriori::{Rule, mine, rule_fields};
use super::baskets::{BasketRows, IndexedBaskets};
use crate::kernel::{check_arity, coerce_numeric, constant_argument, single_row_list};

pub const NAME: &str = "association_rules_agg";
const ARGUMENTS: [&str; 4] = ["basket", "item", "min_support", "min_confidence"];

pub fn return_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(
        DataType::Struct(rule_fields()),
        true,
    )))
}

/// SQL `association_rules_agg`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AssociationRulesAggFunc {
    signature: Signature,
}

impl Default for AssociationRulesAggFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl AssociationRulesAggFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// A constant share: min_support in (0, 1], min_confidence in [0, 1].
fn share(args: &AccumulatorArgs, argument: &str, index: usize) -> Result<f64> {
    let value = match constant_argument(NAME, argument, args, index)? {
        ScalarValue::Float64(Some(v)) => v,
        other => return plan_err!("{NAME}: argument '{argument}' must be a number, got {other}"),
    };
    check_share(NAME, argument, value)
}

pub fn check_share(function: &str, argument: &str, value: f64) -> Result<f64> {
    let ok = match argument {
        "min_support" => value > 0.0 && value <= 1.0,
        _ => (0.0..=1.0).contains(&value),
    };
    if ok {
        Ok(value)
    } else {
        plan_err!(
            "{function}: argument '{argument}' must be a share of baskets in {}, got {value}",
            if argument == "min_support" {
                "(0, 1]"
            } else {
                "[0, 1]"
            }
        )
    }
}

impl AggregateUDFImpl for AssociationRulesAggFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        Ok(vec![
            DataType::Utf8,
            DataType::Utf8,
            coerce_numeric(NAME, ARGUMENTS[2], &arg_types[2])?,
            coerce_numeric(NAME, ARGUMENTS[3], &arg_types[3])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(BasketRows::state_fields(args.name))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(AssociationRulesAccumulator {
            rows: BasketRows::default(),
            min_support: share(&args, "min_support", 2)?,
            min_confidence: share(&args, "min_confidence", 3)?,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct AssociationRulesAccumulator {
    rows: BasketRows,
    min_support: f64,
    min_confidence: f64,
}

impl Accumulator for AssociationRulesAccumulator {
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
        let IndexedBaskets { baskets, names } = self.rows.index();
        let rules = mine(&baskets, &names, self.min_support, self.min_confidence);
        Ok(ScalarValue::List(Arc::new(single_row_list(rules_array(
            &rules,
        )?)?)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

fn string_lists(values: impl Iterator<Item = Vec<String>>) -> Result<ArrayRef> {
    let mut builder =
        datafusion::arrow::array::ListBuilder::new(datafusion::arrow::array::StringBuilder::new());
    for items in values {
        for item in items {
            builder.values().append_value(item);
        }
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

/// The rules as a struct array of [`rule_fields`].
pub fn rules_array(rules: &[Rule]) -> Result<StructArray> {
    let f = |get: fn(&Rule) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rules.iter().map(get)))
    };
    let columns: Vec<ArrayRef> = vec![
        string_lists(rules.iter().map(|r| r.antecedent.clone()))?,
        string_lists(rules.iter().map(|r| r.consequent.clone()))?,
        f(|r| r.antecedent_support),
        f(|r| r.consequent_support),
        f(|r| r.support),
        f(|r| r.confidence),
        f(|r| r.lift),
        f(|r| r.leverage),
        f(|r| r.conviction),
        Arc::new(Int64Array::from_iter_values(
            rules.iter().map(|r| r.baskets as i64),
        )),
    ];
    // The list fields are declared non-nullable; the builder's are nullable.
    let fields = rule_fields();
    let columns = columns
        .into_iter()
        .zip(fields.iter())
        .map(|(c, field)| datafusion::arrow::compute::cast(&c, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(StructArray::try_new(fields, columns, None)?)
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_GENERAL,
        "Mines association rules from (basket, item) rows by Apriori, as mlxtend's apriori + \
         association_rules: itemsets held by at least min_support of the baskets (up to 8 \
         items), and every rule antecedent -> consequent from them with confidence >= \
         min_confidence. Returns a list of structs {antecedent, consequent, antecedent_support, \
         consequent_support, support, confidence, lift, leverage, conviction, baskets}, sorted by \
         lift; unnest it for one row per rule, or use the association_rules table function. \
         A basket is a customer (products held) or a transaction (items bought); duplicates \
         within a basket count once; NULL baskets or items are skipped.",
        "association_rules_agg(basket, item, min_support, min_confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT r['antecedent'] AS antecedent, r['consequent'] AS consequent, r['lift'] AS lift
  FROM (SELECT unnest(association_rules_agg(basket, item, 0.6, 0.7)) AS r
        FROM (VALUES (1, 'bread'), (1, 'milk'), (2, 'bread'), (2, 'diapers'), (2, 'beer'),
                     (3, 'milk'), (3, 'diapers'), (3, 'beer'), (4, 'bread'), (4, 'milk'),
                     (4, 'diapers'), (4, 'beer'), (5, 'bread'), (5, 'milk'), (5, 'diapers'))
             AS t(basket, item))
  WHERE r['antecedent'] = ['diapers'];
+------------+------------+------+
| antecedent | consequent | lift |
+------------+------------+------+
| [diapers]  | [beer]     | 1.25 |
+------------+------------+------+
```"#,
    )
    .with_argument(
        "basket",
        "Basket id (customer, transaction); any type, compared as text.",
    )
    .with_argument("item", "Item or product in the basket.")
    .with_argument("min_support", "Constant share of baskets in (0, 1].")
    .with_argument("min_confidence", "Constant minimum confidence in [0, 1].")
    .build()
});
