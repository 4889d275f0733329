//! `var_backtest(pnl, var_forecast, time, confidence)`: how a VaR model's
//! forecasts fared against the P&L that followed (Kupiec's unconditional
//! coverage, Christoffersen's independence and conditional coverage, the
//! Basel zone).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::basel_traffic_light::traffic_light;
use super::series::Series;

pub fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("observations", DataType::Int64, true),
        Field::new("exceedances", DataType::Int64, true),
        Field::new("expected_exceedances", DataType::Float64, true),
        Field::new("exceedance_rate", DataType::Float64, true),
        Field::new("kupiec_lr", DataType::Float64, true),
        Field::new("kupiec_p_value", DataType::Float64, true),
        Field::new("christoffersen_lr", DataType::Float64, true),
        Field::new("christoffersen_p_value", DataType::Float64, true),
        Field::new("conditional_coverage_lr", DataType::Float64, true),
        Field::new("conditional_coverage_p_value", DataType::Float64, true),
        Field::new("traffic_light", DataType::Utf8, true),
    ])
}

/// One backtest's figures; the independence test needs two days or more.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    pub observations: u64,
    pub exceedances: u64,
    pub kupiec_lr: f64,
    pub christoffersen_lr: Option<f64>,
}

/// x ln y, with 0 ln 0 = 0 as the likelihoods need.
fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x * y.ln() }
}

/// Backtests interleaved (pnl, var_forecast) rows in the order of `times`
/// (ties broken by the values, so the result does not depend on how the
/// rows arrived). A day is an exceedance when its loss is larger than the
/// forecast: pnl < -var_forecast.
pub fn backtest(pairs: &[f64], times: &[i64], confidence: f64) -> Option<Backtest> {
    let n = times.len();
    if n == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| {
        times[a]
            .cmp(&times[b])
            .then(pairs[2 * a].total_cmp(&pairs[2 * b]))
            .then(pairs[2 * a + 1].total_cmp(&pairs[2 * b + 1]))
    });
    let hits: Vec<bool> = order
        .iter()
        .map(|&i| pairs[2 * i] < -pairs[2 * i + 1])
        .collect();
    let x = hits.iter().filter(|&&h| h).count();
    let (nf, xf, p) = (n as f64, x as f64, 1.0 - confidence);
    // Kupiec (1995): the likelihood ratio of the observed rate x/n against p.
    let null = xlogy(nf - xf, 1.0 - p) + xlogy(xf, p);
    let fitted = xlogy(nf - xf, 1.0 - xf / nf) + xlogy(xf, xf / nf);
    let kupiec_lr = (-2.0 * (null - fitted)).max(0.0);
    // Christoffersen (1998): a first-order Markov chain of exceedances
    // against independence, from the transition counts n_ij (i today, j
    // tomorrow).
    let christoffersen_lr = (n >= 2).then(|| {
        let mut count = [[0.0f64; 2]; 2];
        for w in hits.windows(2) {
            count[usize::from(w[0])][usize::from(w[1])] += 1.0;
        }
        let [[n00, n01], [n10, n11]] = count;
        let pi0 = n01 / (n00 + n01);
        let pi1 = n11 / (n10 + n11);
        let pi = (n01 + n11) / (n00 + n01 + n10 + n11);
        let independent = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi);
        let markov =
            xlogy(n00, 1.0 - pi0) + xlogy(n01, pi0) + xlogy(n10, 1.0 - pi1) + xlogy(n11, pi1);
        (-2.0 * (independent - markov)).max(0.0)
    });
    Some(Backtest {
        observations: n as u64,
        exceedances: x as u64,
        kupiec_lr,
        christoffersen_lr,
    })
}

fn chi_square_sf(statistic: f64, dof: f64) -> Option<f64> {
    ChiSquared::new(dof).ok().map(|d| d.sf(statistic))
}

/// The struct column for each group's rows.
pub fn results(groups: Vec<Series>, confidence: f64) -> Result<ArrayRef> {
    let tests: Vec<Option<Backtest>> = groups
        .iter()
        .map(|g| backtest(&g.values, &g.times, confidence))
        .collect();
    let int = |f: fn(&Backtest) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            tests.iter().map(|t| t.as_ref().map(|t| f(t) as i64)),
        ))
    };
    let float = |f: &dyn Fn(&Backtest) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            tests.iter().map(|t| t.as_ref().and_then(f)),
        ))
    };
    let p = 1.0 - confidence;
    let conditional = |t: &Backtest| t.christoffersen_lr.map(|c| c + t.kupiec_lr);
    let columns = vec![
        int(|t| t.observations),
        int(|t| t.exceedances),
        float(&|t| Some(t.observations as f64 * p)),
        float(&|t| Some(t.exceedances as f64 / t.observations as f64)),
        float(&|t| Some(t.kupiec_lr)),
        float(&|t| chi_square_sf(t.kupiec_lr, 1.0)),
        float(&|t| t.christoffersen_lr),
        float(&|t| t.christoffersen_lr.and_then(|c| chi_square_sf(c, 1.0))),
        float(&|t| conditional(t)),
        float(&|t| conditional(t).and_then(|c| chi_square_sf(c, 2.0))),
        Arc::new(StringArray::from_iter(tests.iter().map(|t| {
            t.as_ref()
                .and_then(|t| traffic_light(t.exceedances, t.observations, confidence))
        }))) as ArrayRef,
    ];
    let nulls = NullBuffer::from_iter(tests.iter().map(Option::is_some));
    Ok(Arc::new(StructArray::try_new(
        result_fields(),
        columns,
        Some(nulls),
    )?))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Backtest of a VaR model: each row is one day's P&L and the VaR forecast made for that \
         day (a positive loss, as var_historical returns it); a day is an exceedance when \
         pnl < -var_forecast. Returns a struct: observations, exceedances, expected_exceedances \
         (observations x (1 - confidence)), exceedance_rate; kupiec_lr and kupiec_p_value, \
         Kupiec's (1995) proportion-of-failures likelihood ratio against 1 - confidence \
         (chi-square, 1 degree of freedom); christoffersen_lr and christoffersen_p_value, \
         Christoffersen's (1998) test that an exceedance today does not make one tomorrow more \
         likely (first-order Markov chain against independence, 1 degree of freedom, NULL with \
         fewer than 2 days); conditional_coverage_lr and conditional_coverage_p_value, their \
         sum (2 degrees of freedom); and traffic_light, the Basel zone of the count \
         (basel_traffic_light). `time` orders the days, so no ORDER BY is needed. Rows with a \
         NULL are skipped; NULL when there are none. Errors on an infinite value or a \
         confidence outside (0, 1).",
        "var_backtest(pnl, var_forecast, time, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT b['exceedances'] AS x, round(b['kupiec_p_value'], 4) AS p, b['traffic_light'] AS zone
  FROM (SELECT var_backtest(pnl, var, day, 0.99) AS b
        FROM (SELECT d AS day, CASE WHEN d % 50 = 0 THEN -3.0 ELSE 1.0 END AS pnl, 2.0 AS var
              FROM generate_series(1, 250) AS t(d)));
+---+--------+--------+
| x | p      | zone   |
+---+--------+--------+
| 5 | 0.1619 | yellow |
+---+--------+--------+
```"#,
    )
    .with_argument(
        "pnl",
        "The day's profit and loss (losses negative), in the VaR's units.",
    )
    .with_argument(
        "var_forecast",
        "The VaR forecast for that day, made before it, as a positive loss.",
    )
    .with_argument(
        "time",
        "Date, timestamp or whole number giving the order of the days.",
    )
    .with_argument("confidence", "The VaR's confidence level, such as 0.99.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(hits: &[bool]) -> (Vec<f64>, Vec<i64>) {
        let values = hits
            .iter()
            .flat_map(|&h| [if h { -3.0 } else { 1.0 }, 2.0])
            .collect();
        (values, (0..hits.len() as i64).collect())
    }

    #[test]
    fn no_exceedance_gives_the_kupiec_statistic_of_a_zero_count() {
        let (values, times) = pairs(&[false; 250]);
        let t = backtest(&values, &times, 0.99).unwrap();
        assert_eq!(t.exceedances, 0);
        // -2 ln(0.99^250), by hand.
        assert!((t.kupiec_lr - 500.0 * -(0.99f64.ln())).abs() < 1e-12);
        assert_eq!(t.christoffersen_lr, Some(0.0));
    }

    #[test]
    fn clustered_exceedances_are_less_independent_than_spread_ones() {
        let mut clustered = vec![false; 250];
        let mut spread = vec![false; 250];
        for k in 0..5 {
            clustered[100 + k] = true;
            spread[k * 50] = true;
        }
        let (cv, ct) = pairs(&clustered);
        let (sv, st) = pairs(&spread);
        let c = backtest(&cv, &ct, 0.99).unwrap();
        let s = backtest(&sv, &st, 0.99).unwrap();
        assert_eq!(c.kupiec_lr, s.kupiec_lr);
        assert!(c.christoffersen_lr.unwrap() > 10.0 * s.christoffersen_lr.unwrap().max(0.1));
    }

    #[test]
    fn the_order_comes_from_time_not_arrival() {
        let (values, times) = pairs(&[true, true, false, false, false, false]);
        let reversed_values: Vec<f64> = values.chunks(2).rev().flat_map(|p| p.to_vec()).collect();
        let reversed_times: Vec<i64> = times.iter().rev().copied().collect();
        assert_eq!(
            backtest(&values, &times, 0.95),
            backtest(&reversed_values, &reversed_times, 0.95)
        );
    }
}
