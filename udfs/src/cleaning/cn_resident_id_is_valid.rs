//! `cn_resident_id_is_valid(id)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION_STRING, "True when the mainland-China resident ID is valid: 18 characters with a real birth date and the ISO 7064 MOD 11-2 check character (GB 11643-1999; x or X), or a 15-digit first-generation ID with a real birth date (it has no check character); false otherwise; NULL for NULL. cn_resident_id_upgrade gives the 18-character form.", "cn_resident_id_is_valid(id)")
        .with_sql_example(
            r#"```sql
> SELECT cn_resident_id_is_valid('11010519491231002X'), cn_resident_id_is_valid('110105194912310021');
+------+-------+
| ...  | ...   |
+------+-------+
| true | false |
+------+-------+
```"#,
        )
        .with_argument("id", "A mainland-China resident ID, 15 or 18 characters.")
        .build()
});
