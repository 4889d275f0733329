//! Criterion benches: finsight's kernels on 8,192-row batches (DataFusion's
//! default batch size) and end-to-end SQL through the session factory.
//!
//!   cargo bench --bench queries
//!   cargo bench --bench queries -- --save-baseline main   # then --baseline main

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::ScalarValue;
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use udfs::operations::HaversineKmFunc;

const BATCH_SIZE: usize = 8192;

fn column(values: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(values))
}

fn bench_haversine_km(c: &mut Criterion) {
    let udf = ScalarUDF::from(HaversineKmFunc::new());
    let config_options = Arc::new(ConfigOptions::default());
    let lat = ColumnarValue::Array(column((0..BATCH_SIZE).map(|i| -60.0 + (i % 120) as f64)));
    let lon = ColumnarValue::Array(column((0..BATCH_SIZE).map(|i| -170.0 + (i % 340) as f64)));
    let cases = [
        ("array_array", lat.clone(), lon.clone()),
        (
            "array_scalar",
            ColumnarValue::Scalar(ScalarValue::Float64(Some(51.5))),
            ColumnarValue::Scalar(ScalarValue::Float64(Some(-0.12))),
        ),
    ];
    let mut group = c.benchmark_group("haversine_km");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    for (name, lat2, lon2) in cases {
        let args = vec![lat.clone(), lon.clone(), lat2, lon2];
        let arg_fields: Vec<_> = ["lat1", "lon1", "lat2", "lon2"]
            .iter()
            .map(|n| Arc::new(Field::new(*n, DataType::Float64, true)))
            .collect();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                black_box(udf.invoke_with_args(ScalarFunctionArgs {
                    args: args.clone(),
                    arg_fields: arg_fields.clone(),
                    number_rows: BATCH_SIZE,
                    return_field: Arc::new(Field::new("d", DataType::Float64, true)),
                    config_options: Arc::clone(&config_options),
                }))
            })
        });
    }
    group.finish();
}

fn bench_sql(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let ctx = finsight::session::new_session_without_tables(&finsight::SessionOptions::default())
        .expect("session");
    runtime
        .block_on(async {
            ctx.sql(
                "CREATE TABLE tx AS SELECT value % 10000 AS customer_id, \
                 CAST(value % 997 AS DOUBLE) * 1.37 AS amount, \
                 50.0 + (value % 90) * 0.1 AS lat, (value % 170) * 0.5 AS lon \
                 FROM generate_series(1, 1000000)",
            )
            .await?
            .collect()
            .await
        })
        .expect("setup table");
    let queries = [
        (
            "per_customer_aggregate",
            "SELECT customer_id, count(*), sum(amount) FROM tx GROUP BY customer_id",
        ),
        (
            "haversine_1m_rows",
            "SELECT sum(haversine_km(lat, lon, 51.5, -0.12)) FROM tx",
        ),
    ];
    let mut group = c.benchmark_group("sql");
    group.sample_size(10);
    for (name, sql) in queries {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                black_box(
                    ctx.sql(sql)
                        .await
                        .expect("plan")
                        .collect()
                        .await
                        .expect("run"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_haversine_km, bench_sql);
criterion_main!(benches);
