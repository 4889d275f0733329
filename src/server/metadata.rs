//! The Flight SQL metadata calls: server information, the SQL types, and the
//! catalogs, schemas and tables as the calling user's session sees them
//! (tables a role may not read are not there; masked columns have their
//! masked types).

use std::sync::{Arc, LazyLock};

use arrow_flight::sql::metadata::{
    GetCatalogsBuilder, GetDbSchemasBuilder, GetTablesBuilder, SqlInfoData, SqlInfoDataBuilder,
    XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity,
    SqlSupportedTransaction, XdbcDataType, XdbcDatetimeSubcode,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::TableType;
use datafusion::prelude::SessionContext;
use tonic::Status;

use super::query::{Limits, client_schema};

/// The table types a session can hold.
pub const TABLE_TYPES: [&str; 3] = ["TABLE", "VIEW", "LOCAL TEMPORARY"];

fn table_type_name(table_type: TableType) -> &'static str {
    match table_type {
        TableType::Base => "TABLE",
        TableType::View => "VIEW",
        TableType::Temporary => "LOCAL TEMPORARY",
    }
}

/// What GetSqlInfo answers.
pub fn sql_info(limits: &Limits) -> Result<SqlInfoData, Status> {
    let mut builder = SqlInfoDataBuilder::new();
    builder.append(SqlInfo::FlightSqlServerName, "finsight");
    builder.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow IPC format version (Schema.fbs MetadataVersion V5).
    builder.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    // Governed tables cannot be modified; a session may still create views.
    builder.append(SqlInfo::FlightSqlServerReadOnly, true);
    builder.append(SqlInfo::FlightSqlServerSql, true);
    builder.append(SqlInfo::FlightSqlServerSubstrait, false);
    builder.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    builder.append(SqlInfo::FlightSqlServerCancel, true);
    builder.append(
        SqlInfo::FlightSqlServerStatementTimeout,
        i32::try_from(limits.query_timeout.as_secs()).unwrap_or(i32::MAX),
    );
    builder.append(SqlInfo::SqlDdlCatalog, false);
    builder.append(SqlInfo::SqlDdlSchema, false);
    builder.append(SqlInfo::SqlDdlTable, false);
    builder.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    builder.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    builder.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32,
    );
    builder.append(SqlInfo::SqlAllTablesAreSelectable, true);
    builder.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    builder.append(SqlInfo::SqlSupportsColumnAliasing, true);
    builder.append(SqlInfo::SqlNullPlusNullIsNull, true);
    builder.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    builder.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    builder.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    builder.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    builder.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    builder.append(SqlInfo::SqlSearchStringEscape, "\\");
    builder.append(SqlInfo::SqlSchemaTerm, "schema");
    builder.append(SqlInfo::SqlCatalogTerm, "catalog");
    builder.append(SqlInfo::SqlCatalogAtStart, true);
    builder.append(SqlInfo::SqlTransactionsSupported, false);
    builder
        .build()
        .map_err(|e| Status::internal(format!("SqlInfo: {e}")))
}

fn xdbc(
    name: &str,
    data_type: XdbcDataType,
    column_size: Option<i32>,
    literal: Option<(&str, &str)>,
    subcode: Option<XdbcDatetimeSubcode>,
) -> XdbcTypeInfo {
    let numeric = matches!(
        data_type,
        XdbcDataType::XdbcTinyint
            | XdbcDataType::XdbcSmallint
            | XdbcDataType::XdbcInteger
            | XdbcDataType::XdbcBigint
            | XdbcDataType::XdbcReal
            | XdbcDataType::XdbcFloat
            | XdbcDataType::XdbcDouble
            | XdbcDataType::XdbcDecimal
    );
    let sql_data_type = if subcode.is_some() {
        XdbcDataType::XdbcDatetime
    } else {
        data_type
    };
    XdbcTypeInfo {
        type_name: name.into(),
        data_type,
        column_size,
        literal_prefix: literal.map(|l| l.0.to_string()),
        literal_suffix: literal.map(|l| l.1.to_string()),
        create_params: (data_type == XdbcDataType::XdbcDecimal)
            .then(|| vec!["precision".to_string(), "scale".to_string()]),
        nullable: Nullable::NullabilityNullable,
        case_sensitive: matches!(data_type, XdbcDataType::XdbcVarchar),
        searchable: Searchable::Full,
        unsigned_attribute: numeric.then_some(false),
        fixed_prec_scale: data_type == XdbcDataType::XdbcDecimal,
        auto_increment: numeric.then_some(false),
        local_type_name: Some(name.into()),
        minimum_scale: (data_type == XdbcDataType::XdbcDecimal).then_some(0),
        maximum_scale: (data_type == XdbcDataType::XdbcDecimal).then_some(38),
        sql_data_type,
        datetime_subcode: subcode,
        num_prec_radix: numeric.then_some(10),
        interval_precision: None,
    }
}

/// The SQL types of GetXdbcTypeInfo, as DataFusion's SQL names them.
static XDBC_TYPES: LazyLock<Result<XdbcTypeInfoData, String>> = LazyLock::new(|| {
    use XdbcDataType as T;
    let mut builder = XdbcTypeInfoDataBuilder::new();
    let quoted = Some(("'", "'"));
    for info in [
        xdbc("BOOLEAN", T::XdbcBit, Some(1), None, None),
        xdbc("TINYINT", T::XdbcTinyint, Some(3), None, None),
        xdbc("SMALLINT", T::XdbcSmallint, Some(5), None, None),
        xdbc("INTEGER", T::XdbcInteger, Some(10), None, None),
        xdbc("BIGINT", T::XdbcBigint, Some(19), None, None),
        xdbc("REAL", T::XdbcReal, Some(7), None, None),
        xdbc("DOUBLE", T::XdbcDouble, Some(15), None, None),
        xdbc("DECIMAL", T::XdbcDecimal, Some(38), None, None),
        xdbc("VARCHAR", T::XdbcVarchar, None, quoted, None),
        xdbc("BYTEA", T::XdbcVarbinary, None, Some(("X'", "'")), None),
        xdbc(
            "DATE",
            T::XdbcDate,
            Some(10),
            Some(("DATE '", "'")),
            // ODBC's SQL_CODE_DATE is 1, which prost names after its alias YEAR.
            Some(XdbcDatetimeSubcode::XdbcSubcodeYear),
        ),
        xdbc(
            "TIME",
            T::XdbcTime,
            Some(15),
            Some(("TIME '", "'")),
            Some(XdbcDatetimeSubcode::XdbcSubcodeTime),
        ),
        xdbc(
            "TIMESTAMP",
            T::XdbcTimestamp,
            Some(26),
            Some(("TIMESTAMP '", "'")),
            Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
        ),
        xdbc(
            "INTERVAL",
            T::XdbcInterval,
            None,
            Some(("INTERVAL '", "'")),
            None,
        ),
    ] {
        builder.append(info);
    }
    builder.build().map_err(|e| e.to_string())
});

pub fn xdbc_types() -> Result<&'static XdbcTypeInfoData, Status> {
    XDBC_TYPES.as_ref().map_err(|e| Status::internal(e.clone()))
}

/// Every (catalog, schema, table) of the session, with its type and schema.
async fn tables(ctx: &SessionContext) -> Vec<(String, String, String, &'static str, SchemaRef)> {
    let mut out = Vec::new();
    let mut catalogs = ctx.catalog_names();
    catalogs.sort();
    for catalog_name in catalogs {
        let Some(catalog) = ctx.catalog(&catalog_name) else {
            continue;
        };
        let mut schemas = catalog.schema_names();
        schemas.sort();
        for schema_name in schemas {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            let mut names = schema.table_names();
            names.sort();
            for name in names {
                // A table that fails to open (a file removed since start) is
                // left out of the listing rather than failing it.
                // Tables the role may not read are left out, as BI tools
                // would otherwise offer them and fail.
                if let Ok(Some(table)) = schema.table(&name).await
                    && !crate::governance::is_denied_table(table.as_ref())
                {
                    out.push((
                        catalog_name.clone(),
                        schema_name.clone(),
                        name,
                        table_type_name(table.table_type()),
                        client_schema(&table.schema()),
                    ));
                }
            }
        }
    }
    out
}

pub fn catalogs(
    ctx: &SessionContext,
    mut builder: GetCatalogsBuilder,
) -> Result<RecordBatch, Status> {
    let mut names = ctx.catalog_names();
    names.sort();
    for name in names {
        builder.append(name);
    }
    builder.build().map_err(Status::from)
}

pub fn db_schemas(
    ctx: &SessionContext,
    mut builder: GetDbSchemasBuilder,
) -> Result<RecordBatch, Status> {
    for catalog_name in ctx.catalog_names() {
        if let Some(catalog) = ctx.catalog(&catalog_name) {
            for schema in catalog.schema_names() {
                builder.append(&catalog_name, schema);
            }
        }
    }
    builder.build().map_err(Status::from)
}

pub async fn get_tables(
    ctx: &SessionContext,
    mut builder: GetTablesBuilder,
) -> Result<RecordBatch, Status> {
    for (catalog, schema, name, table_type, table_schema) in tables(ctx).await {
        builder
            .append(catalog, schema, name, table_type, &table_schema)
            .map_err(Status::from)?;
    }
    builder.build().map_err(Status::from)
}

/// GetPrimaryKeys: finsight tables declare no keys, so an empty result of
/// the schema the specification gives.
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// GetExportedKeys, GetImportedKeys and GetCrossReference: no foreign keys.
pub fn foreign_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("pk_catalog_name", DataType::Utf8, true),
        Field::new("pk_db_schema_name", DataType::Utf8, true),
        Field::new("pk_table_name", DataType::Utf8, false),
        Field::new("pk_column_name", DataType::Utf8, false),
        Field::new("fk_catalog_name", DataType::Utf8, true),
        Field::new("fk_db_schema_name", DataType::Utf8, true),
        Field::new("fk_table_name", DataType::Utf8, false),
        Field::new("fk_column_name", DataType::Utf8, false),
        Field::new("key_sequence", DataType::Int32, false),
        Field::new("fk_key_name", DataType::Utf8, true),
        Field::new("pk_key_name", DataType::Utf8, true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}
