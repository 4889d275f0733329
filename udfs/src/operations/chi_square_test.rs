//! `chi_square_test(row_category, column_category)`: Pearson's chi-square
//! test of independence of two categorical columns.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::fairness::as_text;
use crate::kernel::check_arity;

const NAME: &str = "chi_square_test";
const ARGUMENTS: [&str; 2] = ["row_category", "column_category"];

pub fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("rows", DataType::Int64, true),
        Field::new("columns", DataType::Int64, true),
        Field::new("chi_square", DataType::Float64, true),
        Field::new("dof", DataType::Int64, true),
        Field::new("p_value", DataType::Float64, true),
        Field::new("cramers_v", DataType::Float64, true),
    ])
}

/// SQL `chi_square_test`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChiSquareTestFunc {
    signature: Signature,
}

impl Default for ChiSquareTestFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ChiSquareTestFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for ChiSquareTestFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        // Categories of any type, compared by their text form.
        Ok(arg_types
            .iter()
            .map(|t| match t {
                DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => DataType::Utf8,
                other => other.clone(),
            })
            .collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, item: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::new_list(item, true),
                true,
            ))
        };
        Ok(vec![
            list("row_categories", DataType::Utf8),
            list("column_categories", DataType::Utf8),
            list("counts", DataType::Int64),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ContingencyAccumulator::default()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// Counts per (row category, column category).
#[derive(Debug, Default)]
struct ContingencyAccumulator {
    cells: HashMap<(String, String), i64>,
}

fn text_column(array: &ArrayRef) -> Result<StringArray> {
    match array.as_string_opt::<i32>() {
        Some(s) => Ok(s.clone()),
        None => as_text(array),
    }
}

impl Accumulator for ContingencyAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (Some(a), Some(b)) = (values.first(), values.get(1)) else {
            return internal_err!("{NAME} expects two arrays");
        };
        let (a, b) = (text_column(a)?, text_column(b)?);
        let mut batch: HashMap<(&str, &str), i64> = HashMap::new();
        for (x, y) in a.iter().zip(b.iter()) {
            if let (Some(x), Some(y)) = (x, y) {
                *batch.entry((x, y)).or_default() += 1;
            }
        }
        for ((x, y), n) in batch {
            *self
                .cells
                .entry((x.to_string(), y.to_string()))
                .or_default() += n;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let rows: ArrayRef = Arc::new(StringArray::from_iter_values(
            self.cells.keys().map(|(r, _)| r.as_str()),
        ));
        let columns: ArrayRef = Arc::new(StringArray::from_iter_values(
            self.cells.keys().map(|(_, c)| c.as_str()),
        ));
        let counts: ArrayRef = Arc::new(Int64Array::from_iter_values(self.cells.values().copied()));
        Ok([rows, columns, counts]
            .into_iter()
            .map(|a| SingleRowListArrayBuilder::new(a).build_list_scalar())
            .collect())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [rows, columns, counts] = states else {
            return internal_err!("{NAME}: expected 3 state columns, got {}", states.len());
        };
        let (rows, columns, counts) = (
            rows.as_list::<i32>(),
            columns.as_list::<i32>(),
            counts.as_list::<i32>(),
        );
        for i in 0..rows.len() {
            if rows.is_null(i) || columns.is_null(i) || counts.is_null(i) {
                continue;
            }
            let (r, c, n) = (rows.value(i), columns.value(i), counts.value(i));
            let (r, c, n) = (
                r.as_string::<i32>(),
                c.as_string::<i32>(),
                n.as_primitive::<Int64Type>(),
            );
            for k in 0..n.len() {
                *self
                    .cells
                    .entry((r.value(k).to_string(), c.value(k).to_string()))
                    .or_default() += n.value(k);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let test = chi_square(&self.cells);
        let int = |v: Option<i64>| -> ArrayRef { Arc::new(Int64Array::from(vec![v])) };
        let float = |v: Option<f64>| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        let columns = vec![
            int(Some(test.n)),
            int(Some(test.rows)),
            int(Some(test.columns)),
            float(test.chi_square),
            int(test.dof),
            float(test.p_value),
            float(test.cramers_v),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            result_fields(),
            columns,
            None,
        )?)))
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .cells
                .keys()
                .map(|(r, c)| r.capacity() + c.capacity() + 64)
                .sum::<usize>()
    }
}

/// The test's result; the statistics are None when the table has a single
/// row or column category (no degrees of freedom).
#[derive(Debug, PartialEq)]
pub struct ChiSquare {
    pub n: i64,
    pub rows: i64,
    pub columns: i64,
    pub chi_square: Option<f64>,
    pub dof: Option<i64>,
    pub p_value: Option<f64>,
    pub cramers_v: Option<f64>,
}

/// Pearson's statistic sum (O - E)² / E with E = row total x column total /
/// n, over every cell of the full table (absent pairs are observed zeros),
/// without Yates' correction: scipy.stats.chi2_contingency(correction=False).
pub fn chi_square(cells: &HashMap<(String, String), i64>) -> ChiSquare {
    let row_names: BTreeSet<&str> = cells.keys().map(|(r, _)| r.as_str()).collect();
    let column_names: BTreeSet<&str> = cells.keys().map(|(_, c)| c.as_str()).collect();
    let mut row_totals: HashMap<&str, f64> = HashMap::new();
    let mut column_totals: HashMap<&str, f64> = HashMap::new();
    let mut n = 0i64;
    for ((r, c), count) in cells {
        *row_totals.entry(r).or_default() += *count as f64;
        *column_totals.entry(c).or_default() += *count as f64;
        n += count;
    }
    let (r, k) = (row_names.len() as i64, column_names.len() as i64);
    let mut result = ChiSquare {
        n,
        rows: r,
        columns: k,
        chi_square: None,
        dof: None,
        p_value: None,
        cramers_v: None,
    };
    if r < 2 || k < 2 {
        return result;
    }
    let total = n as f64;
    let mut statistic = 0.0;
    for row in &row_names {
        for column in &column_names {
            let observed = cells
                .get(&((*row).to_string(), (*column).to_string()))
                .copied()
                .unwrap_or(0) as f64;
            let expected = row_totals[row] * column_totals[column] / total;
            statistic += (observed - expected) * (observed - expected) / expected;
        }
    }
    let dof = (r - 1) * (k - 1);
    result.chi_square = Some(statistic);
    result.dof = Some(dof);
    result.p_value = ChiSquared::new(dof as f64).ok().map(|d| d.sf(statistic));
    result.cramers_v = Some((statistic / (total * (r.min(k) - 1) as f64)).sqrt());
    result
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Pearson's chi-square test of independence of two categorical columns (is the response \
         rate independent of the channel? is churn independent of the region?): returns {n, \
         rows, columns, chi_square, dof, p_value, cramers_v} over the full contingency table \
         (category pairs never seen count as zeros), without Yates' continuity correction - \
         scipy.stats.chi2_contingency(table, correction=False) and Cramer's V of \
         scipy.stats.contingency.association. Categories of any type are compared by their text \
         form; rows with a NULL are skipped. The statistics are NULL when either column has a \
         single category.",
        "chi_square_test(row_category, column_category)",
    )
    .with_sql_example(
        r#"```sql
> SELECT chi_square_test(c.segment, r.responded) AS t
  FROM campaign_responses r JOIN customers c USING (customer_id)
  WHERE r.group_name = 'treatment';
```"#,
    )
    .with_argument("row_category", "First categorical column (any type).")
    .with_argument("column_category", "Second categorical column (any type).")
    .build()
});
