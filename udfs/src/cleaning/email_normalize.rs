//! `email_normalize(email)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::to_halfwidth::to_halfwidth;

/// The address in the form two records of one person share: full-width
/// characters folded (an IME's `＠`), surrounding spaces and a `mailto:`
/// removed, lower case; None unless it has one `@` between a local part of
/// 1 to 64 characters without spaces and a domain of dot-separated labels
/// (letters, digits, hyphens not at either end) ending in a label of
/// letters. The local part is case-sensitive by RFC 5321 but no provider a
/// bank's customers use treats it so, and records differ in case far more
/// often than in mailbox.
pub fn email_normalize(text: &str) -> Option<String> {
    let folded = to_halfwidth(text.trim()).trim().to_lowercase();
    let address = folded.strip_prefix("mailto:").unwrap_or(&folded);
    let (local, domain) = address.split_once('@')?;
    let local_ok = (1..=64).contains(&local.chars().count())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
    (local_ok && domain_ok).then(|| address.to_string())
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "An e-mail address in the form to compare and join on: full-width characters folded to \
         ASCII (to_halfwidth), surrounding spaces and a leading mailto: removed, all in lower \
         case. NULL when the result is not an address: exactly one @, a local part of 1 to 64 \
         characters without spaces, brackets, commas or a leading, trailing or doubled dot, and \
         a domain of at least two dot-separated labels of letters, digits and inner hyphens \
         whose last label is at least two letters. Internationalised domains are kept in \
         Unicode (lower case). Provider aliases (dots and +tags at Gmail) are not removed: \
         they are different mailboxes at most providers.",
        "email_normalize(email)",
    )
    .with_sql_example(
        r#"```sql
> SELECT email_normalize('  Zhang.Wei＠QQ.com ');
+--------------------------------------------------+
| email_normalize(Utf8("  Zhang.Wei＠QQ.com "))      |
+--------------------------------------------------+
| zhang.wei@qq.com                                 |
+--------------------------------------------------+
```"#,
    )
    .with_argument("email", "An e-mail address as typed.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_spaces_and_full_width() {
        assert_eq!(
            email_normalize(" Mailto:J.Smith@Example.CO.UK "),
            Some("j.smith@example.co.uk".to_string())
        );
        assert_eq!(
            email_normalize("ｌｉ＠１６３．ｃｏｍ"),
            Some("li@163.com".to_string())
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "@",
            "a@",
            "@b.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@b..com",
            "a@-b.com",
            "a@b.c",
            "a@b.c0m",
            ".a@b.com",
            "a..b@c.com",
            "a@b.com.",
        ] {
            assert_eq!(email_normalize(bad), None, "{bad}");
        }
    }
}
