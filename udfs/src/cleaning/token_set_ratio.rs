//! `token_set_ratio(string1, string2)`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// Indel distance (insertions and deletions only): len(a) + len(b) minus
/// twice their longest common subsequence, over Unicode scalar values.
fn indel_distance(a: &[char], b: &[char]) -> usize {
    if a.is_empty() || b.is_empty() {
        return a.len() + b.len();
    }
    // One row of the LCS table.
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        let mut diagonal = 0;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    a.len() + b.len() - 2 * row[b.len()]
}

/// 100 (1 - distance / total length), 100 when both are empty.
fn normalised(distance: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        100.0 - 100.0 * distance as f64 / total as f64
    }
}

/// rapidfuzz's `fuzz.token_set_ratio`: the words of each string as a set;
/// 100 when one set contains the other; otherwise the best Indel ratio
/// between the shared words alone and the shared words followed by each
/// side's own words (sorted), and between the two sides' own words.
pub fn token_set_ratio(a: &str, b: &str) -> f64 {
    let words_a: BTreeSet<&str> = a.split_whitespace().collect();
    let words_b: BTreeSet<&str> = b.split_whitespace().collect();
    if words_a.is_empty() || words_b.is_empty() {
        return 0.0;
    }
    let shared: Vec<&str> = words_a.intersection(&words_b).copied().collect();
    let only_a: Vec<&str> = words_a.difference(&words_b).copied().collect();
    let only_b: Vec<&str> = words_b.difference(&words_a).copied().collect();
    if !shared.is_empty() && (only_a.is_empty() || only_b.is_empty()) {
        return 100.0;
    }
    let chars = |words: &[&str]| -> Vec<char> { words.join(" ").chars().collect() };
    let (only_a, only_b) = (chars(&only_a), chars(&only_b));
    let shared_len = chars(&shared).len();
    let separator = usize::from(shared_len != 0);
    let with_a = shared_len + separator + only_a.len();
    let with_b = shared_len + separator + only_b.len();
    let sides = normalised(indel_distance(&only_a, &only_b), with_a + with_b);
    if shared_len == 0 {
        return sides;
    }
    // "shared" against "shared + own words" differ only by the own words.
    let shared_vs_a = normalised(separator + only_a.len(), shared_len + with_a);
    let shared_vs_b = normalised(separator + only_b.len(), shared_len + with_b);
    sides.max(shared_vs_a).max(shared_vs_b)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Token-set similarity of two strings, from 0 to 100, as rapidfuzz's (and \
         fuzzywuzzy's) fuzz.token_set_ratio: each string's words (split on whitespace) as a \
         set, so word order and repeated words do not matter; 100 when one set contains the \
         other; otherwise the best normalised Indel similarity among the shared words, the \
         shared words followed by either side's own words (sorted), and the two sides' own \
         words. Suits names and addresses entered in different orders ('WANG Wei' and 'Wei \
         WANG'). Case counts: lower() both first. 0 when either has no words, NULL when \
         either is NULL.",
        "token_set_ratio(string1, string2)",
    )
    .with_sql_example(
        r#"```sql
> SELECT token_set_ratio('fuzzy was a bear', 'fuzzy fuzzy was a bear');
+------------------------------------------------------------------------+
| token_set_ratio(Utf8("fuzzy was a bear"),Utf8("fuzzy fuzzy was a bear")) |
+------------------------------------------------------------------------+
| 100.0                                                                  |
+------------------------------------------------------------------------+
```"#,
    )
    .with_argument("string1", "A string.")
    .with_argument("string2", "The string to compare it with.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indel_distance_counts_insertions_and_deletions() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        // kitten -> sitting: LCS "ittn" (4), so 6 + 7 - 8 = 5.
        assert_eq!(indel_distance(&c("kitten"), &c("sitting")), 5);
        assert_eq!(indel_distance(&c(""), &c("abc")), 3);
        assert_eq!(indel_distance(&c("abc"), &c("abc")), 0);
    }

    #[test]
    fn word_order_and_repeats_do_not_matter() {
        assert_eq!(token_set_ratio("wang wei", "wei wang"), 100.0);
        assert_eq!(token_set_ratio("a b", "a b b"), 100.0);
        assert_eq!(token_set_ratio("", "a"), 0.0);
    }
}
