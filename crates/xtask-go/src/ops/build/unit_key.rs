//! A unit's cache key before any file is read: the `go build` spec, the pinned variables that
//! shape the output, the toolchain and C compilers, the control files and where outputs land.

use camino::{Utf8Path, Utf8PathBuf};

use super::{output_file_name, profile_name, BuildUnit};
use crate::buildcache::key::KeyInputs;
use crate::buildcache::UnitKey;
use crate::ops::build::staging::go_build_args;
use crate::session::Session;
use crate::workspace::goenv::{self, PinnedEnv};

/// Pinned variables that shape a build's output (the rest say where things live), besides
/// `goenv::CGO_CALLER_VARIABLES`.
const OUTPUT_SHAPING_ENV: &[&str] = &[
    "GOOS",
    "GOARCH",
    "GOAMD64",
    "GOARM",
    "GOARM64",
    "GO386",
    "GORISCV64",
    "GOPPC64",
    "GOMIPS",
    "GOMIPS64",
    "GOWASM",
    "GOEXPERIMENT",
    "CGO_ENABLED",
    "GOFLAGS",
    "CC",
    "CXX",
];

/// The parts of a unit's key that need no file reads, and the files that decide its closure.
pub(super) fn unit_key(
    session: &Session,
    release: bool,
    unit: &BuildUnit,
    env: &PinnedEnv,
) -> UnitKey {
    let target = &unit.target;
    let base = key_base(session, release, unit, env);
    let output_dir = unit
        .output
        .parent()
        .expect("output has a parent")
        .to_owned();
    let mut output_names = vec![output_file_name(target, &unit.platform)];
    if target.buildmode.writes_c_header() {
        output_names.push(
            Utf8Path::new(&output_names[0])
                .with_extension("h")
                .to_string(),
        );
    }
    UnitKey {
        base,
        control: control_files(session, unit),
        depfile: output_dir
            .join(".deps")
            .join(format!("{}.json", target.name)),
        output_dir,
        output_names,
        target: target.name.clone(),
        triple: unit.platform.triple.clone(),
    }
}

/// The spec, environment and toolchain sections of a unit's key.
fn key_base(session: &Session, release: bool, unit: &BuildUnit, env: &PinnedEnv) -> KeyInputs {
    let target = &unit.target;
    let project = &session.project;
    let mut base = KeyInputs::default();
    let args = go_build_args(unit, release, Utf8Path::new("<out>"));
    base.spec.insert(
        "args".into(),
        serde_json::to_string(&args).expect("strings encode"),
    );
    base.spec.insert(
        "module_dir".into(),
        project.display_path(&target.module_dir).to_string(),
    );
    base.spec
        .insert("profile".into(), profile_name(release).into());
    if !project.config.trimpath {
        // Without -trimpath the absolute source paths end up in the binary.
        base.spec.insert("root".into(), project.root.to_string());
    }
    // Every cgo variable the pinned environment passes through is in the key too.
    for name in OUTPUT_SHAPING_ENV.iter().chain(goenv::CGO_CALLER_VARIABLES) {
        if let Some(value) = env.get(name) {
            base.env.insert(name.to_string(), value.to_string());
        }
    }
    base.env.insert(
        "GOWORK".into(),
        if env.get("GOWORK") == Some("off") {
            "off".into()
        } else {
            "on".into()
        },
    );
    if target.cgo {
        for var in ["CC", "CXX"] {
            let compiler = env
                .get(var)
                .unwrap_or(if var == "CC" { "cc" } else { "c++" })
                .to_string();
            base.env.insert(
                format!("{var} identity"),
                session.c_compilers.identity(
                    &compiler,
                    &env.vars,
                    &project.go_dir().join("c-compilers.json"),
                ),
            );
        }
    }
    let tc = &session.toolchain;
    base.toolchain
        .insert("GOVERSION".into(), tc.info.version.clone());
    if tc.info.version.starts_with("devel") {
        let hash = crate::buildcache::statcache::sha256_file(&tc.go)
            .unwrap_or_else(|_| "unreadable".into());
        base.toolchain.insert("go binary sha256".into(), hash);
    }
    base
}

/// go.work (+ .sum), every go.mod and go.sum go resolves against, vendor/modules.txt, default.pgo.
fn control_files(session: &Session, unit: &BuildUnit) -> Vec<Utf8PathBuf> {
    let mut files = Vec::new();
    let modules = &session.modules;
    if let Some(work) = &modules.gowork {
        let dir = work.parent().expect("go.work has a parent");
        files.extend([
            work.clone(),
            dir.join("go.work.sum"),
            dir.join("vendor/modules.txt"),
        ]);
    }
    for m in modules
        .modules
        .iter()
        .filter(|m| modules.gowork.is_some() || m.path == unit.target.module)
    {
        files.extend([
            m.dir.join("go.mod"),
            m.dir.join("go.sum"),
            m.dir.join("vendor/modules.txt"),
        ]);
    }
    files.push(unit.target.package_dir.join("default.pgo"));
    files
}
