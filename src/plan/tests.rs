//! Every shipped fix, end to end offline: plan it on its fixture, apply its
//! operations as the API server (or the Kafka AdminClient) would, and run the
//! check again on the changed view. Creations, deletions and topics go through
//! [`apply_to_view`], the same path `mlopsctl fix --snapshot` takes.

use std::path::PathBuf;

use super::verify::{Verification, apply_to_view, verify};
use super::{Inputs, planner};
use crate::analyzers::testing::fixture;
use crate::catalogue::Catalogue;
use crate::cluster::ClusterView;
use crate::report::engine;
use crate::report::findings::Finding;

/// Plan `code`'s fixes on `scenario` with `--unsafe` and these `--set` values,
/// apply every ready operation in order, and verify. Every finding's fix must
/// be ready and every operation must apply.
fn fix_offline(scenario: &str, code: &str, set: &[&str]) -> Verification {
    fix_view(|| fixture(scenario), code, set)
}

/// [`fix_offline`] on a view `make` builds (twice: before and after).
fn fix_view(make: impl Fn() -> ClusterView, code: &str, set: &[&str]) -> Verification {
    fix_with(make, &[], code, set)
}

/// [`fix_view`] with the checks of these directories beside the shipped ones.
fn fix_with(
    make: impl Fn() -> ClusterView,
    dirs: &[PathBuf],
    code: &str,
    set: &[&str],
) -> Verification {
    let catalogue = Catalogue::load(dirs).unwrap();
    let checks = catalogue.select(&[code.to_string()], &[]).unwrap();
    let view = make();
    let report = engine::run(&checks, &view, String::new());
    assert!(!report.findings.is_empty(), "{code} fires");
    let plan = planner::build(&report.findings, &Inputs::parse(set).unwrap(), true);
    assert_eq!(plan.ready().count(), report.findings.len(), "{plan:#?}");
    let mut changed = make();
    let operations: Vec<_> = plan.ready().flat_map(|p| &p.operations).collect();
    for outcome in apply_to_view(&mut changed, &operations).unwrap() {
        outcome.expect("every planned operation applies");
    }
    let fixed: Vec<&Finding> = report.findings.iter().collect();
    let after = engine::run(&checks, &changed, String::new()).findings;
    verify(&report.findings, &fixed, &after)
}

fn counts(v: &Verification) -> (usize, usize, usize) {
    (v.cleared.len(), v.remaining.len(), v.new.len())
}

#[test]
fn the_full_service_name_clears_scl005() {
    let v = fix_offline("keda-problems", "SCL005", &[]);
    assert_eq!(counts(&v), (1, 0, 0), "{v:#?}");
}

#[test]
fn the_equivalent_trigger_then_deleting_the_leftover_hpa_clears_scl004() {
    let v = fix_offline("keda-autoscaling", "SCL004", &[]);
    assert_eq!(counts(&v), (1, 0, 0), "{v:#?}");
}

#[test]
fn probes_that_fit_the_server_clear_wkl005() {
    let v = fix_offline("mlflow-serving", "WKL005", &[]);
    assert_eq!(counts(&v), (2, 0, 0), "{v:#?}");
}

#[test]
fn restarting_the_engine_that_lost_its_scheduler_clears_sel001() {
    let v = fix_view(
        crate::analyzers::seldon::dataflow_scheduler::testing::lost_scheduler,
        "SEL001",
        &["now=2026-11-29T21:00:00Z"],
    );
    assert_eq!(counts(&v), (1, 0, 0), "{v:#?}");
}

#[test]
fn creating_the_contract_topic_clears_the_site_check_of_kfk002s_analyzer() {
    // The site contract of examples/checks (kafka-topics, like KFK002), with
    // the layout in its params: the missing topic is created in the view's
    // Kafka observation, as `fix --snapshot` does.
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/checks");
    let v = fix_with(|| fixture("kafka-training"), &[examples], "FLTS001", &[]);
    assert_eq!(counts(&v), (1, 0, 0), "{v:#?}");
}
