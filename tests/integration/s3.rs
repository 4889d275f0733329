//! s3:// through object_store against a real S3-compatible server on
//! loopback: moto in server mode, installed into a venv by `tests/run.sh`
//! (FINSIGHT_PYTHON). Without it the test says so and is skipped, unless
//! FINSIGHT_REQUIRE_S3=1 (as in CI), where a missing server fails.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

struct Moto {
    child: Child,
    port: u16,
    python: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("FINSIGHT_PYTHON")
        .map(PathBuf::from)
        .or_else(|| dirs_home().map(|h| h.join(".cache/finsight/venv/bin/python")))?;
    let has_moto = Command::new(&candidate)
        .args(["-c", "import moto.server, boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    has_moto.then_some(candidate)
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn start_moto() -> Option<Moto> {
    let Some(python) = python() else {
        assert!(
            std::env::var("FINSIGHT_REQUIRE_S3").is_err(),
            "FINSIGHT_REQUIRE_S3 is set but no python with moto[server] and boto3 was found (set FINSIGHT_PYTHON)"
        );
        eprintln!(
            "skipping S3 test: no python with moto[server] (run tests/run.sh, or set FINSIGHT_PYTHON)"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(&python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto server");
    let moto = Moto {
        child,
        port,
        python,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(moto)
}

impl Moto {
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs boto3 against the server, independently of finsight.
    fn boto(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n{code}",
            self.endpoint()
        );
        let output = Command::new(&self.python)
            .args(["-c", &script])
            .output()
            .expect("run boto3");
        assert!(
            output.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// Runs finsight with credentials and endpoint for `moto` in the environment.
fn run_s3(moto: &Moto, args: &[&str]) -> std::process::Output {
    finsight()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .args(args)
        .output()
        .expect("run finsight")
}

#[test]
fn s3_copy_create_external_table_and_dir_queries() {
    let Some(moto) = start_moto() else { return };
    moto.boto("s3.create_bucket(Bucket='bank')");
    let demo = demo_dir();

    // Write with COPY TO s3://, from the demo data.
    let output = run_s3(
        &moto,
        &[
            "--dir",
            demo.to_str().unwrap(),
            "-c",
            "COPY (SELECT customer_id, segment, income FROM customers) TO 's3://bank/customers/part-0.parquet' STORED AS PARQUET;",
        ],
    );
    assert_exit(&output, 0);

    // The object is really on the server.
    let listing =
        moto.boto("print([o['Key'] for o in s3.list_objects_v2(Bucket='bank')['Contents']])");
    assert!(listing.contains("customers/part-0.parquet"), "{listing}");

    // Read back through CREATE EXTERNAL TABLE and compare with the local copy.
    let sql = "CREATE EXTERNAL TABLE remote STORED AS PARQUET LOCATION 's3://bank/customers/';\n\
               SELECT count(*) AS n, round(sum(income), 2) AS s FROM remote;\n\
               SELECT count(*) AS n, round(sum(income), 2) AS s FROM customers;";
    let output = run_s3(
        &moto,
        &[
            "--dir",
            demo.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            sql,
        ],
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    let results: Vec<&str> = out.split("\n\n").filter(|s| !s.trim().is_empty()).collect();
    assert_eq!(results.len(), 2, "{out}");
    assert_eq!(
        results[0], results[1],
        "remote and local sums differ:\n{out}"
    );
    assert!(results[0].starts_with("n,s\n1000,"), "{out}");

    // An object can also be queried by its URL, as a file path can.
    let output = run_s3(
        &moto,
        &[
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM 's3://bank/customers/part-0.parquet';",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "n\n1000\n\n");
}

#[test]
fn s3_credentials_from_the_shared_config_files() {
    let Some(moto) = start_moto() else { return };
    moto.boto("s3.create_bucket(Bucket='cfg')\ns3.put_object(Bucket='cfg', Key='t/rates.csv', Body=b'currency,rate\\nGBP,1.0\\nCNY,0.11\\n')");
    let dir = scratch("s3-config");
    let credentials = write(
        &dir,
        "credentials",
        "[risk]\naws_access_key_id = test\naws_secret_access_key = test\n",
    );
    let config = write(
        &dir,
        "config",
        &format!(
            "[profile risk]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint()
        ),
    );
    let output = finsight()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT")
        .env("AWS_PROFILE", "risk")
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config)
        .args([
            "--format",
            "csv",
            "-c",
            "CREATE EXTERNAL TABLE rates STORED AS CSV LOCATION 's3://cfg/t/' OPTIONS ('format.has_header' 'true');\nSELECT rate FROM rates WHERE currency = 'CNY';",
        ])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("rate\n0.11"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn wrong_s3_endpoint_fails_fast_with_a_clear_error() {
    // Nothing listens on this port: the error must name the problem, quickly.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let started = Instant::now();
    let output = finsight()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .args([
            "-c",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://nowhere/data/';",
        ])
        .output()
        .expect("run");
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("127.0.0.1"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
