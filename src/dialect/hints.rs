//! What other dialects write that finsight cannot plan, with the
//! alternative named in the error, so an analyst is not left with a parser
//! message about a token.

use datafusion::common::DataFusionError;

/// `(what the statement or DataFusion's error shows, the alternative)`.
const HINTS: &[(&str, &str)] = &[
    (
        "MATCH_CONDITION",
        "ASOF JOIN is not supported: take the latest earlier row with a LATERAL subquery \
         (... ORDER BY ts DESC LIMIT 1) or with last_value(x) OVER (ORDER BY ts)",
    ),
    (
        "found: EXCLUDE",
        "window frame EXCLUDE is not supported: subtract the current row, \
         e.g. (sum(x) OVER w - x) / (count(x) OVER w - 1)",
    ),
    (
        "token Sharp",
        "# (PostgreSQL's XOR) is not supported: write ^ (12 ^ 10 = 6)",
    ),
    (
        "Invalid interval arithmetic",
        "an interval cannot be multiplied by a number: write the interval out \
         (INTERVAL '3 days') or add days to a date (d + 3)",
    ),
    (
        "Invalid function 'printf'",
        "printf is not supported: build the text with || or concat(...)",
    ),
    (
        "Invalid function 'format'",
        "format is not supported: build the text with || or concat(...)",
    ),
    (
        "Invalid function 'columns'",
        "COLUMNS(...) star expressions are not supported: name the columns, or use \
         SELECT * EXCLUDE (...) / SELECT * REPLACE (... AS c)",
    ),
    (
        "Invalid function 'json_valid'",
        "json_valid is not available: json_get(j) IS NOT NULL tells whether j parses \
         (a JSON null aside)",
    ),
    (
        "does not support logical expression ScalarSubquery",
        "a correlated subquery in the select list is decorrelated only when it compares \
         columns with =: join the tables and aggregate instead",
    ),
    (
        "does not support logical expression Exists",
        "EXISTS in the select list is rewritten only over a plain SELECT ... FROM ... WHERE: \
         join the tables and aggregate instead",
    ),
    (
        "Invalid function 'dateadd'",
        "use date_add(t, INTERVAL '1 month') or t + INTERVAL '1 month'",
    ),
    (
        "Invalid function 'weekday'",
        "use date_part('dow', t) (Sunday 0) or date_part('isodow', t) (Monday 1)",
    ),
    (
        "Invalid function 'to_days'",
        "use date_diff('day', DATE '1970-01-01', d)",
    ),
];

/// `error` with the alternative to a construct finsight does not plan, when
/// the statement or the error shows one.
pub fn explain(sql: &str, error: DataFusionError) -> DataFusionError {
    let message = error.to_string();
    let lambda = sql.contains("->") && message.contains("No field named");
    let hint = if lambda {
        Some(
            "lambda functions (x -> ...) are not supported: unnest the list, compute, and \
             array_agg the result back",
        )
    } else {
        HINTS
            .iter()
            .find(|(shows, _)| message.contains(shows))
            .map(|(_, hint)| *hint)
    };
    match hint {
        Some(hint) => DataFusionError::Plan(format!("{}\nhint: {hint}", error.strip_backtrace())),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_alternative_and_keeps_other_errors() {
        let e = explain(
            "SELECT printf('%d', 1)",
            DataFusionError::Plan("Invalid function 'printf'.".into()),
        );
        assert!(e.to_string().contains("concat"), "{e}");
        let e = explain(
            "SELECT 1",
            DataFusionError::Plan("permission denied".into()),
        );
        assert_eq!(e.to_string(), "Error during planning: permission denied");
    }
}
