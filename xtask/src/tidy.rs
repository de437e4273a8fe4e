//! House rules, checked by `cargo test`: what review would otherwise have to nag about.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::project_root;
use crate::shell::{cmd, read};

/// The layering of DESIGN.md §2: each library crate, the workspace crates it may depend on, and
/// those it may depend on only as optional (feature-gated) dependencies. `gantry` (the CLI) may
/// depend on every crate.
const ALLOWED: &[(&str, &[&str], &[&str])] = &[
    ("gantry-reference", &[], &[]),
    ("gantry-spec", &["gantry-reference"], &[]),
    ("gantry-storage", &["gantry-spec", "gantry-reference"], &[]),
    ("gantry-client", &["gantry-spec", "gantry-reference"], &[]),
    (
        "gantry-transfer",
        &["gantry-client", "gantry-spec", "gantry-reference"],
        &["gantry-storage"],
    ),
    (
        "gantry-registry",
        &["gantry-storage", "gantry-spec", "gantry-reference"],
        &["gantry-client"],
    ),
    (
        "gantry-conformance",
        &["gantry-spec", "gantry-reference"],
        &[],
    ),
];

/// Workspace members that are not part of the layering: the CLI, automation and test suites.
const OUTSIDE_LAYERS: &[&str] = &["gantry", "xtask", "gantry-tests"];

fn metadata() -> serde_json::Value {
    let text = read(&mut cmd(
        "cargo",
        &[
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ],
    ))
    .expect("cargo metadata runs");
    serde_json::from_str(&text).expect("cargo metadata prints JSON")
}

fn packages(metadata: &serde_json::Value) -> Vec<&serde_json::Value> {
    metadata["packages"]
        .as_array()
        .expect("metadata lists packages")
        .iter()
        .collect()
}

#[test]
fn crate_dependencies_follow_the_layering() {
    let metadata = metadata();
    let mut violations = Vec::new();
    for package in packages(&metadata) {
        let name = package["name"].as_str().expect("package name");
        if OUTSIDE_LAYERS.contains(&name) {
            continue;
        }
        let Some(&(_, required, optional)) =
            ALLOWED.iter().find(|(crate_name, ..)| *crate_name == name)
        else {
            violations.push(format!(
                "{name} is not in the layering; add it to DESIGN.md §2 and to tidy.rs"
            ));
            continue;
        };
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let dep = dependency["name"].as_str().expect("dependency name");
            let is_dev = dependency["kind"].as_str() == Some("dev");
            if !dep.starts_with("gantry") || is_dev {
                continue;
            }
            let is_optional = dependency["optional"].as_bool() == Some(true);
            let allowed = required.contains(&dep) || (is_optional && optional.contains(&dep));
            if !allowed {
                violations.push(format!("{name} may not depend on {dep}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_member_uses_the_workspace_lints() {
    let metadata = metadata();
    let missing: Vec<String> = packages(&metadata)
        .into_iter()
        .filter_map(|package| {
            let manifest = package["manifest_path"].as_str().expect("manifest path");
            let text = fs::read_to_string(manifest).expect("manifest readable");
            let uses_workspace_lints = text
                .split("[lints]")
                .nth(1)
                .is_some_and(|rest| rest.trim_start().starts_with("workspace = true"));
            (!uses_workspace_lints).then(|| manifest.to_owned())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "without `[lints] workspace = true`: {missing:?}"
    );
}

#[test]
fn the_codemap_names_every_crate() {
    let architecture = fs::read_to_string(project_root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md exists");
    let crates: BTreeSet<String> = fs::read_dir(project_root().join("crates"))
        .expect("crates/ exists")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let unnamed: Vec<&String> = crates
        .iter()
        .filter(|dir| !architecture.contains(&format!("### `crates/{dir}`")))
        .collect();
    assert!(
        unnamed.is_empty(),
        "docs/ARCHITECTURE.md has no `### `crates/<dir>`` heading for {unnamed:?}"
    );
}

#[test]
fn every_ignored_test_says_why() {
    let mut bare = Vec::new();
    for file in rust_files(&project_root()) {
        let text = fs::read_to_string(&file).expect("source readable");
        for (number, line) in text.lines().enumerate() {
            if line.trim() == "#[ignore]" {
                bare.push(format!("{}:{}", file.display(), number + 1));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "#[ignore] without a reason (write #[ignore = \"why\"]): {bare:?}"
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}
