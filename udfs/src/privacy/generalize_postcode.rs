//! `generalize_postcode(postcode [, keep])`: truncates a postcode to its
//! district (`SW1A 1AA` -> `SW1A`, `100021` -> `100`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// Characters kept from a postcode without a space when `keep` is not given.
const DEFAULT_KEEP: usize = 3;

/// Appends the generalized `postcode`: with `keep`, its first `keep`
/// letters and digits (upper-cased, separators dropped); without, the part
/// before the first space (the UK/Canadian outward code) or else the first
/// three characters. False (NULL) for a value with no letter or digit.
pub fn generalize_postcode(postcode: &str, keep: Option<usize>, out: &mut String) -> bool {
    let trimmed = postcode.trim();
    let prefix = match keep {
        None => match trimmed.split_once(char::is_whitespace) {
            Some((outward, _)) => outward,
            None => trimmed,
        },
        Some(_) => trimmed,
    };
    let limit = keep.unwrap_or(if prefix.len() < trimmed.len() {
        usize::MAX
    } else {
        DEFAULT_KEEP
    });
    let start = out.len();
    out.extend(
        prefix
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(limit)
            .flat_map(char::to_uppercase),
    );
    out.len() > start
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Generalizes a postcode to a coarser area. Without `keep`: the part before the first \
         space for codes written with one (UK and Canadian outward codes: 'SW1A 1AA' becomes \
         'SW1A'), else the first 3 characters ('100021' becomes '100', the Chinese postal \
         district). With `keep`: the first `keep` letters and digits ('75012' with 2 becomes \
         '75', the French département). The result is upper-cased without separators. NULL, or \
         a value with no letter or digit, gives NULL.",
        "generalize_postcode(postcode [, keep])",
    )
    .with_sql_example(
        r#"```sql
> SELECT generalize_postcode('SW1A 1AA') AS uk, generalize_postcode('100021') AS cn, generalize_postcode('75012', 2) AS fr;
+------+-----+----+
| uk   | cn  | fr |
+------+-----+----+
| SW1A | 100 | 75 |
+------+-----+----+
```"#,
    )
    .with_argument("postcode", "The postcode (any string type).")
    .with_argument("keep", "Optional: how many letters and digits to keep (>= 1).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_truncate_to_their_district() {
        let generalize = |code: &str, keep: Option<usize>| {
            let mut out = String::new();
            generalize_postcode(code, keep, &mut out).then_some(out)
        };
        assert_eq!(generalize("SW1A 1AA", None).as_deref(), Some("SW1A"));
        assert_eq!(generalize("e14 5ab", None).as_deref(), Some("E14"));
        assert_eq!(generalize("100021", None).as_deref(), Some("100"));
        assert_eq!(generalize("75012", Some(2)).as_deref(), Some("75"));
        assert_eq!(generalize("SW1A 1AA", Some(6)).as_deref(), Some("SW1A1A"));
        assert_eq!(generalize(" - ", None), None);
    }
}
