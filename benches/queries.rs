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

/// The CDNOW estimates of Fader, Hardie and Lee (2005).
const CDNOW: udfs::customer::BgNbd = udfs::customer::BgNbd {
    r: 0.243,
    alpha: 4.414,
    a: 0.793,
    b: 2.426,
};

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
        (
            "woe_iv_1m_rows",
            "SELECT woe_iv(amount, customer_id % 7 = 0, [100, 300, 600, 900])['iv'] FROM tx",
        ),
        (
            "risk_scores_1m_rows",
            "SELECT auc(amount, customer_id % 7 = 0), gini(amount, customer_id % 7 = 0), \
             ks_statistic(amount, customer_id % 7 = 0), psi_scores(amount, customer_id % 2 = 0, 10) FROM tx",
        ),
        (
            // Ten groups of text, label and prediction from the row number.
            "fairness_gaps_1m_rows_10_groups",
            "SELECT demographic_parity_diff(g, l, p), equalized_odds_diff(g, l, p) FROM \
             (SELECT 'group_' || CAST(customer_id % 10 AS VARCHAR) AS g, \
                     CAST(customer_id % 3 = 0 AS INT) AS l, CAST(amount > 600 AS INT) AS p FROM tx)",
        ),
        (
            "calibration_and_thresholds_1m_rows_10_groups",
            "SELECT (SELECT count(*) FROM calibration_by_group('SELECT customer_id % 10, \
             CAST(customer_id % 3 = 0 AS INT), amount / 1400.0 FROM tx')) AS bins, \
             (SELECT count(*) FROM group_thresholds('SELECT customer_id % 10, \
             CAST(customer_id % 3 = 0 AS INT), amount, CAST(amount > 600 AS INT) FROM tx', 'selection_rate')) AS thresholds",
        ),
        (
            "ab_tests_1m_rows_100_campaigns",
            "SELECT customer_id % 100, ab_test_proportions(customer_id % 2 = 0, amount > 600), \
             ab_test_means(customer_id % 2 = 0, amount) FROM tx GROUP BY 1",
        ),
        (
            "chi_square_elasticity_qini_1m_rows",
            "SELECT chi_square_test(customer_id % 7, customer_id % 5), \
             price_elasticity(amount + 1, lat), \
             qini_coefficient(lon, customer_id % 2, CAST(amount > 600 AS INT)) FROM tx",
        ),
        (
            "binning_1m_rows",
            "SELECT equal_width_edges(amount, 10), equal_frequency_edges(amount, 10), \
             monotonic_edges(amount, customer_id % 7 = 0, 20) FROM tx",
        ),
        (
            "binning_table_1m_rows",
            "SELECT count(*) FROM binning_table('SELECT amount, customer_id % 7 = 0 FROM tx', 'monotonic', 20)",
        ),
        (
            "scorecard_points_reason_codes_1m_rows",
            "SELECT sum(scorecard_points(0.01 + (amount / 1400.0), 600, 50, 20)), \
             count(reason_codes(['a', 'b'], [amount, lat], [1400.0, 60.0], 1)) FROM tx",
        ),
        (
            "psi_10k_bins",
            "SELECT psi(e, a) FROM (SELECT count(*) FILTER (WHERE lat < 54) AS e, \
             count(*) FILTER (WHERE lat >= 54) AS a FROM tx GROUP BY customer_id)",
        ),
        (
            "zscores_1m_rows_10k_partitions",
            "SELECT count(z), count(r) FROM (SELECT zscore(amount) OVER (PARTITION BY customer_id) AS z, \
             robust_zscore(amount) OVER (PARTITION BY customer_id) AS r FROM tx)",
        ),
        (
            "ewma_volatility_1m_rows",
            "SELECT count(v) FROM (SELECT ewma_volatility(amount / 1000.0, 0.94) \
             OVER (PARTITION BY customer_id ORDER BY lat) AS v FROM tx)",
        ),
        (
            "benford_test_1m_rows",
            "SELECT benford_test(amount)['chi_square'] FROM tx",
        ),
        (
            "market_risk_1m_rows_10k_groups",
            "SELECT count(a), count(b), count(c), count(d), count(e), count(f), count(g) FROM ( \
             SELECT customer_id, var_parametric(amount, 0.99) AS a, var_cornish_fisher(amount, 0.99) AS b, \
             expected_shortfall(amount, 0.975) AS c, sharpe_ratio(amount, 0, 252) AS d, \
             sortino_ratio(amount, 500, 252) AS e, beta(amount, lat) AS f, \
             max_drawdown(amount / 1e4, CAST(lon * 100 AS BIGINT)) AS g FROM tx GROUP BY customer_id)",
        ),
        (
            "var_monte_carlo_10k_draws_100_groups",
            "SELECT count(v) FROM (SELECT customer_id % 100 AS g, var_monte_carlo(amount, 0.99, 10, 1000, 7) AS v \
             FROM tx GROUP BY customer_id % 100)",
        ),
        (
            "var_historical_1m_rows_10k_groups",
            "SELECT count(v) FROM (SELECT customer_id, var_historical(amount, 0.99) AS v \
             FROM tx GROUP BY customer_id)",
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

fn bench_customer(c: &mut Criterion) {
    use datafusion::arrow::array::{Int64Array, StructArray};
    let config_options = Arc::new(ConfigOptions::default());
    let h = udfs::customer::BgNbdHistories::simulate(&CDNOW, BATCH_SIZE, 1);
    let model_column = |v: f64| -> ArrayRef { column(std::iter::repeat_n(v, BATCH_SIZE)) };
    // The model arrives as a column (a cross join with the fitted model).
    let model: ArrayRef = Arc::new(StructArray::from(vec![
        (
            Arc::new(Field::new("r", DataType::Float64, true)),
            model_column(0.243),
        ),
        (
            Arc::new(Field::new("alpha", DataType::Float64, true)),
            model_column(4.414),
        ),
        (
            Arc::new(Field::new("a", DataType::Float64, true)),
            model_column(0.793),
        ),
        (
            Arc::new(Field::new("b", DataType::Float64, true)),
            model_column(2.426),
        ),
    ]));
    let invoke = |udf: &ScalarUDF, args: Vec<ColumnarValue>, return_type: DataType| {
        let arg_fields = args
            .iter()
            .enumerate()
            .map(|(i, a)| Arc::new(Field::new(format!("a{i}"), a.data_type(), true)))
            .collect();
        udf.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: BATCH_SIZE,
            return_field: Arc::new(Field::new("out", return_type, true)),
            config_options: Arc::clone(&config_options),
        })
    };
    let mut group = c.benchmark_group("customer");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    let p_alive = ScalarUDF::from(udfs::customer::BgNbdPAliveFunc::new());
    let args = vec![
        ColumnarValue::Array(Arc::clone(&model)),
        ColumnarValue::Array(column(h.x.iter().copied())),
        ColumnarValue::Array(column(h.t_x.iter().copied())),
        ColumnarValue::Array(column(h.t.iter().copied())),
    ];
    group.bench_function("bgnbd_p_alive", |b| {
        b.iter(|| black_box(invoke(&p_alive, args.clone(), DataType::Float64)))
    });
    let rfm = ScalarUDF::from(udfs::customer::RfmSegmentFunc::new());
    let score = |k: i64| -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from_iter_values(
            (0..BATCH_SIZE as i64).map(|i| (i * k + i / 7) % 5 + 1),
        )))
    };
    let args = vec![score(1), score(3), score(7)];
    group.bench_function("rfm_segment", |b| {
        b.iter(|| black_box(invoke(&rfm, args.clone(), DataType::Utf8)))
    });
    group.finish();

    let mut group = c.benchmark_group("customer_recommendation");
    // Holdings: 100,000 clients with 1-6 of 40 products, popular products
    // more likely (product k with weight 1/(k+1)).
    let baskets = {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let weights: Vec<f64> = (0..40).map(|k| 1.0 / (k as f64 + 1.0)).collect();
        let total: f64 = weights.iter().sum();
        let mut baskets = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            let mut basket: Vec<u32> = (0..rng.random_range(1..=6))
                .map(|_| {
                    let mut u = rng.random_range(0.0..total);
                    weights
                        .iter()
                        .position(|w| {
                            u -= w;
                            u < 0.0
                        })
                        .unwrap_or(39) as u32
                })
                .collect();
            basket.sort_unstable();
            basket.dedup();
            baskets.push(basket);
        }
        udfs::customer::IndexedBaskets {
            baskets,
            names: (0..40).map(|k| format!("product{k}")).collect(),
        }
    };
    group.throughput(Throughput::Elements(baskets.baskets.len() as u64));
    group.bench_function("item_similarity_100k_baskets", |b| {
        b.iter(|| black_box(udfs::customer::similar_items(&baskets, 1)))
    });
    group.finish();

    let mut group = c.benchmark_group("customer_fit");
    group.sample_size(10);
    for customers in [100_000usize, 1_000_000] {
        let h = udfs::customer::BgNbdHistories::simulate(&CDNOW, customers, 7);
        group.throughput(Throughput::Elements(customers as u64));
        group.bench_function(BenchmarkId::new("bgnbd_fit", customers), |b| {
            b.iter(|| black_box(udfs::customer::fit_bgnbd(&h).expect("fit")))
        });
    }
    group.finish();
}

/// Credit-risk and market-risk kernels on 1M rows: the sort or selection
/// that dominates auc, ks_statistic, monotonic_edges and var_historical.
fn bench_risk(c: &mut Criterion) {
    use rand::{Rng, SeedableRng};
    let rows = 1_000_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let labels: Vec<f64> = (0..rows)
        .map(|_| if rng.random_bool(0.05) { 1.0 } else { 0.0 })
        .collect();
    let scores: Vec<f64> = labels
        .iter()
        .map(|l| rng.random_range(0.0..1.0) + 0.3 * l)
        .collect();
    let amounts: Vec<f64> = (0..rows)
        .map(|_| (rng.random_range(0.0..10.0f64)).exp().round())
        .collect();
    let mut group = c.benchmark_group("risk");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("auc_1m", |b| {
        b.iter(|| {
            black_box(udfs::risk::auc(&udfs::risk::ClassScores::new(
                &scores, &labels,
            )))
        })
    });
    group.bench_function("ks_statistic_1m", |b| {
        b.iter(|| {
            black_box(udfs::risk::ks_statistic(&udfs::risk::ClassScores::new(
                &scores, &labels,
            )))
        })
    });
    group.bench_function("monotonic_edges_1m_20_bins", |b| {
        b.iter(|| black_box(udfs::risk::monotonic(&amounts, &labels, 20)))
    });
    group.bench_function("var_historical_1m", |b| {
        b.iter(|| {
            let mut pnl = scores.clone();
            black_box(udfs::risk::var_historical(&mut pnl, 0.99))
        })
    });
    group.finish();
}

/// The privacy kernels through their UDFs, on 8,192 realistic values, with
/// the test keyring's keys.
fn bench_privacy(c: &mut Criterion) {
    use datafusion::arrow::array::StringArray;
    let keyring = Arc::new(
        udfs::Keyring::from_file(std::path::Path::new("tests/data/keyring/test.keyring"))
            .expect("test keyring"),
    );
    let functions: std::collections::HashMap<String, ScalarUDF> =
        udfs::scalar_functions_with_keyring(&keyring)
            .into_iter()
            .map(|f| (f.name().to_string(), f))
            .collect();
    let config_options = Arc::new(ConfigOptions::default());
    let strings = |f: &dyn Fn(usize) -> String| -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from_iter_values(
            (0..BATCH_SIZE).map(f),
        )))
    };
    let emails = strings(&|i| format!("customer.{i}@example{}.com", i % 7));
    let cards = strings(&|i| {
        let payload = format!("4{:014}", i as u64 * 7_919_113);
        format!(
            "{payload}{}",
            udfs::privacy::luhn_check_digit(payload.as_bytes())
        )
    });
    let phones = strings(&|i| format!("+86138{:08}", i * 37));
    let names = strings(&|i| {
        if i % 2 == 0 {
            "张三丰".to_string()
        } else {
            format!("John Smith{i}")
        }
    });
    let texts =
        strings(&|i| format!("Payment {i} of 12.50 GBP, call +447700{i:06} or mail a{i}@bank.com"));
    let text = |v: &str| ColumnarValue::Scalar(ScalarValue::Utf8(Some(v.to_string())));
    let cases: Vec<(&str, &str, Vec<ColumnarValue>)> = vec![
        ("mask_email", "mask_email", vec![emails.clone()]),
        ("mask_card_pan", "mask_card_pan", vec![cards.clone()]),
        ("mask_phone", "mask_phone", vec![phones]),
        ("mask_name", "mask_name", vec![names]),
        (
            "pseudonymize_email_hex",
            "pseudonymize",
            vec![emails.clone(), text("test_hmac")],
        ),
        (
            "pseudonymize_card_base64url",
            "pseudonymize",
            vec![cards.clone(), text("test_hmac"), text("base64url")],
        ),
        (
            "tokenize_fpe_card_luhn",
            "tokenize_fpe",
            vec![cards.clone(), text("test_fpe"), text("luhn")],
        ),
        ("detect_pii_free_text", "detect_pii", vec![texts]),
    ];
    let mut group = c.benchmark_group("privacy");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    for (label, name, args) in cases {
        let udf = &functions[name];
        let arg_fields: Vec<_> = args
            .iter()
            .enumerate()
            .map(|(i, _)| Arc::new(Field::new(format!("a{i}"), DataType::Utf8, true)))
            .collect();
        let return_type = udf
            .return_type(&vec![DataType::Utf8; args.len()])
            .expect("return type");
        group.bench_function(label, |b| {
            b.iter(|| {
                black_box(udf.invoke_with_args(ScalarFunctionArgs {
                    args: args.clone(),
                    arg_fields: arg_fields.clone(),
                    number_rows: BATCH_SIZE,
                    return_field: Arc::new(Field::new("r", return_type.clone(), true)),
                    config_options: Arc::clone(&config_options),
                }))
                .expect("privacy function")
            })
        });
    }
    group.finish();
}

/// Reading the demo transactions (scale 0.2, about 1.1M rows) from a plain
/// Parquet copy and from one encrypted with Parquet modular encryption
/// (AES-GCM, footer and every column), both written by the same COPY.
fn bench_parquet_encryption(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    // `cargo test --all-targets` runs each bench once as a smoke test: a
    // small table is enough there.
    let measuring = std::env::args().any(|a| a == "--bench");
    let scale = if measuring { 0.2 } else { 0.005 };
    let dir = std::env::temp_dir().join(format!("finsight-bench-encryption-{scale}"));
    finsight::demo::generate(&finsight::demo::DemoOptions {
        dir: dir.join("demo"),
        scale,
        seed: 42,
        force: false,
        progress: false,
    })
    .expect("demo data");
    let keyring = udfs::Keyring::from_file(std::path::Path::new("tests/data/keyring/test.keyring"))
        .expect("test keyring");
    let options = finsight::SessionOptions {
        data_dir: Some(dir.join("demo")),
        keyring: Arc::new(keyring),
        ..finsight::SessionOptions::default()
    };
    let ctx = runtime
        .block_on(finsight::session::new_session(&options))
        .expect("session");
    let plain = dir.join("transactions_plain.parquet");
    let encrypted = dir.join("transactions_encrypted.parquet");
    for (path, crypto) in [
        (&plain, String::new()),
        (
            &encrypted,
            ", 'format.crypto.factory_id' 'finsight', \
             'format.crypto.factory_options.footer_key' 'test_footer'"
                .to_string(),
        ),
    ] {
        let sql = format!(
            "COPY (SELECT * FROM transactions) TO '{}' STORED AS PARQUET \
             OPTIONS ('format.compression' 'zstd(1)'{crypto})",
            path.display()
        );
        runtime
            .block_on(async { ctx.sql(&sql).await?.collect().await })
            .expect("write copy");
    }
    let mut group = c.benchmark_group("parquet_encryption");
    group.sample_size(10);
    for (label, path) in [("plain", &plain), ("encrypted", &encrypted)] {
        let sql = format!(
            "SELECT count(*), sum(amount), count(DISTINCT merchant_id), max(ts), min(city) FROM '{}'",
            path.display()
        );
        group.bench_function(format!("scan_transactions_{label}"), |b| {
            b.iter(|| {
                runtime
                    .block_on(async { ctx.sql(&sql).await?.collect().await })
                    .expect("scan")
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_haversine_km,
    bench_sql,
    bench_customer,
    bench_risk,
    bench_privacy,
    bench_parquet_encryption
);
criterion_main!(benches);
