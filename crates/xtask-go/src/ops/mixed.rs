//! A mixed repo built and tested as one: the Go targets (among them the Go artifacts Rust crates link) are
//! built first, then cargo runs with the artifacts' locations in its environment; and the test
//! run of both: `cargo test` and `go test ./...` for every Go module.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::host::platform::{self, host_triple};
use crate::host::toolchain::{self, ProcessSpec};
use crate::ops::build::{self, BuildRequest};
use crate::session::Session;
use crate::util::report::{human_duration, Reporter};
use crate::workspace::goenv::{EnvRequest, PinnedEnv};
use crate::workspace::rust::{self, GoArtifact};

/// What `cargo xtask build` / `test` were asked for.
#[derive(Debug, Clone, Default)]
pub struct MixedRequest {
    /// Rust target triples; empty means the host.
    pub triples: Vec<String>,
    pub release: bool,
    pub jobs: usize,
}

impl MixedRequest {
    fn go_request(&self, targets: Vec<String>, triples: Vec<String>) -> BuildRequest {
        BuildRequest {
            targets,
            triples,
            release: self.release,
            jobs: self.jobs,
            ..BuildRequest::default()
        }
    }

    fn triples(&self) -> Vec<String> {
        if self.triples.is_empty() {
            vec![host_triple().to_string()]
        } else {
            self.triples.clone()
        }
    }
}

/// The variables cargo runs with for `triple`: the caller's environment (cargo's own business)
/// plus where each Go artifact was placed (see `rust.rs` for the names).
pub fn cargo_env(
    session: &Session,
    artifacts: &[GoArtifact],
    triple: &str,
    release: bool,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    let dir = session
        .project
        .go_dir()
        .join(triple)
        .join(build::profile_name(release));
    for artifact in artifacts {
        env.extend(artifact.cargo_env(&dir));
    }
    env
}

/// Runs cargo with `args` in the project root; true when it succeeded.
fn cargo(
    session: &Session,
    args: &[String],
    env: &BTreeMap<String, String>,
    reporter: &Reporter,
) -> Result<bool> {
    let spec = ProcessSpec::new(
        crate::workspace::project::cargo_binary()?,
        &session.project.root,
    )
    .args(args.iter().cloned())
    .envs(env);
    reporter.status("Running", &format!("cargo {}", args.join(" ")));
    let status = toolchain::run_inherit(&spec, reporter.json())?;
    Ok(status.success())
}

/// `cargo xtask build`: every Go target for every triple, then `cargo build --workspace`.
pub fn build_all(session: &Session, request: &MixedRequest, reporter: &Reporter) -> Result<bool> {
    let artifacts = rust::go_artifacts(&session.project)?;
    let report = build::build(
        session,
        &request.go_request(Vec::new(), request.triples()),
        reporter,
    )?;
    if !report.success() {
        return Ok(false);
    }
    if !rust::has_crates(&session.project)? {
        return Ok(true);
    }
    for triple in request.triples() {
        let mut args = vec!["build".to_string(), "--workspace".into()];
        if request.release {
            args.push("--release".into());
        }
        if !request.triples.is_empty() {
            args.extend(["--target".to_string(), triple.clone()]);
        }
        if session.project.settings.offline {
            args.push("--offline".into());
        }
        if !cargo(
            session,
            &args,
            &cargo_env(session, &artifacts, &triple, request.release),
            reporter,
        )? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `cargo xtask test`: builds the Go artifacts Rust crates link, runs `cargo test --workspace`
/// with their locations, then `go test ./...` in every Go module (pinned environment).
/// Runs every part even when one fails; true when all passed. `cargo_args` replace
/// `--workspace` (to test one crate, say).
pub fn test_all(
    session: &Session,
    request: &MixedRequest,
    cargo_args: Option<Vec<String>>,
    reporter: &Reporter,
) -> Result<bool> {
    let start = Instant::now();
    let artifacts = rust::go_artifacts(&session.project)?;
    let host = host_triple().to_string();
    let artifact_targets: Vec<String> = session
        .targets()?
        .into_iter()
        .filter(|t| artifacts.iter().any(|a| a.package_dir == t.package_dir))
        .map(|t| t.name)
        .collect();
    let mut ok = true;
    if !artifact_targets.is_empty() {
        ok &= build::build(
            session,
            &request.go_request(artifact_targets, vec![host.clone()]),
            reporter,
        )?
        .success();
    }
    if ok && rust::has_crates(&session.project)? {
        let mut args = vec!["test".to_string()];
        args.extend(cargo_args.unwrap_or_else(|| vec!["--workspace".into()]));
        if request.release {
            args.push("--release".into());
        }
        ok &= cargo(
            session,
            &args,
            &cargo_env(session, &artifacts, &host, request.release),
            reporter,
        )?;
    }
    for module in &session.modules.modules {
        ok &= go_test(session, module, &artifacts, reporter)?;
    }
    reporter.status(
        "Finished",
        &format!(
            "tests of Rust and Go in {}",
            human_duration(start.elapsed())
        ),
    );
    Ok(ok)
}

/// `go test ./...` in one module; cgo on when the module holds a package a Rust crate links.
fn go_test(
    session: &Session,
    module: &crate::workspace::discovery::GoModule,
    artifacts: &[GoArtifact],
    reporter: &Reporter,
) -> Result<bool> {
    let host = platform::go_platform(host_triple())?;
    let targets = session.targets()?;
    let linking: Vec<&crate::workspace::targets::Target> = targets
        .iter()
        .filter(|t| t.module_dir == module.dir && !t.links.is_empty())
        .collect();
    let cgo = session.project.config.cgo
        || !linking.is_empty()
        || artifacts
            .iter()
            .any(|a| a.package_dir.starts_with(&module.dir));
    let request = EnvRequest {
        platform: &host,
        cgo,
        mod_mode: module.mod_mode(),
        gowork: session.modules.gowork.as_deref(),
        offline: session.project.settings.offline,
    };
    let scratch = build::ScratchDir::create(
        &crate::workspace::goenv::tmp_root(&session.project, host_triple()),
        "go-test",
    )?;
    let libs = build::linked_libraries(session, &linking, host_triple(), false, reporter)?;
    let env = libs.iter().fold(
        PinnedEnv::new(&session.project, &session.toolchain, &request).with_tmpdir(&scratch.0),
        |env, lib| lib.add_to(env),
    );
    let display = session.project.display_path(&module.dir).to_string();
    reporter.status("Testing", &format!("{} ({display})", module.path));
    let go_test = session
        .toolchain
        .go(&module.dir, &env.vars)
        .args(["test", "./..."]);
    let status = toolchain::run_inherit(&go_test, reporter.json())
        .with_context(|| format!("running go test in {display}"))?;
    if !status.success() {
        reporter.warn(&format!("go test failed in {display}"));
    }
    Ok(status.success())
}
