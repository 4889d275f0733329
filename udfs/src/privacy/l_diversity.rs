//! `l_diversity(l, sensitive, quasi_identifier, ...)`: distinct l-diversity
//! of a sensitive attribute within equivalence classes.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Distinct l-diversity (Machanavajjhala et al. 2007): k-anonymity does not stop an \
         attacker who learns a person's class if everyone in it shares the sensitive value \
         (all defaulted, all have the same diagnosis). The data is l-diverse when every \
         equivalence class of the quasi-identifiers holds at least l distinct values of \
         `sensitive`. Returns a struct: l, records, classes, min_distinct (fewest distinct \
         sensitive values in a class), classes_below_l, records_below_l and satisfied \
         (min_distinct >= l; NULL for no rows). NULL counts as a value.",
        "l_diversity(l, sensitive, quasi_identifier [, ...])",
    )
    .with_sql_example(
        r#"```sql
> SELECT l_diversity(2, defaulted, age_band(age, 10), region)['min_distinct'] AS min_distinct FROM (VALUES
    (34, 'N', true), (36, 'N', false), (52, 'S', true), (55, 'S', true)) AS t(age, region, defaulted);
+--------------+
| min_distinct |
+--------------+
| 1            |
+--------------+
```"#,
    )
    .with_argument("l", "The required number of distinct sensitive values per class (>= 1, a constant).")
    .with_argument("sensitive", "The sensitive attribute (any type).")
    .with_argument("quasi_identifier", "One or more quasi-identifier columns or expressions.")
    .build()
});
