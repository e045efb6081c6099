//! What a build settles before any unit is looked up: that every cgo unit for another triple
//! has that triple's C compiler, and the Rust libraries the units link, built and placed (their
//! flags and contents are part of the units' keys).

use anyhow::{bail, Result};

use super::rustlib::{self, PlacedLib};
use super::BuildUnit;
use crate::host::platform;
use crate::session::Session;
use crate::util::report::Reporter;
use crate::workspace::targets::{LinkedCrate, Target};

/// Each crate prepared once per triple in one command, however many units link it.
struct Prepared<'a> {
    session: &'a Session,
    release: bool,
    reporter: &'a Reporter,
    done: Vec<(String, String, PlacedLib)>,
}

impl Prepared<'_> {
    fn get(&mut self, link: &LinkedCrate, triple: &str) -> Result<PlacedLib> {
        let same = |(c, t, _): &&(String, String, PlacedLib)| c == &link.crate_name && t == triple;
        if let Some((_, _, lib)) = self.done.iter().find(same) {
            return Ok(lib.clone());
        }
        let lib = rustlib::prepare(self.session, link, triple, self.release, self.reporter)?;
        self.done
            .push((link.crate_name.clone(), triple.to_string(), lib.clone()));
        Ok(lib)
    }
}

/// Builds the Rust libraries the units link (each crate once per triple), before any Go unit
/// is looked up: their flags and contents are part of the units' keys.
pub(super) fn link_rust_libraries(
    session: &Session,
    units: &mut [BuildUnit],
    release: bool,
    reporter: &Reporter,
) -> Result<()> {
    let mut prepared = Prepared {
        session,
        release,
        reporter,
        done: Vec::new(),
    };
    for unit in units.iter_mut() {
        for link in &unit.target.links {
            let lib = prepared.get(link, &unit.platform.triple)?;
            unit.rust_libs.push(lib);
        }
    }
    Ok(())
}

/// The Rust libraries that `targets` link, built and placed for `triple`, each once (for `go
/// test`, which links a package's tests against them as `go build` links the program).
pub fn linked_libraries(
    session: &Session,
    targets: &[&Target],
    triple: &str,
    release: bool,
    reporter: &Reporter,
) -> Result<Vec<PlacedLib>> {
    let mut prepared = Prepared {
        session,
        release,
        reporter,
        done: Vec::new(),
    };
    for link in targets.iter().flat_map(|t| &t.links) {
        prepared.get(link, triple)?;
    }
    Ok(prepared.done.into_iter().map(|(_, _, lib)| lib).collect())
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
