//! Every output format renders the same sample report (the RBAC-restricted
//! training pipeline: findings, a cause link, passes and coverage gaps); the
//! machine formats are parsed back and checked for what their consumers need.

use std::path::PathBuf;

use assert_cmd::Command;

fn doctor(format: &str) -> (i32, String) {
    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .args([
            "doctor",
            "--snapshot",
            "fixtures/rbac-restricted",
            "--select",
            "WKL,SCL001",
            "-o",
            format,
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn sample_report() -> serde_json::Value {
    serde_json::from_str(&doctor("json").1).unwrap()
}

#[test]
fn table() {
    insta::assert_snapshot!(doctor("table").1);
}

#[test]
fn json() {
    insta::assert_snapshot!(doctor("json").1);
}

#[test]
fn markdown() {
    insta::assert_snapshot!(doctor("markdown").1);
}

#[test]
fn github() {
    let (code, out) = doctor("github");
    assert_eq!(code, 1);
    for line in out.lines() {
        assert!(
            line.starts_with("::error ")
                || line.starts_with("::warning ")
                || line.starts_with("::notice "),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn junit_has_one_case_per_check() {
    let (code, xml) = doctor("junit");
    assert_eq!(code, 1);
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    let report = sample_report();
    let checks = report["checks"].as_array().unwrap();
    let suite = &parsed.test_suites[0];
    assert_eq!(
        suite.test_cases.len(),
        checks.len(),
        "one test case per check"
    );
    let failures = suite
        .test_cases
        .iter()
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
        .count();
    let skipped = suite
        .test_cases
        .iter()
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::Skipped { .. }))
        .count();
    assert_eq!(
        failures,
        report["summary"]["failed"].as_u64().unwrap() as usize
    );
    assert_eq!(
        skipped,
        report["summary"]["skipped"].as_u64().unwrap() as usize
    );
    assert!(
        skipped > 0,
        "the sample has a check skipped for lack of access"
    );
    insta::assert_snapshot!(xml);
}

#[test]
fn sarif_round_trips_with_rules_and_locations() {
    let (code, text) = doctor("sarif");
    assert_eq!(code, 1);
    let sarif: serde_sarif::sarif::Sarif = serde_json::from_str(&text).expect("SARIF parses back");
    assert_eq!(sarif.version, serde_json::json!("2.1.0"));
    let run = &sarif.runs[0];
    let rules = run.tool.driver.rules.as_ref().expect("rules");
    let results = run.results.as_ref().expect("results");
    assert_eq!(
        results.len(),
        sample_report()["findings"].as_array().unwrap().len()
    );
    let findings = sample_report()["findings"].as_array().unwrap().clone();
    for (result, finding) in results.iter().zip(&findings) {
        // A symptom points at the root of its incident.
        let related = result.related_locations.as_ref();
        assert_eq!(
            related.is_some(),
            finding.get("root").is_some(),
            "{finding}"
        );
        if let Some(related) = related {
            let message = related[0].message.as_ref().unwrap().text.as_ref().unwrap();
            assert!(message.starts_with("root cause: "), "{message}");
        }
        let id = result.rule_id.as_ref().expect("ruleId");
        let index = result.rule_index.expect("ruleIndex") as usize;
        assert_eq!(&rules[index].id, id);
        assert!(
            rules[index].help.is_some(),
            "rules carry their documentation"
        );
        let location = &result.locations.as_ref().unwrap()[0];
        let logical = location.logical_locations.as_ref().unwrap();
        assert!(
            logical[0]
                .fully_qualified_name
                .as_ref()
                .unwrap()
                .starts_with("flts/")
        );
    }
    insta::assert_snapshot!(text);
}

#[test]
fn prometheus() {
    let (code, text) = doctor("prometheus");
    assert_eq!(code, 1);
    assert!(text.ends_with("# EOF\n"));
    // The run's time and duration differ on every run.
    insta::with_settings!({filters => vec![
        (r"(?m)^(mlopsctl_last_run_timestamp_seconds|mlopsctl_run_duration_seconds) \S+$", "$1 [seconds]"),
    ]}, {
        insta::assert_snapshot!(text);
    });
}
