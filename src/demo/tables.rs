//! Schemas of the demo tables and column buffers that turn generated rows
//! into Arrow record batches.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::Result;

/// A column being filled row by row.
pub(super) enum Column {
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Ts(Vec<Option<i64>>),
}

impl Column {
    fn for_type(data_type: &DataType) -> Self {
        match data_type {
            Int64 => Self::I64(Vec::new()),
            Int32 => Self::I32(Vec::new()),
            Float64 => Self::F64(Vec::new()),
            Boolean => Self::Bool(Vec::new()),
            Date32 => Self::Date(Vec::new()),
            DataType::Timestamp(_, _) => Self::Ts(Vec::new()),
            _ => Self::Str(Vec::new()),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Self::I64(v) => Arc::new(Int64Array::from(v)),
            Self::I32(v) => Arc::new(Int32Array::from(v)),
            Self::F64(v) => Arc::new(Float64Array::from(v)),
            Self::Str(v) => Arc::new(StringArray::from(v)),
            Self::Bool(v) => Arc::new(BooleanArray::from(v)),
            Self::Date(v) => Arc::new(Date32Array::from(v)),
            Self::Ts(v) => Arc::new(TimestampMicrosecondArray::from(v)),
        }
    }
}

/// A value for [`Rows::push`].
pub(super) enum Value {
    I64(Option<i64>),
    I32(Option<i32>),
    F64(Option<f64>),
    Str(Option<String>),
    Bool(Option<bool>),
    Date(Option<i32>),
    Ts(Option<i64>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::I64(Some(v))
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::I32(Some(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::F64(Some(v))
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Self::F64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Str(Some(v.to_string()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Str(Some(v))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Self::Str(v)
    }
}

/// Wraps a day number so it is stored as DATE.
pub(super) fn date(days: i32) -> Value {
    Value::Date(Some(days))
}
pub(super) fn opt_date(days: Option<i32>) -> Value {
    Value::Date(days)
}
/// Wraps microseconds since the epoch so they are stored as TIMESTAMP.
pub(super) fn ts(micros: i64) -> Value {
    Value::Ts(Some(micros))
}
pub(super) fn opt_ts(micros: Option<i64>) -> Value {
    Value::Ts(micros)
}

/// Rows of one table for one chunk of customers.
pub(super) struct Rows {
    schema: SchemaRef,
    columns: Vec<Column>,
}

impl Rows {
    pub(super) fn new(schema: &SchemaRef) -> Self {
        Self {
            schema: Arc::clone(schema),
            columns: schema
                .fields()
                .iter()
                .map(|f| Column::for_type(f.data_type()))
                .collect(),
        }
    }

    /// Appends one row; values must follow the schema's column order.
    pub(super) fn push(&mut self, values: Vec<Value>) {
        debug_assert_eq!(values.len(), self.columns.len());
        for (column, value) in self.columns.iter_mut().zip(values) {
            match (column, value) {
                (Column::I64(c), Value::I64(v)) => c.push(v),
                (Column::I32(c), Value::I32(v)) => c.push(v),
                (Column::F64(c), Value::F64(v)) => c.push(v),
                (Column::Str(c), Value::Str(v)) => c.push(v),
                (Column::Bool(c), Value::Bool(v)) => c.push(v),
                (Column::Date(c), Value::Date(v)) => c.push(v),
                (Column::Ts(c), Value::Ts(v)) => c.push(v),
                // A generator bug, caught by the row count check in `finish`.
                _ => {}
            }
        }
    }

    pub(super) fn finish(self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self.columns.into_iter().map(Column::finish).collect();
        Ok(RecordBatch::try_new(self.schema, arrays)?)
    }
}

fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

use DataType::{Boolean, Date32, Float64, Int32, Int64, Utf8};

pub(super) fn customers() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("customer_id", Int64, false),
        field("name", Utf8, false),
        field("gender", Utf8, false),
        field("birth_date", Date32, false),
        field("email", Utf8, true),
        field("phone", Utf8, true),
        field("card_number", Utf8, false),
        field("national_id", Utf8, false),
        field("address", Utf8, false),
        field("postcode", Utf8, false),
        field("city", Utf8, false),
        field("region", Utf8, false),
        field("country", Utf8, false),
        field("income", Float64, true),
        field("segment", Utf8, false),
        field("signup_date", Date32, false),
        field("status", Utf8, false),
        field("closed_date", Date32, true),
        field("risk_tolerance", Int32, false),
    ]))
}

/// See [`super::raw`]: text columns as typed, NULL where not recorded.
pub(super) fn customers_raw() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("raw_id", Int64, false),
        field("source", Utf8, false),
        field("full_name", Utf8, false),
        field("birth_date_text", Utf8, true),
        field("phone", Utf8, true),
        field("email", Utf8, true),
        field("national_id", Utf8, true),
        field("city", Utf8, false),
        field("country", Utf8, false),
        field("income", Float64, true),
        field("true_customer_id", Int64, false),
    ]))
}

pub(super) fn accounts() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("account_id", Int64, false),
        field("customer_id", Int64, false),
        field("account_type", Utf8, false),
        field("currency", Utf8, false),
        field("open_date", Date32, false),
        field("close_date", Date32, true),
        field("balance", Float64, false),
        field("credit_limit", Float64, true),
        field("iban", Utf8, true),
    ]))
}

pub(super) fn transactions() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("transaction_id", Int64, false),
        field("customer_id", Int64, false),
        field("account_id", Int64, false),
        field("card_id", Int64, true),
        field("ts", timestamp(), false),
        field("amount", Float64, false),
        field("currency", Utf8, false),
        field("merchant_id", Int64, false),
        field("merchant_category", Utf8, false),
        field("mcc", Int32, false),
        field("channel", Utf8, false),
        field("city", Utf8, true),
        field("country", Utf8, false),
        field("lat", Float64, true),
        field("lon", Float64, true),
        field("is_fraud", Boolean, false),
    ]))
}

pub(super) fn app_events() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("event_id", Int64, false),
        field("customer_id", Int64, false),
        field("session_id", Int64, false),
        field("ts", timestamp(), false),
        field("event_type", Utf8, false),
        field("platform", Utf8, false),
        field("ip_address", Utf8, false),
    ]))
}

pub(super) fn loans() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("loan_id", Int64, false),
        field("customer_id", Int64, false),
        field("application_date", Date32, false),
        field("amount", Float64, false),
        field("term_months", Int32, false),
        field("interest_rate", Float64, false),
        field("purpose", Utf8, false),
        field("annual_income", Float64, false),
        field("debt_to_income", Float64, false),
        field("credit_history_months", Int32, false),
        field("num_delinquencies", Int32, false),
        field("employment_years", Int32, false),
        field("home_ownership", Utf8, false),
        field("age_at_application", Int32, false),
        field("gender", Utf8, false),
        field("model_score", Float64, false),
        field("approved", Boolean, false),
        field("defaulted", Boolean, false),
    ]))
}

pub(super) fn consents() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("consent_id", Int64, false),
        field("customer_id", Int64, false),
        field("purpose", Utf8, false),
        field("granted_at", timestamp(), false),
        field("withdrawn_at", timestamp(), true),
        field("channel", Utf8, false),
    ]))
}

pub(super) fn campaigns() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("campaign_id", Int32, false),
        field("name", Utf8, false),
        field("channel", Utf8, false),
        field("start_date", Date32, false),
        field("end_date", Date32, false),
        field("cost_per_contact", Float64, false),
        field("fixed_cost", Float64, false),
    ]))
}

pub(super) fn campaign_responses() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("campaign_id", Int32, false),
        field("customer_id", Int64, false),
        field("group_name", Utf8, false),
        field("contacted_at", timestamp(), true),
        field("responded", Boolean, false),
        field("response_value", Float64, true),
    ]))
}

pub(super) fn market_prices() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("date", Date32, false),
        field("symbol", Utf8, false),
        field("asset_class", Utf8, false),
        field("close", Float64, false),
        field("volume", Int64, false),
    ]))
}

pub(super) fn positions() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("portfolio_id", Int64, false),
        field("customer_id", Int64, false),
        field("symbol", Utf8, false),
        field("quantity", Float64, false),
        field("opened_date", Date32, false),
    ]))
}

pub(super) fn products() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("product", Utf8, false),
        field("asset_class", Utf8, false),
        field("annual_volatility", Float64, false),
        field("risk_level", Int32, false),
    ]))
}

pub(super) fn branches() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("branch_id", Int32, false),
        field("name", Utf8, false),
        field("branch_type", Utf8, false),
        field("city", Utf8, false),
        field("region", Utf8, false),
        field("country", Utf8, false),
        field("lat", Float64, false),
        field("lon", Float64, false),
        field("opened_date", Date32, false),
        field("staff", Int32, false),
    ]))
}
