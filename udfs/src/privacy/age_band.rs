//! `age_band(age, width [, top])`: generalizes an age into a band label
//! (`30-39`), top-coded (`80+`) so that rare old ages do not single people
//! out.

use std::fmt::Write;
use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_OTHER;

/// Appends the band of `age`; false (NULL) for a negative or non-finite age.
pub fn age_band(age: f64, width: i64, top: Option<i64>, out: &mut String) -> bool {
    if !age.is_finite() || age < 0.0 {
        return false;
    }
    let age = age.floor() as i64;
    if let Some(top) = top.filter(|top| age >= *top) {
        let _ = write!(out, "{top}+");
        return true;
    }
    let lower = age / width * width;
    let upper = match top {
        Some(top) => (lower + width - 1).min(top - 1),
        None => lower + width - 1,
    };
    if width == 1 {
        let _ = write!(out, "{lower}");
    } else {
        let _ = write!(out, "{lower}-{upper}");
    }
    true
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_OTHER,
        "Generalizes an age (in whole or fractional years) into a band label of `width` years: \
         age_band(37, 10) is '30-39'. With `top`, every age from `top` up is the single band \
         'top+' (top-coding), so the few very old customers do not stand out; a band that would \
         cross `top` stops below it. Negative ages give NULL, as does NULL. Together with \
         generalize_postcode, numeric_bucket and date_trunc it makes quasi-identifiers coarse \
         enough for k_anonymity.",
        "age_band(age, width [, top])",
    )
    .with_sql_example(
        r#"```sql
> SELECT age_band(37, 10) AS decade, age_band(93, 10, 80) AS top_coded, age_band(77.9, 5, 80) AS five;
+--------+-----------+-------+
| decade | top_coded | five  |
+--------+-----------+-------+
| 30-39  | 80+       | 75-79 |
+--------+-----------+-------+
```"#,
    )
    .with_argument("age", "Age in years (numeric).")
    .with_argument("width", "Band width in years, a whole number >= 1.")
    .with_argument("top", "Optional: ages >= top form one band 'top+'.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_floor_and_top_code() {
        let band = |age: f64, width: i64, top: Option<i64>| {
            let mut out = String::new();
            age_band(age, width, top, &mut out).then_some(out)
        };
        assert_eq!(band(37.0, 10, None).as_deref(), Some("30-39"));
        assert_eq!(band(39.99, 10, None).as_deref(), Some("30-39"));
        assert_eq!(band(93.0, 10, Some(80)).as_deref(), Some("80+"));
        assert_eq!(band(78.0, 10, Some(75)).as_deref(), Some("75+"));
        assert_eq!(band(72.0, 10, Some(75)).as_deref(), Some("70-74"));
        assert_eq!(band(0.0, 1, None).as_deref(), Some("0"));
        assert_eq!(band(-1.0, 10, None), None);
        assert_eq!(band(f64::NAN, 10, None), None);
    }
}
