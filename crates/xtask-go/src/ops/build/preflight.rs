//! What a build settles before any unit is looked up: that every cgo unit for another triple
//! has that triple's C compiler, and the Rust libraries the units link, built and placed (their
//! flags and contents are part of the units' keys).

use anyhow::{bail, Result};

use super::rustlib::{self, PlacedLib};
use super::BuildUnit;
use crate::host::platform;
use crate::session::Session;
use crate::util::report::Reporter;
use crate::workspace::targets::Target;

/// Builds the Rust libraries the units link (each crate once per triple), before any Go unit
/// is looked up: their flags and contents are part of the units' keys.
pub(super) fn link_rust_libraries(
    session: &Session,
    units: &mut [BuildUnit],
    release: bool,
    reporter: &Reporter,
) -> Result<()> {
    let mut placed: Vec<(String, String, PlacedLib)> = Vec::new();
    for unit in units.iter_mut() {
        for link in &unit.target.links {
            let triple = &unit.platform.triple;
            let known = placed
                .iter()
                .find(|(c, t, _)| c == &link.crate_name && t == triple)
                .map(|(_, _, p)| p.clone());
            let lib = match known {
                Some(lib) => lib,
                None => {
                    let lib = rustlib::prepare(session, link, triple, release, reporter)?;
                    placed.push((link.crate_name.clone(), triple.clone(), lib.clone()));
                    lib
                }
            };
            unit.rust_libs.push(lib);
        }
    }
    Ok(())
}

/// The Rust libraries that `targets` link, built and placed for `triple` (for `go test`,
/// which links a package's tests against them as `go build` links the program).
pub fn linked_libraries(
    session: &Session,
    targets: &[&Target],
    triple: &str,
    release: bool,
    reporter: &Reporter,
) -> Result<Vec<PlacedLib>> {
    let mut libs: Vec<PlacedLib> = Vec::new();
    let mut seen = Vec::new();
    for link in targets.iter().flat_map(|t| &t.links) {
        if !seen.contains(&&link.crate_name) {
            seen.push(&link.crate_name);
            libs.push(rustlib::prepare(session, link, triple, release, reporter)?);
        }
    }
    Ok(libs)
}

/// A cgo unit for another triple needs that triple's C compiler: when it is not on PATH, one
/// line before go runs (go would run the host's `cc` on another architecture's assembly).
pub(super) fn check_cross_compilers(session: &Session, units: &[BuildUnit]) -> Result<()> {
    for unit in units {
        let triple = &unit.platform.triple;
        let cgo = unit.target.cgo || !unit.target.links.is_empty();
        if !cgo || triple == platform::host_triple() {
            continue;
        }
        let env = session.target_env(&unit.target, &unit.platform);
        let Some(cc) = env.get("CC") else { continue };
        let program = cc.split_whitespace().next().unwrap_or(cc);
        let path = env.get("PATH").unwrap_or_default();
        if which::which_in(program, Some(path), &session.project.root).is_err() {
            let package = crate::host::ccompiler::default_cross_compiler(triple)
                .map(|(_, p)| format!(" (Debian: `apt install {p}`)"))
                .unwrap_or_default();
            bail!(
                "`{}` needs a C compiler for {triple} (cgo), and `{program}` is not on PATH: install it{package}, or set CC_{} to one",
                unit.target.name,
                triple.replace('-', "_")
            );
        }
    }
    Ok(())
}
