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

/// Workspace members that are not part of the layering: the CLI, automation, the test kit and
/// the test suites.
const OUTSIDE_LAYERS: &[&str] = &["gantry", "xtask", "gantry-test-support", "gantry-tests"];

/// The test kit, and the only member that may depend on it outside `[dev-dependencies]`.
const TEST_KIT: &str = "gantry-test-support";
const TEST_KIT_USER: &str = "xtask";

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
fn only_tests_and_xtask_use_the_test_kit() {
    let metadata = metadata();
    let mut violations = Vec::new();
    for package in packages(&metadata) {
        let name = package["name"].as_str().expect("package name");
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let is_dev = dependency["kind"].as_str() == Some("dev");
            if dependency["name"].as_str() == Some(TEST_KIT) && !is_dev && name != TEST_KIT_USER {
                violations.push(format!(
                    "{name} depends on {TEST_KIT}: only as a dev-dependency (or from xtask)"
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
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

/// The dependency tables of one manifest: `[dependencies]`, `[dev-dependencies]`,
/// `[build-dependencies]`, and the same under each `[target.'cfg(…)']`, by table name.
fn dependency_tables(manifest: &toml::Table) -> Vec<(String, &toml::Table)> {
    const KINDS: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables = Vec::new();
    for kind in KINDS {
        if let Some(table) = manifest.get(kind).and_then(toml::Value::as_table) {
            tables.push((kind.to_owned(), table));
        }
    }
    let targets = manifest.get("target").and_then(toml::Value::as_table);
    for (target, specific) in targets.into_iter().flatten() {
        for kind in KINDS {
            if let Some(table) = specific.get(kind).and_then(toml::Value::as_table) {
                tables.push((format!("target.{target}.{kind}"), table));
            }
        }
    }
    tables
}

#[test]
fn every_dependency_version_lives_in_the_workspace() {
    let metadata = metadata();
    let mut violations = Vec::new();
    for package in packages(&metadata) {
        let path = package["manifest_path"].as_str().expect("manifest path");
        let text = fs::read_to_string(path).expect("manifest readable");
        let manifest: toml::Table = text.parse().expect("manifest is TOML");
        for (table_name, table) in dependency_tables(&manifest) {
            for (name, spec) in table {
                let inherited = spec
                    .as_table()
                    .and_then(|spec| spec.get("workspace"))
                    .and_then(toml::Value::as_bool)
                    == Some(true);
                if !inherited {
                    violations.push(format!("{path}: [{table_name}] {name}"));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "dependencies not taken from [workspace.dependencies] (write `NAME.workspace = true` \
         and put the version in the root Cargo.toml):\n{}",
        violations.join("\n")
    );
}

/// Dependencies a crate declares without naming them in its code, each with the reason.
const USED_WITHOUT_A_PATH: &[(&str, &str, &str)] = &[];

/// Packages whose library has another name than the package (`cargo metadata --no-deps` does not
/// say): package, library.
const LIBRARY_NAMES: &[(&str, &str)] = &[("rustls-webpki", "webpki")];

/// Whether `source` names the crate `ident` as the first segment of a path (`ident::…`,
/// `use ident`, `extern crate ident`), not as a later segment such as `std::ident::`.
fn names_crate(source: &str, ident: &str) -> bool {
    let bytes = source.as_bytes();
    source.match_indices(ident).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = &source[at + ident.len()..];
        let starts_a_path = !before
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b == b'$');
        // `use ident;`, `use ident as x;`, or the crate inside a `use {…}` list.
        let ends_a_use = [";", " as ", ",", "}"]
            .iter()
            .any(|end| after.starts_with(end));
        let preceded_by_use =
            source[..at].trim_end().ends_with("use") || source[..at].trim_end().ends_with("crate");
        starts_a_path && (after.starts_with("::") || (preceded_by_use && ends_a_use))
    })
}

#[test]
fn every_declared_dependency_is_used() {
    let metadata = metadata();
    let mut unused = Vec::new();
    for package in packages(&metadata) {
        let name = package["name"].as_str().expect("package name");
        let manifest = Path::new(package["manifest_path"].as_str().expect("manifest path"));
        let dir = manifest.parent().expect("a manifest has a directory");
        let mut files = rust_files(dir);
        // A module compiled in from elsewhere by `#[path = "…"]` (the fuzz checks that the seed
        // replay runs) is the crate's code too.
        for file in files.clone() {
            let text = fs::read_to_string(&file).expect("source readable");
            for line in text.lines() {
                let included = line
                    .trim()
                    .strip_prefix("#[path = \"")
                    .and_then(|rest| rest.strip_suffix("\"]"));
                if let Some(parent) = included
                    .and_then(|path| file.parent()?.join(path).parent().map(Path::to_path_buf))
                {
                    files.extend(rust_files(&parent));
                }
            }
        }
        let sources: Vec<String> = files
            .into_iter()
            .map(|file| fs::read_to_string(file).expect("source readable"))
            .collect();
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let declared = dependency["rename"]
                .as_str()
                .or_else(|| dependency["name"].as_str())
                .expect("dependency name");
            if USED_WITHOUT_A_PATH
                .iter()
                .any(|(package, dep, _)| *package == name && *dep == declared)
            {
                continue;
            }
            let ident = match LIBRARY_NAMES
                .iter()
                .find(|(package, _)| *package == declared)
            {
                Some((_, library)) => (*library).to_owned(),
                None => declared.replace('-', "_"),
            };
            if !sources.iter().any(|source| names_crate(source, &ident)) {
                let kind = dependency["kind"].as_str().unwrap_or("normal");
                unused.push(format!("{name}: {declared} ({kind})"));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "declared but never named in the crate's code (remove them, or list them in \
         USED_WITHOUT_A_PATH with the reason):\n{}",
        unused.join("\n")
    );
}

/// The feature names a text gives as `` behind `NAME` ``, `` feature `NAME` `` or
/// `` `NAME` feature ``, each with its line, leaving out lines that say it is not built yet.
fn named_features(text: &str) -> Vec<(String, &str)> {
    let is_feature_name = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    let mut named = Vec::new();
    for line in text.lines() {
        if line.contains("not built yet") {
            continue;
        }
        let spans: Vec<&str> = line.split('`').collect();
        // Odd pieces are the insides of backticks.
        for (i, name) in spans.iter().enumerate().skip(1).step_by(2) {
            let before = spans[i - 1].trim_end();
            let after = spans.get(i + 1).map_or("", |after| after.trim_start());
            let introduced = before.ends_with("behind")
                || before.ends_with("feature")
                || after.starts_with("feature");
            if introduced && is_feature_name(name) {
                named.push(((*name).to_owned(), line));
            }
        }
    }
    named
}

/// The features each workspace crate declares, by the name of its directory under `crates/`.
fn features_by_crate(metadata: &serde_json::Value) -> Vec<(String, BTreeSet<String>)> {
    packages(metadata)
        .into_iter()
        .filter_map(|package| {
            let manifest = Path::new(package["manifest_path"].as_str()?);
            let dir = manifest
                .parent()?
                .file_name()?
                .to_string_lossy()
                .into_owned();
            let features = package["features"]
                .as_object()?
                .keys()
                .filter(|feature| *feature != "default")
                .cloned()
                .collect();
            Some((dir, features))
        })
        .collect()
}

#[test]
fn documented_features_exist() {
    let metadata = metadata();
    let features = features_by_crate(&metadata);
    let mut missing = Vec::new();

    // docs/ARCHITECTURE.md: a feature named in a crate's section is that crate's; one named
    // elsewhere belongs to some crate.
    let architecture = fs::read_to_string(project_root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md exists");
    let mut section: Option<String> = None;
    for line in architecture.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            section = heading
                .trim_matches('`')
                .strip_prefix("crates/")
                .map(str::to_owned);
        }
        for (name, _) in named_features(line) {
            let exists = features
                .iter()
                .filter(|(dir, _)| section.as_ref().is_none_or(|section| section == dir))
                .any(|(_, declared)| declared.contains(&name));
            if !exists {
                missing.push(format!("docs/ARCHITECTURE.md names `{name}`: {line}"));
            }
        }
    }

    // Each library's crate doc: the features it names, and its `# Features` list, are exactly
    // what its manifest declares.
    for (dir, declared) in &features {
        let lib = project_root().join("crates").join(dir).join("src/lib.rs");
        let Ok(text) = fs::read_to_string(&lib) else {
            continue;
        };
        let doc: String = text
            .lines()
            .filter_map(|line| line.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        for (name, line) in named_features(&doc) {
            if !declared.contains(&name) {
                missing.push(format!("crates/{dir}/src/lib.rs names `{name}`: {line}"));
            }
        }
        if !doc.contains("# Features") {
            missing.push(format!(
                "crates/{dir}/src/lib.rs has no `# Features` section"
            ));
        }
        let listed: BTreeSet<String> = doc
            .split("# Features")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- `"))
            .filter_map(|item| item.split('`').next())
            .map(str::to_owned)
            .collect();
        if &listed != declared {
            missing.push(format!(
                "crates/{dir}/src/lib.rs lists features {listed:?} under `# Features`; \
                 Cargo.toml declares {declared:?}"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "docs name features that do not exist (or a crate doc's `# Features` list differs \
         from its manifest); say \"not built yet\" on the line of one that is planned:\n{}",
        missing.join("\n")
    );
}
