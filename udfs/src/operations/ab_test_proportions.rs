//! `ab_test_proportions(treated, converted [, confidence])`: two-proportion
//! z-test of a conversion rate between control and treatment.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::two_sample::{Arms, normal_critical, normal_two_sided_p};

pub fn result_fields() -> Fields {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    Fields::from(vec![
        Field::new("n_control", DataType::Int64, true),
        Field::new("n_treatment", DataType::Int64, true),
        float("rate_control"),
        float("rate_treatment"),
        float("effect"),
        float("relative_lift"),
        float("ci_low"),
        float("ci_high"),
        float("z"),
        float("p_value"),
    ])
}

/// The test as statsmodels computes it: the z statistic on the pooled
/// proportion (`proportions_ztest`), the confidence interval of the
/// difference on the unpooled Wald standard error
/// (`confint_proportions_2indep(method="wald")`), as most A/B tools report.
pub fn evaluate(arms: &Arms, confidence: f64) -> Vec<Option<f64>> {
    let (nc, nt) = (arms.control.n, arms.treatment.n);
    // Means of 0/1 values times counts are whole numbers up to rounding.
    let (xc, xt) = (
        (arms.control.mean * nc).round(),
        (arms.treatment.mean * nt).round(),
    );
    let rate = |x: f64, n: f64| (n > 0.0).then(|| x / n);
    let (pc, pt) = (rate(xc, nc), rate(xt, nt));
    let (mut effect, mut lift, mut low, mut high, mut z, mut p) =
        (None, None, None, None, None, None);
    if let (Some(pc), Some(pt)) = (pc, pt) {
        let diff = pt - pc;
        effect = Some(diff);
        lift = (pc > 0.0).then(|| diff / pc);
        let se = (pt * (1.0 - pt) / nt + pc * (1.0 - pc) / nc).sqrt();
        let critical = normal_critical(confidence);
        low = Some(diff - critical * se);
        high = Some(diff + critical * se);
        let pooled = (xc + xt) / (nc + nt);
        let pooled_se = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc)).sqrt();
        if pooled_se > 0.0 {
            let statistic = diff / pooled_se;
            z = Some(statistic);
            p = Some(normal_two_sided_p(statistic));
        }
    }
    vec![Some(nc), Some(nt), pc, pt, effect, lift, low, high, z, p]
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Two-proportion z-test of an A/B test or a campaign against its control group: returns \
         {n_control, n_treatment, rate_control, rate_treatment, effect, relative_lift, ci_low, \
         ci_high, z, p_value}. effect = rate_treatment - rate_control, relative_lift = effect / \
         rate_control; the confidence interval of the effect uses the unpooled (Wald) standard \
         error, z uses the pooled proportion, p_value is two-sided - the values of statsmodels' \
         proportions_ztest and confint_proportions_2indep(method='wald'). Rows with a NULL are \
         skipped. Rates are NULL for an empty arm, z and p_value when both arms convert all or \
         none. Errors on treated or converted other than 0/1.",
        "ab_test_proportions(treated, converted [, confidence])",
    )
    .with_sql_example(
        r#"```sql
> SELECT c.name, t.r['effect'] AS uplift, t.r['p_value'] AS p
  FROM (SELECT campaign_id, ab_test_proportions(group_name = 'treatment', responded) AS r
        FROM campaign_responses GROUP BY campaign_id) AS t
  JOIN campaigns c USING (campaign_id);
```"#,
    )
    .with_argument(
        "treated",
        "true (1) for the treatment arm, false (0) for control.",
    )
    .with_argument(
        "converted",
        "true (1) when the row converted (responded), else false (0).",
    )
    .with_argument(
        "confidence",
        "Confidence level of the interval, a constant in (0, 1); default 0.95.",
    )
    .build()
});
