//! `mask_email(email)`: keeps the first character of the local part and the
//! domain, which is what analysts group by (`j*******@example.com`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::mask::{MASK_CHAR, grapheme_count, mask_alphanumeric, mask_middle};

/// Appends the masked `email`. Something that is not an address (no '@',
/// an empty local part or domain) is masked entirely, letters and digits
/// alike; a one-character local part is masked too, since keeping its first
/// character would reveal it.
pub fn mask_email(email: &str, out: &mut String) {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return mask_alphanumeric(email, MASK_CHAR, out);
    };
    if local.is_empty() || domain.is_empty() || domain.contains(char::is_whitespace) {
        return mask_alphanumeric(email, MASK_CHAR, out);
    }
    let keep = usize::from(grapheme_count(local) > 1);
    mask_middle(local, keep, 0, MASK_CHAR, out);
    out.push('@');
    out.push_str(domain);
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks an e-mail address, keeping the first character of the local part and the \
         domain: 'john.doe@bank.com' becomes 'j*******@bank.com'. The mask keeps the length. \
         A value that is not an address is masked entirely (letters and digits become '*'); a \
         one-character local part is masked too. Masking is idempotent: an already masked \
         address is unchanged. NULL gives NULL.",
        "mask_email(email)",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_email('john.doe@bank.com') AS email, mask_email('not an email') AS invalid;
+-------------------+--------------+
| email             | invalid      |
+-------------------+--------------+
| j*******@bank.com | *** ** ***** |
+-------------------+--------------+
```"#,
    )
    .with_argument("email", "The address (any string type).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_first_character_and_domain() {
        let cases = [
            ("john.doe@bank.com", "j*******@bank.com"),
            ("a@bank.com", "*@bank.com"),
            ("j*******@bank.com", "j*******@bank.com"),
            ("张三@例子.中国", "张*@例子.中国"),
            ("x@y@bank.com", "x**@bank.com"),
            ("not an email", "*** ** *****"),
            ("@bank.com", "@****.***"),
            ("john@", "****@"),
            ("", ""),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            mask_email(input, &mut out);
            assert_eq!(out, expected, "{input}");
        }
    }
}
