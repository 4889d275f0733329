//! `parse_date(text [, format, ...])`: date strings in mixed formats to
//! DATE, NULL where none fits (DataFusion's `to_date` stops the query at the
//! first string it cannot read, which on a customer file is row 3).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{Array, ArrayRef, Date32Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use regex::Regex;

use super::to_halfwidth::to_halfwidth;
use crate::kernel::{all_scalar, finish};

const NAME: &str = "parse_date";

/// The formats tried without a format argument: those whose reading of a
/// date is not in doubt. Day-first and month-first numeric forms
/// (03/05/2024) are not among them: which one a file uses is the user's to
/// say.
pub const DEFAULT_FORMATS: [&str; 14] = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%B %d, %Y",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
];

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The date `text` reads as under the first of `formats` that fits it
/// whole; formats with a time accept a time and keep the date.
pub fn parse_date<'a>(text: &str, formats: impl IntoIterator<Item = &'a str>) -> Option<NaiveDate> {
    let text = to_halfwidth(text);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // strptime matches the literal parts of a format in any case (a
    // lower-case t in 2024-03-05t10:30:00); chrono only month and day names.
    let text = text.to_uppercase();
    formats.into_iter().find_map(|format| {
        // chrono reads %Y and %y from one digit up (03/05/24 under %d/%m/%Y
        // would be the year 24) and a space as any whitespace or none;
        // strptime's shape of the string comes first.
        if !shape(format).is_some_and(|shape| shape.is_match(&text)) {
            return None;
        }
        let date = read(&text, &upper_literals(format))?;
        // chrono puts a two-digit 69 in 2069, POSIX and strptime in 1969.
        if format.contains("%y") && date.year() == 2069 {
            return date.with_year(1969);
        }
        Some(date)
    })
}

/// The regular expression strptime matches a string against before it
/// reads it: %Y four digits, %y two, %m %d %H %M %S one or two, month
/// names letters, a run of whitespace for any whitespace, the rest
/// literally, in any case. Formats are few: each is compiled once.
fn shape(format: &str) -> Option<Arc<Regex>> {
    static SHAPES: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> = LazyLock::new(Mutex::default);
    let mut shapes = SHAPES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(shape) = shapes.get(format) {
        return Some(Arc::clone(shape));
    }
    let mut pattern = String::from("(?i)^");
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let mut spec = String::new();
                for d in chars.by_ref() {
                    spec.push(d);
                    if d.is_ascii_alphabetic() || d == '%' {
                        break;
                    }
                }
                pattern.push_str(match spec.as_str() {
                    "Y" => r"\d{4}",
                    "y" => r"\d{2}",
                    "m" | "d" | "H" | "M" | "S" | "I" => r"\s?\d{1,2}",
                    "j" => r"\d{1,3}",
                    "b" | "h" => r"\p{L}{3}",
                    "B" | "A" | "a" => r"\p{L}+",
                    "%" => "%",
                    _ => ".*?",
                });
            }
            c if c.is_whitespace() => {
                while chars.peek().is_some_and(|d| d.is_whitespace()) {
                    chars.next();
                }
                pattern.push_str(r"\s+");
            }
            c => pattern.push_str(&regex::escape(&c.to_string())),
        }
    }
    pattern.push('$');
    let shape = Arc::new(Regex::new(&pattern).ok()?);
    if shapes.len() > 1_000 {
        shapes.clear();
    }
    shapes.insert(format.to_string(), Arc::clone(&shape));
    Some(shape)
}

/// The format with its literal characters in upper case and its
/// specifiers (`%` up to the letter that ends one, as `%-d` or `%.3f`)
/// as they are.
fn upper_literals(format: &str) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            out.push(c);
            for d in chars.by_ref() {
                out.push(d);
                if d.is_ascii_alphabetic() || d == '%' {
                    break;
                }
            }
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

fn read(text: &str, format: &str) -> Option<NaiveDate> {
    {
        if format.contains("%H") || format.contains("%T") {
            NaiveDateTime::parse_from_str(text, format)
                .ok()
                .map(|t| t.date())
        } else if format == "%Y%m%d" {
            // Exactly eight digits, as systems write it: chrono's %m and %d
            // would also take 2024035 as 2024-03-05.
            (text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| {
                    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
                    NaiveDate::from_ymd_opt(
                        i32::try_from(number(0..4)?).ok()?,
                        number(4..6)?,
                        number(6..8)?,
                    )
                })
                .flatten()
        } else {
            NaiveDate::parse_from_str(text, format).ok()
        }
    }
}

/// SQL `parse_date`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ParseDateFunc {
    signature: Signature,
}

pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_shared_impl(Arc::new(ParseDateFunc {
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

impl ScalarUDFImpl for ParseDateFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return plan_err!("{NAME} expects a date string and optionally formats, got none");
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Null
                | DataType::Dictionary(_, _) => Ok(DataType::Utf8),
                t if i == 0 => {
                    plan_err!("{NAME}: argument 'text' must be a string, got {t}")
                }
                t => plan_err!(
                    "{NAME}: argument 'format' (argument {}) must be a strftime string such as '%d/%m/%Y', got {t}",
                    i + 1
                ),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let strings = arrays
            .iter()
            .map(|a| cast(a, &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let columns = strings
            .iter()
            .map(|a| as_string_array(a))
            .collect::<Result<Vec<&StringArray>>>()?;
        let (texts, formats) = (columns[0], &columns[1..]);
        let days: Date32Array = (0..texts.len())
            .map(|row| {
                if texts.is_null(row) {
                    return None;
                }
                let date = if formats.is_empty() {
                    parse_date(texts.value(row), DEFAULT_FORMATS)
                } else {
                    parse_date(
                        texts.value(row),
                        formats
                            .iter()
                            .filter(|f| !f.is_null(row))
                            .map(|f| f.value(row)),
                    )
                };
                date.map(|d| (d - EPOCH).num_days() as i32)
            })
            .collect();
        finish(Arc::new(days) as ArrayRef, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_DATETIME,
        "A date string in any of several formats as a DATE, NULL where none of them reads the \
         whole string (unlike to_date, which fails the query): count the NULLs to find what \
         is left to fix. Full-width digits are folded and surrounding spaces ignored. Without \
         formats it tries, in order, the formats whose reading is not in doubt: 2024-03-05, \
         2024/03/05, 2024.03.05, 20240305, 2024年3月5日, 5 Mar 2024, 5 March 2024, 05-Mar-2024, \
         Mar 5 2024, Mar 5, 2024, March 5 2024, March 5, 2024, and ISO date-times \
         (2024-03-05T10:30:00 or with a space), keeping the date. Numeric day-first and \
         month-first forms (03/05/2024) are read only when formats are given, in the order \
         given: parse_date(d, '%d/%m/%Y', '%Y-%m-%d'). Formats use strftime codes (%Y %m %d \
         %y %b %B %H %M %S), as Python's datetime.strptime: %Y takes a four-digit year (05/03/24 \
         is not the year 24), %y a two-digit one (69-99 in the 1900s, 00-68 in the 2000s); an \
         invalid date (2023-02-29) is NULL.",
        "parse_date(text [, format, ...])",
    )
    .with_sql_example(
        r#"```sql
> SELECT parse_date('2024年3月5日'), parse_date('5 Mar 2024'), parse_date('05/03/2024', '%d/%m/%Y');
+-----------------------------------+--------------------------------+-------------------------------------------------+
| parse_date(Utf8("2024年3月5日"))  | parse_date(Utf8("5 Mar 2024")) | parse_date(Utf8("05/03/2024"),Utf8("%d/%m/%Y")) |
+-----------------------------------+--------------------------------+-------------------------------------------------+
| 2024-03-05                        | 2024-03-05                     | 2024-03-05                                      |
+-----------------------------------+--------------------------------+-------------------------------------------------+
```"#,
    )
    .with_argument("text", "A date as typed.")
    .with_argument(
        "format",
        "Optional strftime formats, tried in order; without any, the unambiguous defaults.",
    )
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn reads_each_default_format() {
        for text in [
            "2024-03-05",
            "2024/3/5",
            "2024.03.05",
            "20240305",
            "2024年3月5日",
            "２０２４年３月５日",
            "5 Mar 2024",
            "05 march 2024",
            "05-MAR-2024",
            "Mar 5 2024",
            "Mar 5, 2024",
            "March 5, 2024",
            "2024-03-05T10:30:00",
            "2024-03-05t10:30:00",
            " 2024-03-05 23:59:59 ",
        ] {
            assert_eq!(parse_date(text, DEFAULT_FORMATS), ymd(2024, 3, 5), "{text}");
        }
    }

    #[test]
    fn leaves_ambiguous_and_invalid_dates_null() {
        for text in [
            "05/03/2024",
            "2023-02-29",
            "2024-13-01",
            "",
            "yesterday",
            "2024030",
            "202403055",
        ] {
            assert_eq!(parse_date(text, DEFAULT_FORMATS), None, "{text}");
        }
        assert_eq!(parse_date("05/03/2024", ["%d/%m/%Y"]), ymd(2024, 3, 5));
        assert_eq!(parse_date("05/03/2024", ["%m/%d/%Y"]), ymd(2024, 5, 3));
        assert_eq!(
            parse_date("05/03/24", ["%d/%m/%Y", "%d/%m/%y"]),
            ymd(2024, 3, 5)
        );
        assert_eq!(parse_date("05/03/69", ["%d/%m/%y"]), ymd(1969, 3, 5));
        assert_eq!(parse_date("05/03/68", ["%d/%m/%y"]), ymd(2068, 3, 5));
        assert_eq!(parse_date("5Mar2024", ["%d %b %Y"]), None);
        assert_eq!(
            parse_date("Date: 2024-03-05", ["date: %Y-%m-%d"]),
            ymd(2024, 3, 5)
        );
    }
}
