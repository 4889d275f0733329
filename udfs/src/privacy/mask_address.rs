//! `mask_address(address)`: hides the street line of an address and keeps
//! the locality (`** **** ******, London`, `北京市朝阳区*******`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use unicode_segmentation::UnicodeSegmentation;

use super::mask::{MASK_CHAR, mask_alphanumeric};

/// Administrative-division suffixes of Chinese addresses: province, city,
/// district, county. The street part follows the last of them.
const CN_DIVISIONS: [char; 4] = ['省', '市', '区', '县'];

/// Appends the masked `address`. A comma-separated address keeps everything
/// from the first comma (town, postcode, country) and masks the letters and
/// digits before it. A Chinese address keeps its divisions up to the last
/// 省/市/区/县 and masks the rest. Anything else is masked entirely.
pub fn mask_address(address: &str, out: &mut String) {
    if let Some(comma) = address.find([',', '，']) {
        mask_alphanumeric(&address[..comma], MASK_CHAR, out);
        out.push_str(&address[comma..]);
        return;
    }
    let division_end = address
        .char_indices()
        .filter(|(_, c)| CN_DIVISIONS.contains(c))
        .map(|(i, c)| i + c.len_utf8())
        .next_back()
        .filter(|end| *end < address.len());
    if let Some(end) = division_end {
        out.push_str(&address[..end]);
        for _ in address[end..].graphemes(true) {
            out.push(MASK_CHAR);
        }
        return;
    }
    mask_alphanumeric(address, MASK_CHAR, out);
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks the street line of an address and keeps its locality. A comma-separated address \
         keeps everything from the first comma: '12 High Street, London' becomes \
         '** **** ******, London'. A Chinese address keeps its administrative divisions up to \
         the last 省/市/区/县 and masks the rest: '北京市朝阳区人民路12号' becomes \
         '北京市朝阳区******'. Any other value has all its letters and digits masked. NULL \
         gives NULL.",
        "mask_address(address)",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_address('12 High Street, London') AS gb, mask_address('北京市朝阳区人民路12号') AS cn;
+------------------------+--------------------+
| gb                     | cn                 |
+------------------------+--------------------+
| ** **** ******, London | 北京市朝阳区****** |
+------------------------+--------------------+
```"#,
    )
    .with_argument("address", "The address (any string type).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_lines_are_masked_and_localities_kept() {
        let cases = [
            ("12 High Street, London", "** **** ******, London"),
            ("北京市朝阳区人民路12号", "北京市朝阳区******"),
            ("广东省深圳市南山区科技园", "广东省深圳市南山区***"),
            ("Flat 3 Mill Lane", "**** * **** ****"),
            ("上海市", "***"),
            ("", ""),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            mask_address(input, &mut out);
            assert_eq!(out, expected, "{input}");
        }
    }
}
