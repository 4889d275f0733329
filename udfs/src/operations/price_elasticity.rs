//! `price_elasticity(quantity, price)`: constant price elasticity of demand
//! from the log-log regression ln q = a + e ln p.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::kernel::coerce_all_numeric;

const NAME: &str = "price_elasticity";
const ARGUMENTS: [&str; 2] = ["quantity", "price"];
const STATE: [&str; 6] = ["n", "mean_x", "mean_y", "sxx", "syy", "sxy"];

pub fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("elasticity", DataType::Float64, true),
        Field::new("std_error", DataType::Float64, true),
        Field::new("t", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, true),
        Field::new("intercept", DataType::Float64, true),
        Field::new("r_squared", DataType::Float64, true),
        Field::new("n", DataType::Int64, true),
    ])
}

/// Count, means and co-moments of (x, y) = (ln price, ln quantity).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CoMoments {
    pub n: f64,
    pub mean_x: f64,
    pub mean_y: f64,
    pub sxx: f64,
    pub syy: f64,
    pub sxy: f64,
}

impl CoMoments {
    /// Two passes over one batch.
    pub fn of(x: &[f64], y: &[f64]) -> CoMoments {
        if x.is_empty() {
            return CoMoments::default();
        }
        let n = x.len() as f64;
        let mean_x = x.iter().sum::<f64>() / n;
        let mean_y = y.iter().sum::<f64>() / n;
        let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(y) {
            let (dx, dy) = (a - mean_x, b - mean_y);
            sxx += dx * dx;
            syy += dy * dy;
            sxy += dx * dy;
        }
        CoMoments {
            n,
            mean_x,
            mean_y,
            sxx,
            syy,
            sxy,
        }
    }

    /// Combines disjoint samples (Chan et al.'s pairwise update).
    pub fn merge(&mut self, o: &CoMoments) {
        if o.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let (dx, dy) = (o.mean_x - self.mean_x, o.mean_y - self.mean_y);
        let w = self.n * o.n / n;
        self.sxx += o.sxx + dx * dx * w;
        self.syy += o.syy + dy * dy * w;
        self.sxy += o.sxy + dx * dy * w;
        self.mean_x += dx * o.n / n;
        self.mean_y += dy * o.n / n;
        self.n = n;
    }
}

/// The OLS fit of y on x as statsmodels reports it: slope, its standard
/// error sqrt(RSS / (n - 2) / Sxx), t, two-sided p on n - 2 degrees of
/// freedom, intercept and R². None where undefined (fewer than 3 rows, one
/// price only).
pub fn fit(m: &CoMoments) -> [Option<f64>; 6] {
    if m.n < 2.0 || m.sxx <= 0.0 {
        return [None; 6];
    }
    let slope = m.sxy / m.sxx;
    let intercept = m.mean_y - slope * m.mean_x;
    let r_squared = (m.syy > 0.0).then(|| m.sxy * m.sxy / (m.sxx * m.syy));
    if m.n < 3.0 {
        return [Some(slope), None, None, None, Some(intercept), r_squared];
    }
    let rss = (m.syy - m.sxy * m.sxy / m.sxx).max(0.0);
    let se = (rss / (m.n - 2.0) / m.sxx).sqrt();
    let (t, p) = if se > 0.0 {
        let t = slope / se;
        let p = StudentsT::new(0.0, 1.0, m.n - 2.0)
            .ok()
            .map(|d| (2.0 * d.sf(t.abs())).min(1.0));
        (Some(t), p)
    } else {
        (None, None)
    };
    [Some(slope), Some(se), t, p, Some(intercept), r_squared]
}

/// SQL `price_elasticity`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PriceElasticityFunc {
    signature: Signature,
}

impl Default for PriceElasticityFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PriceElasticityFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for PriceElasticityFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_all_numeric(NAME, &ARGUMENTS, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE
            .iter()
            .map(|s| {
                Arc::new(Field::new(
                    format_state_name(args.name, s),
                    DataType::Float64,
                    true,
                ))
            })
            .collect())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ElasticityAccumulator::default()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug, Default)]
struct ElasticityAccumulator {
    moments: CoMoments,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Accumulator for ElasticityAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (Some(quantity), Some(price)) = (values.first(), values.get(1)) else {
            return internal_err!("{NAME} expects quantity and price arrays");
        };
        let (quantity, price) = (
            quantity.as_primitive::<Float64Type>(),
            price.as_primitive::<Float64Type>(),
        );
        self.x.clear();
        self.y.clear();
        for i in 0..quantity.len() {
            if quantity.is_null(i) || price.is_null(i) {
                continue;
            }
            let (q, p) = (quantity.value(i), price.value(i));
            // ln 0 is -inf: dropping zero-sales rows silently would bias the
            // elasticity, so the caller decides.
            if !(q > 0.0 && q.is_finite()) {
                return exec_err!(
                    "{NAME}: argument 'quantity' must be positive and finite for the log-log regression, got {q} (filter out zero-sales rows)"
                );
            }
            if !(p > 0.0 && p.is_finite()) {
                return exec_err!(
                    "{NAME}: argument 'price' must be positive and finite for the log-log regression, got {p}"
                );
            }
            self.x.push(p.ln());
            self.y.push(q.ln());
        }
        self.moments.merge(&CoMoments::of(&self.x, &self.y));
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let m = self.moments;
        Ok([m.n, m.mean_x, m.mean_y, m.sxx, m.syy, m.sxy]
            .into_iter()
            .map(|v| ScalarValue::Float64(Some(v)))
            .collect())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != STATE.len() {
            return internal_err!("{NAME}: expected {} state columns", STATE.len());
        }
        let c: Vec<&Float64Array> = states
            .iter()
            .map(|s| s.as_primitive::<Float64Type>())
            .collect();
        for row in 0..c[0].len() {
            if c.iter().any(|a| a.is_null(row)) {
                continue;
            }
            self.moments.merge(&CoMoments {
                n: c[0].value(row),
                mean_x: c[1].value(row),
                mean_y: c[2].value(row),
                sxx: c[3].value(row),
                syy: c[4].value(row),
                sxy: c[5].value(row),
            });
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fitted = fit(&self.moments);
        let mut columns: Vec<ArrayRef> = fitted
            .iter()
            .map(|v| Arc::new(Float64Array::from(vec![*v])) as ArrayRef)
            .collect();
        columns.push(Arc::new(Int64Array::from(vec![self.moments.n as i64])));
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            result_fields(),
            columns,
            None,
        )?)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + (self.x.capacity() + self.y.capacity()) * 8
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Constant price elasticity of demand from the log-log regression ln(quantity) = \
         intercept + elasticity * ln(price) by ordinary least squares: returns {elasticity, \
         std_error, t, p_value, intercept, r_squared, n}, the slope's classical standard error, \
         t statistic and two-sided p-value on n - 2 degrees of freedom - the values of \
         statsmodels OLS(log q, add_constant(log p)). An elasticity of -1.8 means a 1% price \
         rise loses 1.8% of volume; under constant elasticity e < -1 and unit cost c the \
         profit-maximising price is c * e / (1 + e). Rows with a NULL are skipped; zero or \
         negative quantities and prices are an error (filter them first). NULL with one \
         distinct price; std_error and p_value need three rows.",
        "price_elasticity(quantity, price)",
    )
    .with_sql_example(
        r#"```sql
> SELECT product, e['elasticity'] AS elasticity, e['std_error'] AS se,
         unit_cost * e['elasticity'] / (1 + e['elasticity']) AS optimal_price
  FROM (SELECT product, price_elasticity(units, price) AS e, avg(unit_cost) AS unit_cost
        FROM weekly_sales GROUP BY product);
```"#,
    )
    .with_argument("quantity", "Quantity sold (positive).")
    .with_argument("price", "Price charged (positive).")
    .build()
});
