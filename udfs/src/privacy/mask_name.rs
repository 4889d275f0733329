//! `mask_name(name)`: keeps the first character of each part of a personal
//! name (`J*** S****`, `张**`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use unicode_segmentation::UnicodeSegmentation;

use super::mask::{MASK_CHAR, mask_middle};

/// Separators between name parts: whitespace and the middle dots used in
/// Chinese and Japanese renderings of foreign names (约翰·史密斯).
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '\u{00B7}' || c == '\u{30FB}'
}

/// Appends the masked `name`: in each part, the first character stays and
/// the others become '*'; a one-character part is masked. For a CJK name
/// written without spaces the first character is the family name
/// (张三丰 -> 张**).
pub fn mask_name(name: &str, out: &mut String) {
    let mut part_start: Option<usize> = None;
    let flush = |start: usize, end: usize, out: &mut String| {
        let part = &name[start..end];
        let keep = usize::from(part.graphemes(true).nth(1).is_some());
        mask_middle(part, keep, 0, MASK_CHAR, out);
    };
    for (i, c) in name.char_indices() {
        if is_separator(c) {
            if let Some(start) = part_start.take() {
                flush(start, i, out);
            }
            out.push(c);
        } else if part_start.is_none() {
            part_start = Some(i);
        }
    }
    if let Some(start) = part_start {
        flush(start, name.len(), out);
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks a personal name, keeping the first character of each part: 'John Smith' becomes \
         'J*** S****' and '张三丰' becomes '张**' (a CJK name without spaces keeps its family \
         name's first character). Parts are separated by whitespace or a middle dot (·, ・); a \
         one-character part is masked entirely. Characters are grapheme clusters. NULL gives \
         NULL.",
        "mask_name(name)",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_name('John Smith') AS latin, mask_name('张三丰') AS chinese;
+------------+---------+
| latin      | chinese |
+------------+---------+
| J*** S**** | 张**    |
+------------+---------+
```"#,
    )
    .with_argument("name", "The name (any string type).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_first_character_of_each_part() {
        let cases = [
            ("John Smith", "J*** S****"),
            ("张三丰", "张**"),
            ("张三", "张*"),
            ("欧阳娜娜", "欧***"),
            ("约翰·史密斯", "约*·史**"),
            ("Zoë  van der Berg", "Z**  v** d** B***"),
            ("J Smith", "* S****"),
            ("李", "*"),
            ("José 张伟", "J*** 张*"),
            ("", ""),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            mask_name(input, &mut out);
            assert_eq!(out, expected, "{input}");
        }
    }
}
