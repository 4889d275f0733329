//! `cn_resident_id_upgrade(id)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use crate::checks::{cn_resident_id_check_char, cn_resident_id_valid, is_yyyymmdd};

/// The 18-character form of a mainland-China resident ID (GB 11643-1999):
/// an 18-character ID with a valid birth date and check character as it is
/// (upper-case X); a 15-digit ID of the 1984 format with "19" put before
/// its two-digit birth year and the check character appended. None
/// otherwise.
pub fn cn_resident_id_upgrade(text: &str) -> Option<String> {
    let id = text.trim().as_bytes();
    match id.len() {
        18 if cn_resident_id_valid(id) && is_yyyymmdd(&id[6..14]) => {
            Some(text.trim().to_ascii_uppercase())
        }
        15 if id.iter().all(u8::is_ascii_digit) => {
            let mut long = Vec::with_capacity(18);
            long.extend_from_slice(&id[..6]);
            long.extend_from_slice(b"19");
            long.extend_from_slice(&id[6..]);
            if !is_yyyymmdd(&long[6..14]) {
                return None;
            }
            long.push(cn_resident_id_check_char(&long));
            String::from_utf8(long).ok()
        }
        _ => None,
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION_STRING, "The 18-character form of a mainland-China resident ID (GB 11643-1999): an 18-character ID whose birth date (characters 7-14) is a real date and whose last character is the ISO 7064 MOD 11-2 check of the first 17 digits is returned in upper case; a 15-digit first-generation ID (1984 format) is upgraded by putting 19 before its two-digit birth year and appending the check character; NULL when neither (a typing error) or NULL. Surrounding spaces are ignored.", "cn_resident_id_upgrade(id)")
        .with_sql_example(
            r#"```sql
> SELECT cn_resident_id_upgrade('110105491231002');
+------------------------------------------------+
| cn_resident_id_upgrade(Utf8("110105491231002")) |
+------------------------------------------------+
| 11010519491231002X                             |
+------------------------------------------------+
```"#,
        )
        .with_argument("id", "A mainland-China resident ID, 15 or 18 characters.")
        .build()
});
