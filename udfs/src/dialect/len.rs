//! `len(x)`: DuckDB's length of a string or a list.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_OTHER;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

const NAME: &str = "len";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LenFunc {
    signature: Signature,
}

impl LenFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for LenFunc {
    fn default() -> Self {
        Self::new()
    }
}

/// DataFusion's own function for the argument's type: characters of a
/// string, elements of a list.
fn delegate(arg: &DataType) -> Result<Arc<ScalarUDF>> {
    match arg {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            Ok(datafusion::functions::unicode::character_length())
        }
        DataType::Dictionary(_, value) => delegate(value),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::Map(_, _) => Ok(datafusion::functions_nested::cardinality::cardinality_udf()),
        other => plan_err!("{NAME}: argument 'x' must be a string or a list, got {other}"),
    }
}

impl ScalarUDFImpl for LenFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] => delegate(t)?.return_type(arg_types),
            _ => plan_err!("{NAME} expects one argument (x), got {}", arg_types.len()),
        }
    }

    fn return_field_from_args(
        &self,
        args: ReturnFieldArgs,
    ) -> Result<datafusion::arrow::datatypes::FieldRef> {
        match args.arg_fields {
            [field] => delegate(field.data_type())?.return_field_from_args(args),
            _ => plan_err!(
                "{NAME} expects one argument (x), got {}",
                args.arg_fields.len()
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let data_type = args.args[0].data_type();
        delegate(&data_type)?.invoke_with_args(args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_OTHER,
        "DuckDB's len: the number of characters of a string (character_length) or of \
         elements of a list or map (cardinality). NULL for NULL.",
        "len(x)",
    )
    .with_sql_example(
        r#"```sql
> SELECT len('李娜') AS chars, len([3, 1, 2]) AS items;
+-------+-------+
| chars | items |
+-------+-------+
| 2     | 3     |
+-------+-------+
```"#,
    )
    .with_argument("x", "A string or a list.")
    .build()
});
