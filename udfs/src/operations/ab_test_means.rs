//! `ab_test_means(treated, value [, confidence])`: Welch's t-test of a mean
//! (spend, balance, response value) between control and treatment.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::two_sample::{Arms, t_critical};

pub fn result_fields() -> Fields {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    Fields::from(vec![
        Field::new("n_control", DataType::Int64, true),
        Field::new("n_treatment", DataType::Int64, true),
        float("mean_control"),
        float("mean_treatment"),
        float("effect"),
        float("relative_lift"),
        float("ci_low"),
        float("ci_high"),
        float("t"),
        float("df"),
        float("p_value"),
    ])
}

/// Welch's unequal-variance t-test, as `scipy.stats.ttest_ind(treatment,
/// control, equal_var=False)` with its `confidence_interval`: standard error
/// sqrt(s_t²/n_t + s_c²/n_c), Welch-Satterthwaite degrees of freedom.
pub fn evaluate(arms: &Arms, confidence: f64) -> Vec<Option<f64>> {
    let (c, t) = (arms.control, arms.treatment);
    let mean = |n: f64, m: f64| (n > 0.0).then_some(m);
    let (mc, mt) = (mean(c.n, c.mean), mean(t.n, t.mean));
    let effect = mc.zip(mt).map(|(mc, mt)| mt - mc);
    let lift = effect
        .zip(mc)
        .and_then(|(e, mc)| (mc != 0.0).then(|| e / mc));
    let welch = c
        .sample_variance()
        .zip(t.sample_variance())
        .and_then(|(vc, vt)| {
            let (ec, et) = (vc / c.n, vt / t.n);
            let se2 = ec + et;
            (se2 > 0.0).then(|| {
                let df = se2 * se2 / (ec * ec / (c.n - 1.0) + et * et / (t.n - 1.0));
                (se2.sqrt(), df)
            })
        });
    let (mut low, mut high, mut statistic, mut dof, mut p) = (None, None, None, None, None);
    if let (Some(effect), Some((se, df))) = (effect, welch)
        && let Ok(dist) = StudentsT::new(0.0, 1.0, df)
    {
        let critical = t_critical(&dist, confidence);
        low = Some(effect - critical * se);
        high = Some(effect + critical * se);
        let tstat = effect / se;
        statistic = Some(tstat);
        dof = Some(df);
        p = Some((2.0 * dist.sf(tstat.abs())).min(1.0));
    }
    vec![
        Some(c.n),
        Some(t.n),
        mc,
        mt,
        effect,
        lift,
        low,
        high,
        statistic,
        dof,
        p,
    ]
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Welch's t-test of a mean between the control and treatment arms of an A/B test or \
         campaign (unequal variances): returns {n_control, n_treatment, mean_control, \
         mean_treatment, effect, relative_lift, ci_low, ci_high, t, df, p_value} with effect = \
         mean_treatment - mean_control, its confidence interval on Welch-Satterthwaite degrees \
         of freedom and the two-sided p-value - the values of scipy.stats.ttest_ind(treatment, \
         control, equal_var=False). Moments merge exactly across partitions. Rows with a NULL \
         are skipped; the test is NULL with fewer than two rows in an arm or no variance.",
        "ab_test_means(treated, value [, confidence])",
    )
    .with_sql_example(
        r#"```sql
> SELECT campaign_id, ab_test_means(group_name = 'treatment', coalesce(response_value, 0)) AS t
  FROM campaign_responses GROUP BY campaign_id;
```"#,
    )
    .with_argument(
        "treated",
        "true (1) for the treatment arm, false (0) for control.",
    )
    .with_argument("value", "The metric compared (finite numbers).")
    .with_argument(
        "confidence",
        "Confidence level of the interval, a constant in (0, 1); default 0.95.",
    )
    .build()
});
