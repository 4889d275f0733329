//! `ewma_volatility(returns, lambda) OVER (PARTITION BY ... ORDER BY ...)`:
//! RiskMetrics exponentially weighted volatility.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion::physical_expr::expressions::Literal;

use crate::kernel::coerce_numeric;

const NAME: &str = "ewma_volatility";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EwmaVolatilityFunc {
    signature: Signature,
}

impl Default for EwmaVolatilityFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl EwmaVolatilityFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for EwmaVolatilityFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [returns, lambda] => Ok(vec![
                coerce_numeric(NAME, "returns", returns)?,
                coerce_numeric(NAME, "lambda", lambda)?,
            ]),
            _ => plan_err!(
                "{NAME} expects 2 arguments (returns, lambda), got {}",
                arg_types.len()
            ),
        }
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let lambda = args
            .input_exprs()
            .get(1)
            .and_then(|e| e.downcast_ref::<Literal>())
            .map(|l| l.value().clone());
        let lambda = match lambda {
            Some(ScalarValue::Float64(Some(l))) if l > 0.0 && l < 1.0 => l,
            Some(other) => {
                return plan_err!(
                    "{NAME}: argument 'lambda' must be a decay factor strictly between 0 and 1, such as 0.94, got {other}"
                );
            }
            None => return plan_err!("{NAME}: argument 'lambda' must be a constant, such as 0.94"),
        };
        Ok(Box::new(EwmaEvaluator { lambda }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Float64,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct EwmaEvaluator {
    lambda: f64,
}

/// sqrt of s_t = lambda s_(t-1) + (1 - lambda) r_t², s_0 = r_0²; a NULL
/// return leaves s unchanged (NULL before the first return).
pub fn ewma_volatility(returns: &Float64Array, lambda: f64) -> Float64Array {
    let mut variance: Option<f64> = None;
    Float64Array::from_iter((0..returns.len()).map(|i| {
        if returns.is_valid(i) {
            let r2 = returns.value(i) * returns.value(i);
            variance = Some(match variance {
                Some(s) => lambda * s + (1.0 - lambda) * r2,
                None => r2,
            });
        }
        variance.map(f64::sqrt)
    }))
}

impl PartitionEvaluator for EwmaEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(returns) = values.first() else {
            return datafusion::common::internal_err!("{NAME}: no input");
        };
        Ok(Arc::new(ewma_volatility(
            returns.as_primitive::<Float64Type>(),
            self.lambda,
        )))
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Exponentially weighted moving volatility (RiskMetrics) of returns, in the window's \
         ORDER BY: the square root of s_t = lambda * s_(t-1) + (1 - lambda) * r_t^2, started at \
         s_0 = r_0^2, so each value includes that day's return (pandas' \
         (r**2).ewm(alpha=1 - lambda, adjust=False).mean() ** 0.5). RiskMetrics uses lambda = 0.94 \
         for daily data. A NULL return repeats the previous estimate. The result is per period; \
         multiply by sqrt(252) for an annual figure.",
        "ewma_volatility(returns, lambda) OVER (PARTITION BY ... ORDER BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT symbol, day, ewma_volatility(ret, 0.94) OVER (PARTITION BY symbol ORDER BY day) AS vol
  FROM daily_returns;
```"#,
    )
    .with_argument("returns", "Return per period.")
    .with_argument(
        "lambda",
        "Constant decay factor in (0, 1), 0.94 for daily RiskMetrics.",
    )
    .build()
});
