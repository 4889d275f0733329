//! Reading Parquet, CSV and JSON from files, folders and Hive-style
//! partitions, COPY ... TO Parquet, and what bad files give.

use crate::common::*;

#[test]
fn dir_registers_files_folders_and_hive_partitions() {
    let dir = scratch("data-dir");
    write(&dir, "rates.csv", "currency,rate\nGBP,1.0\nCNY,0.11\n");
    write(
        &dir,
        "events.ndjson",
        "{\"id\":1,\"kind\":\"login\"}\n{\"id\":2,\"kind\":\"logout\"}\n",
    );
    let sales = dir.join("sales");
    // Write a Hive-partitioned Parquet folder with finsight itself.
    let setup = format!(
        "COPY (SELECT * FROM (VALUES ('north', 10.5), ('north', 4.5), ('south', 7.0)) AS v(region, amount)) \
         TO '{}' STORED AS PARQUET PARTITIONED BY (region);",
        sales.display()
    );
    assert_exit(&run(&["-c", &setup]), 0);
    assert!(sales.join("region=north").is_dir(), "hive folders written");

    let query = "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY region;\n\
                 SELECT rate FROM rates WHERE currency = 'CNY';\n\
                 SELECT kind FROM events WHERE id = 2;";
    let output = run(&[
        "--dir",
        dir.to_str().unwrap(),
        "--format",
        "csv",
        "-c",
        query,
    ]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(out.contains("region,total\nnorth,15.0\nsouth,7.0"), "{out}");
    assert!(out.contains("rate\n0.11"), "{out}");
    assert!(out.contains("kind\nlogout"), "{out}");
}

#[test]
fn create_external_table_and_copy_round_trip() {
    let dir = scratch("data-copy");
    let target = dir.join("out.parquet");
    let sql = format!(
        "COPY (SELECT value AS id, value * 1.5 AS amount FROM generate_series(1, 1000)) TO '{target}' STORED AS PARQUET;\n\
         CREATE EXTERNAL TABLE copied STORED AS PARQUET LOCATION '{target}';\n\
         SELECT count(*) AS n, sum(amount) AS total FROM copied;\n\
         CREATE EXTERNAL TABLE copied_url STORED AS PARQUET LOCATION 'file://{target}';\n\
         SELECT max(id) AS m FROM copied_url;",
        target = target.display()
    );
    let output = run(&["--format", "csv", "-c", &sql]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    // sum(1.5 * i, i = 1..1000) = 1.5 * 500500
    assert!(out.contains("n,total\n1000,750750.0"), "{out}");
    assert!(out.contains("m\n1000"), "{out}");
}

#[test]
fn malformed_and_missing_files_give_one_clear_error() {
    let dir = scratch("data-bad");
    write(&dir, "broken.parquet", "this is not parquet at all");
    let sql = format!(
        "CREATE EXTERNAL TABLE broken STORED AS PARQUET LOCATION '{}';",
        dir.join("broken.parquet").display()
    );
    let output = run(&["-c", &sql]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).to_lowercase().contains("parquet"),
        "{}",
        stderr(&output)
    );

    let sql =
        "CREATE EXTERNAL TABLE gone STORED AS PARQUET LOCATION '/nonexistent/finsight/x.parquet';";
    let output = run(&["-c", sql]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("/nonexistent/finsight/x.parquet"),
        "{}",
        stderr(&output)
    );

    // A data directory with a broken file names the table and the file.
    let output = run(&["--dir", dir.to_str().unwrap(), "-c", "SELECT 1"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("cannot register table broken"),
        "{}",
        stderr(&output)
    );

    let output = run(&["--dir", "/nonexistent/finsight-dir", "-c", "SELECT 1"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn malformed_csv_rows_are_reported_with_context() {
    let dir = scratch("data-csv");
    write(&dir, "bad.csv", "id,amount\n1,10.5\n2,not_a_number\n");
    let sql = format!(
        "CREATE EXTERNAL TABLE t (id INT, amount DOUBLE) STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true');\nSELECT sum(amount) FROM t;",
        dir.join("bad.csv").display()
    );
    let output = run(&["-c", &sql]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("not_a_number"), "{err}");
}

#[test]
fn an_empty_parquet_file_is_an_error_naming_it_not_an_empty_table() {
    let dir = scratch("data-empty-parquet");
    std::fs::create_dir_all(dir.join("events")).expect("dir");
    write(&dir.join("events"), "part-0.parquet", "");
    let output = run(&[
        "--dir",
        dir.to_str().unwrap(),
        "-c",
        "SELECT count(*) FROM events",
    ]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("part-0.parquet is not a Parquet file (0 bytes"),
        "{err}"
    );
}
