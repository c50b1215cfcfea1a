//! Each rule shown failing on a deliberately broken input, and passing on a
//! good one.

use serde_json::json;

use super::cycles::{Module, cycles};
use super::files::{file_rules, placement_rules};
use super::manifests::{dependency_rules, import_rules, lint_rules};

fn metadata(frontend_deps: &[(&str, Option<&str>)]) -> serde_json::Value {
    let deps: Vec<_> = frontend_deps
        .iter()
        .map(|(name, kind)| json!({"name": name, "kind": kind}))
        .collect();
    json!({"packages": [
        {"name": "sockerless-api", "manifest_path": "/w/api/Cargo.toml", "dependencies": [
            {"name": "serde", "kind": null}]},
        {"name": "sockerless-backend-aca", "manifest_path": "/w/backends/aca/Cargo.toml", "dependencies": [
            {"name": "sockerless-api", "kind": null},
            {"name": "sockerless-azure-sim", "kind": "dev"}]},
        {"name": "sockerless-azure-sim", "manifest_path": "/w/simulators/azure/Cargo.toml", "dependencies": []},
        {"name": "sockerless-frontend-docker", "manifest_path": "/w/frontends/docker/Cargo.toml", "dependencies": deps},
    ]})
}

#[test]
fn a_frontend_depending_on_a_backend_is_refused() {
    let ok = metadata(&[("sockerless-api", None), ("axum", None)]);
    assert_eq!(import_rules(&ok), Vec::<String>::new());

    let bad = metadata(&[("sockerless-api", None), ("sockerless-backend-aca", None)]);
    let findings = import_rules(&bad);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0]
            .contains("sockerless-frontend-docker must not depend on sockerless-backend-aca"),
        "{findings:?}"
    );
    // Not even in its tests.
    let dev = metadata(&[("sockerless-backend-aca", Some("dev"))]);
    assert_eq!(import_rules(&dev).len(), 1);
}

#[test]
fn a_crate_without_a_rule_is_refused() {
    let mut m = metadata(&[]);
    if let Some(p) = m["packages"].as_array_mut() {
        p.push(json!({"name": "sockerless-new", "manifest_path": "/w/new/Cargo.toml", "dependencies": []}));
    }
    let findings = import_rules(&m);
    assert!(
        findings
            .iter()
            .any(|f| f.contains("sockerless-new: no import rule")),
        "{findings:?}"
    );
}

fn lines(n: usize) -> String {
    let mut text = String::from("//! A module.\n");
    for i in 1..n {
        text.push_str(&format!("// line {i}\n"));
    }
    text
}

#[test]
fn a_file_of_601_lines_is_refused_and_600_pass() {
    assert_eq!(file_rules("a.rs", &lines(600)), Vec::<String>::new());
    let findings = file_rules("a.rs", &lines(601));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].starts_with("a.rs: 601 lines"), "{findings:?}");
}

#[test]
fn a_file_without_a_module_doc_or_with_a_path_attribute_is_refused() {
    assert!(file_rules("a.rs", "use x;\n")[0].contains("no module doc"));
    let findings = file_rules(
        "a.rs",
        "//! Doc.\n#[cfg(test)]\n#[path = \"a_tests.rs\"]\nmod tests;\n",
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].starts_with("a.rs:3: `#[path]`"), "{findings:?}");
}

fn module(path: &str, text: &str) -> Module {
    Module {
        path: path.split("::").map(str::to_owned).collect(),
        text: text.to_owned(),
        test: path.ends_with("tests"),
    }
}

#[test]
fn a_cycle_between_modules_is_found_through_grouped_uses() {
    let modules = [
        module("runtime", "//! R.\n"),
        module(
            "runtime::state",
            "use crate::agent_link::{pump::Session, other};\n",
        ),
        module("agent_link", "//! L.\n"),
        module(
            "agent_link::pump",
            "fn f() { crate::runtime::state::go(); }\n",
        ),
        module("agent_link::other", "use crate::store::Store;\n"),
        module("store", "//! S.\n"),
    ];
    let found = cycles(&modules);
    assert_eq!(
        found,
        vec!["agent_link::pump → runtime::state, runtime::state → agent_link::pump".to_owned()]
    );
}

#[test]
fn parents_children_comments_and_tests_make_no_cycle() {
    let modules = [
        module("a", "use crate::a::b::X;\n"),
        module("a::b", "use crate::a::Y;\n// crate::c::Z in a comment\n"),
        module(
            "c",
            "use crate::a::b::X;\n#[cfg(test)]\nmod tests {\n use crate::c::tests::T;\n}\n",
        ),
        module("c::tests", "use crate::a::Z;\n"),
        module("a::tests", "use crate::c::W;\n"),
    ];
    assert_eq!(cycles(&modules), Vec::<String>::new());
}

#[test]
fn dependencies_must_take_the_workspace_version() {
    let good = "[package]\nname = \"x\"\n[dependencies]\nserde.workspace = true\n\
                tokio = { workspace = true, features = [\"rt\"] }\n";
    assert_eq!(dependency_rules("x/Cargo.toml", good), Vec::<String>::new());
    let bad = "[dependencies]\nserde = \"1\"\n[dev-dependencies]\n\
               tokio = { version = \"1\", features = [\"rt\"] }\n";
    let findings = dependency_rules("x/Cargo.toml", bad);
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        findings[0].starts_with("x/Cargo.toml:2: serde"),
        "{findings:?}"
    );
}

#[test]
fn members_take_the_workspace_lints_or_repeat_them() {
    let root = "[workspace.lints.rust]\nunsafe_code = \"forbid\"\n\
                [workspace.lints.clippy]\nunwrap_used = \"deny\"\n";
    assert!(lint_rules("a", "[lints]\nworkspace = true\n", root).is_empty());
    let own = "[lints.rust]\nunsafe_code = \"deny\"\n[lints.clippy]\nunwrap_used = \"deny\"\n";
    assert!(lint_rules("a", own, root).is_empty());
    assert_eq!(lint_rules("a", "[package]\nname = \"a\"\n", root).len(), 1);
    let lax = "[lints.rust]\nunsafe_code = \"allow\"\n[lints.clippy]\nunwrap_used = \"deny\"\n";
    assert!(lint_rules("a", lax, root)[0].contains("rust::unsafe_code"));
}

#[test]
fn sql_outside_a_store_and_json_in_a_frontend_are_refused() {
    let sql =
        "//! Doc.\nfn f(c: &rusqlite::Connection) {\n    c.execute(\"DELETE FROM x\", []);\n}\n";
    let findings = placement_rules("backends/aca/src/networks/mod.rs", sql);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].starts_with("backends/aca/src/networks/mod.rs:3: SQL"),
        "{findings:?}"
    );
    let code = "//! Doc.\nfn f(e: &rusqlite::Error) -> bool {\n    \
                e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)\n}\n";
    assert_eq!(
        placement_rules("backends/aca/src/networks/mod.rs", code).len(),
        1
    );
    let composed = "//! Doc.\nfn f(c: &rusqlite::Connection) -> rusqlite::Result<()> {\n    \
                    records::put(c)\n}\n";
    assert!(placement_rules("backends/aca/src/networks/mod.rs", composed).is_empty());
    assert!(placement_rules("backends/aca/src/store/networks.rs", sql).is_empty());
    assert!(placement_rules("backends/aca/src/logs/store.rs", sql).is_empty());

    let body = "//! Doc.\nfn f() -> Value {\n    json!({\"Id\": 1})\n}\n";
    let findings = placement_rules("frontends/docker/src/routes/exec.rs", body);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(placement_rules("frontends/docker/src/shape/tests.rs", body).is_empty());
    assert!(placement_rules("frontends/docker/tests/contract.rs", body).is_empty());
}
