//! TLS from the command line against a `gantry serve` with a certificate of its own CA:
//! refused with the hint that names the fixes, accepted with `--ca-file` or `--cert-dir`, and
//! with `--tls-verify=false`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use support::{Home, Server, assert_exit, stderr, stdout};

#[test]
fn tls_failures_name_the_fix_and_each_fix_works() {
    let home = Home::new();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let tls = home.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (cert, key) = (tls.join("server.pem"), tls.join("server.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = Server::start_with(
        false,
        &[("GANTRY_TLS_CERTIFICATE", &cert), ("GANTRY_TLS_KEY", &key)],
    );

    // TLS material that does not trust the server's certificate: refused, with the hint.
    let empty = home.path().join("empty-certs");
    std::fs::create_dir_all(&empty).unwrap();
    let output = home.run([
        "catalog".as_ref(),
        "--cert-dir".as_ref(),
        empty.as_os_str(),
        server.addr.as_ref(),
    ]);
    assert_exit(&output, 5);
    let said = stderr(&output);
    assert!(said.contains("hint: the TLS connection failed"), "{said}");
    assert!(said.contains("--tls-verify=false"), "{said}");
    assert!(said.contains("--ca-file"), "{said}");

    let output = home.run([
        "catalog".as_ref(),
        "--ca-file".as_ref(),
        cert.as_os_str(),
        server.addr.as_ref(),
    ]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "");

    let ca_dir = home.path().join("certs");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(&cert, ca_dir.join("ca.crt")).unwrap();
    let output = home.run([
        "catalog".as_ref(),
        "--cert-dir".as_ref(),
        ca_dir.as_os_str(),
        server.addr.as_ref(),
    ]);
    assert_exit(&output, 0);

    let output = home.run(["catalog", "--tls-verify=false", &server.addr]);
    assert_exit(&output, 0);
}
