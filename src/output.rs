//! Rendering results for people and for CI logs: aligned tables (numbers to
//! the right), CSV, newline-delimited JSON and Markdown, with a row limit
//! that still reports how many rows the query returned.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::Result;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Boxed table with column types, numbers right-aligned.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per row (newline-delimited).
    Json,
    /// GitHub-flavoured Markdown table.
    Markdown,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" | "ndjson" => Ok(Self::Json),
            "markdown" | "md" => Ok(Self::Markdown),
            other => Err(format!(
                "unknown output format '{other}' (expected table, csv, json or markdown)"
            )),
        }
    }
}

/// Collects at most `limit` rows from `stream` but counts them all, so the
/// shell can say "5000000 rows (40 shown)" without holding 5M rows.
pub async fn collect_limited(
    mut stream: SendableRecordBatchStream,
    limit: Option<usize>,
) -> Result<(Vec<RecordBatch>, usize)> {
    let mut kept = Vec::new();
    let mut kept_rows = 0;
    let mut total = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        total += batch.num_rows();
        let room = limit.map_or(usize::MAX, |l| l.saturating_sub(kept_rows));
        if room > 0 && batch.num_rows() > 0 {
            let take = room.min(batch.num_rows());
            kept.push(batch.slice(0, take));
            kept_rows += take;
        }
    }
    Ok((kept, total))
}

/// CSV has no nested values: lists, structs and maps become their display
/// text (as DuckDB writes them), NULL stays an empty field.
fn nested_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
    use datafusion::arrow::datatypes::Field;
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !field.data_type().is_nested() {
            fields.push(field.as_ref().clone());
            columns.push(std::sync::Arc::clone(column));
            continue;
        }
        let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
        let mut text = StringBuilder::with_capacity(column.len(), column.len() * 16);
        for i in 0..column.len() {
            if column.is_null(i) {
                text.append_null();
            } else {
                text.append_value(formatter.value(i).to_string());
            }
        }
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(std::sync::Arc::new(text.finish()));
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Renders `batches` (the first rows of a result of `total_rows` rows).
pub fn render(
    schema: &Schema,
    batches: &[RecordBatch],
    format: OutputFormat,
    total_rows: usize,
) -> Result<String> {
    match format {
        OutputFormat::Table => Ok(render_table(
            schema,
            batches,
            total_rows,
            presets::UTF8_FULL_CONDENSED,
            true,
        )),
        OutputFormat::Markdown => Ok(render_table(
            schema,
            batches,
            total_rows,
            presets::ASCII_MARKDOWN,
            false,
        )),
        OutputFormat::Csv => {
            let mut out = Vec::new();
            {
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                if batches.is_empty() {
                    let empty = RecordBatch::new_empty(std::sync::Arc::new(schema.clone()));
                    writer.write(&nested_as_text(&empty)?)?;
                }
                for batch in batches {
                    writer.write(&nested_as_text(batch)?)?;
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        OutputFormat::Json => {
            let mut out = Vec::new();
            {
                let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

/// A compact table of `batches` for messages (assertion failures).
pub fn render_plain(batches: &[RecordBatch]) -> String {
    let Some(first) = batches.first() else {
        return "(no rows)".to_string();
    };
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    render_table(
        &first.schema(),
        batches,
        rows,
        presets::ASCII_FULL_CONDENSED,
        false,
    )
}

fn render_table(
    schema: &Schema,
    batches: &[RecordBatch],
    total_rows: usize,
    preset: &str,
    with_types: bool,
) -> String {
    let mut table = Table::new();
    table.load_preset(preset);
    if preset == presets::UTF8_FULL_CONDENSED {
        table.apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS);
    }
    table.set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(schema.fields().iter().map(|f| {
        if with_types {
            Cell::new(format!("{}\n{}", f.name(), type_name(f.data_type())))
        } else {
            Cell::new(f.name())
        }
    }));
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_numeric(f.data_type()))
        .collect();
    for (i, &right) in numeric.iter().enumerate() {
        if right && let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let options = FormatOptions::new().with_null("NULL");
    let mut shown = 0;
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect();
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().map(|f| match f {
                Ok(f) => Cell::new(f.value(row)),
                Err(e) => Cell::new(format!("<{e}>")),
            }));
            shown += 1;
        }
    }
    let mut text = if schema.fields().is_empty() {
        String::new()
    } else {
        table.to_string()
    };
    let noun = if total_rows == 1 { "row" } else { "rows" };
    if shown < total_rows {
        text.push_str(&format!("\n{total_rows} {noun} ({shown} shown)"));
    } else {
        text.push_str(&format!("\n{total_rows} {noun}"));
    }
    text
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric() || matches!(data_type, DataType::Dictionary(_, v) if v.is_numeric())
}

/// Short SQL-ish type names for table headers (DuckDB shows them too).
pub fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            format!("{data_type}").to_lowercase()
        }
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Dictionary(_, value) => type_name(value),
        other => other.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, StringArray};
    use datafusion::arrow::datatypes::Field;

    use super::*;

    fn sample() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(1234.25)])),
            ],
        )
        .expect("valid test input")
    }

    #[test]
    fn table_right_aligns_numbers_and_counts_rows() {
        let batch = sample();
        let text = render(
            &batch.schema(),
            &[batch.slice(0, 1)],
            OutputFormat::Table,
            2,
        )
        .expect("valid test input");
        assert!(text.contains("double"), "{text}");
        assert!(text.contains("┆    1.5 │"), "{text}");
        assert!(text.ends_with("2 rows (1 shown)"), "{text}");
    }

    #[test]
    fn csv_writes_lists_and_structs_as_text() {
        use datafusion::arrow::array::{ArrayRef, ListArray};
        use datafusion::arrow::datatypes::Int32Type;
        use std::sync::Arc;
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
        ]));
        let batch = RecordBatch::try_from_iter(vec![("l", list)]).expect("batch");
        let csv = render(batch.schema().as_ref(), &[batch], OutputFormat::Csv, 2).expect("csv");
        // arrow writes a lone NULL field as "" so the row is not a blank line.
        assert_eq!(csv, "l\n\"[1, 2]\"\n\"\"\n");
    }

    #[test]
    fn csv_and_json_keep_nulls_distinct() {
        let batch = sample();
        let csv = render(
            &batch.schema(),
            std::slice::from_ref(&batch),
            OutputFormat::Csv,
            2,
        )
        .expect("valid test input");
        assert_eq!(csv, "name,amount\na,1.5\n,1234.25\n");
        let json =
            render(&batch.schema(), &[batch], OutputFormat::Json, 2).expect("valid test input");
        assert_eq!(
            json,
            "{\"name\":\"a\",\"amount\":1.5}\n{\"amount\":1234.25}\n"
        );
    }
}
