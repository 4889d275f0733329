//! `k_anonymity(k, quasi_identifier, ...)`: how identifiable the rows are by
//! their quasi-identifiers (see `equivalence_classes`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Re-identification risk of a release: rows that share every quasi-identifier value \
         (age band, postcode district, gender...) form an equivalence class, and the data is \
         k-anonymous when every class has at least k rows (Sweeney 2002). Returns a struct: k, \
         records, classes, smallest_class, classes_below_k, records_below_k (rows in classes \
         smaller than k, the ones at risk) and satisfied (smallest_class >= k; NULL for no \
         rows). Any number of quasi-identifiers of any type; NULL is a value. List the risky \
         classes with k_anonymity_classes.",
        "k_anonymity(k, quasi_identifier [, ...])",
    )
    .with_sql_example(
        r#"```sql
> SELECT k_anonymity(5, age_band(age, 10), region, gender) AS risk FROM (VALUES
    (34, 'N', 'F'), (36, 'N', 'F'), (38, 'N', 'F'), (31, 'N', 'F'), (33, 'N', 'F'), (52, 'S', 'M')) AS t(age, region, gender);
+----------------------------------------------------------------------------------------------------------------+
| risk                                                                                                           |
+----------------------------------------------------------------------------------------------------------------+
| {k: 5, records: 6, classes: 2, smallest_class: 1, classes_below_k: 1, records_below_k: 1, satisfied: false}    |
+----------------------------------------------------------------------------------------------------------------+
```"#,
    )
    .with_argument("k", "The required class size, a whole number >= 1 (a constant).")
    .with_argument("quasi_identifier", "One or more columns or expressions identifying a person in combination.")
    .build()
});
