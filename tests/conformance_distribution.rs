//! Proves the conformance runner right against a real peer: CNCF Distribution 2.8.2 (Debian's
//! `docker-registry`) must fail exactly the checks listed, with reasons, in
//! `crates/conformance/expected-failures/distribution-2.8.txt`, and pass every other one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use gantry_conformance::{Config, ExpectedFailures, run};
use gantry_test_support::distribution::Distribution;
use gantry_test_support::project_root;

#[test]
fn distribution_2_8_fails_exactly_the_listed_checks() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Distribution::start(&dir.path().join("data"), dir.path());

    let report = run(&Config::new(format!("http://{}", peer.addr()))).unwrap();
    println!("{}", report.summary());

    let list = project_root().join("crates/conformance/expected-failures/distribution-2.8.txt");
    let expected = ExpectedFailures::load(&list).unwrap();
    let ratchet = expected.compare(&report);
    assert!(
        ratchet.holds(),
        "Distribution 2.8's failures differ from {}:\n{}",
        list.display(),
        ratchet.explain()
    );
    // The peer must also pass most checks, or the runner is probably what is broken.
    assert!(report.passed().count() > report.failed().count());
}
