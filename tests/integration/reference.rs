//! The analytics functions against independent reference libraries
//! (lifetimes, scikit-learn, mlxtend, scipy, fairlearn, statsmodels,
//! scikit-uplift), computed live by the scripts in
//! `tests/reference/` from the venv `tests/run.sh` installs. Each script
//! drives the real binary and exits 1 on any mismatch. Without the venv the
//! tests are skipped, unless FINSIGHT_REQUIRE_REFERENCE=1 (as in CI).

use std::path::PathBuf;
use std::process::Command;

fn reference_python() -> Option<PathBuf> {
    crate::common::venv_python(
        "lifetimes, sklearn, mlxtend, pyarrow, empyrical, fairlearn, statsmodels, sklift, aif360, opendp",
    )
}

fn run_reference(script: &str, data: &str) {
    run_reference_in(
        script,
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(data),
        &[],
    );
}

/// Runs `script FINSIGHT DATA MORE...`.
fn run_reference_in(script: &str, data: &std::path::Path, more: &[&std::path::Path]) {
    let Some(python) = reference_python() else {
        assert!(
            std::env::var("FINSIGHT_REQUIRE_REFERENCE").is_err(),
            "FINSIGHT_REQUIRE_REFERENCE is set but no python with lifetimes, scikit-learn, empyrical, \
             mlxtend, fairlearn, statsmodels, scikit-uplift, aif360 and opendp was found (set FINSIGHT_PYTHON)"
        );
        eprintln!("skipping {script}: no python with the reference libraries (run tests/run.sh)");
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(python)
        .arg(root.join("tests/reference").join(script))
        .arg(env!("CARGO_BIN_EXE_finsight"))
        .arg(data)
        .args(more)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the reference script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn customer_models_match_lifetimes_on_cdnow() {
    run_reference("customer.py", "tests/data/cdnow");
}

#[test]
fn regression_clustering_and_rules_match_scikit_learn_and_mlxtend() {
    run_reference("segmentation.py", "tests/data");
}

#[test]
fn fairness_metrics_match_fairlearn_and_aif360_on_german_credit_and_demo_loans() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    run_reference_in("fairness.py", &data, &[crate::common::demo_dir()]);
}

#[test]
fn operations_statistics_match_scipy_statsmodels_and_scikit_uplift() {
    let work = tempfile::tempdir().expect("temp dir");
    run_reference_in("operations.py", work.path(), &[]);
}

#[test]
fn differential_privacy_matches_opendp_and_scipy() {
    let work = tempfile::tempdir().expect("temp dir");
    run_reference_in("dp.py", crate::common::demo_dir(), &[work.path()]);
}

#[test]
fn credit_risk_metrics_match_scikit_learn_and_scipy() {
    run_reference("risk.py", "tests/data");
}

#[test]
fn privacy_functions_match_hmac_and_pandas() {
    run_reference("privacy.py", "tests/data");
}

#[test]
fn isolation_forest_matches_scikit_learn_on_demo_card_fraud() {
    run_reference_in("anomaly.py", crate::common::demo_dir(), &[]);
}

#[test]
fn cleaning_functions_match_rapidfuzz_pandas_scipy_and_stdnum() {
    let work = tempfile::tempdir().expect("temp dir");
    run_reference_in("cleaning.py", work.path(), &[]);
}

#[test]
fn record_linkage_matches_pandas_rapidfuzz_and_scipy_on_demo_customers() {
    let work = tempfile::tempdir().expect("temp dir");
    run_reference_in("linkage.py", crate::common::demo_dir(), &[work.path()]);
}
