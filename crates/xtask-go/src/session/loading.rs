//! Loading a session's targets, once per command: the configured ones, else those the session
//! snapshot or the store's discovery record remembers, else discovered with `go list` (and then
//! remembered); the packages Rust crates link are built the way those crates need them, and the
//! Go programs that link Rust libraries know which.

use anyhow::{Context, Result};

use crate::buildcache::statcache::FileStamp;
use crate::session::discovery_record;
use crate::session::snapshot::{self, Snapshot};
use crate::session::Session;
use crate::workspace::rust_libs::{RustLibrary, RustSide};
use crate::workspace::targets::{self, Target};

/// The session's targets, and the snapshot saved with them. `began`: the stamp taken before
/// the load read anything (`snapshot::load_began`), when the caller took one earlier; else now.
pub(super) fn targets(session: &Session, began: Option<Option<FileStamp>>) -> Result<Vec<Target>> {
    let began = began.unwrap_or_else(|| snapshot::load_began(&session.project.root));
    let configured = !session.project.config.targets.is_empty();
    let recalled = (!configured)
        .then(|| {
            discovery_record::recall_targets(&session.project, &session.toolchain, &session.modules)
        })
        .flatten();
    let mut targets = match recalled {
        Some(targets) => targets,
        None if configured => targets::discover_targets(
            &session.project,
            &session.toolchain,
            &session.modules,
            !session.project.settings.offline,
        )?,
        None => {
            let found = targets::discover_targets(
                &session.project,
                &session.toolchain,
                &session.modules,
                !session.project.settings.offline,
            )?;
            discovery_record::remember_targets(
                &session.project,
                &session.toolchain,
                &session.modules,
                &found,
            );
            found
        }
    };
    // Packages that Rust crates link are built the way those crates need them.
    let rust = RustSide::read(&session.project)?;
    for artifact in &rust.artifacts {
        match targets
            .iter_mut()
            .find(|t| t.package_dir == artifact.package_dir)
        {
            Some(target) => artifact.apply_to(target),
            None => {
                let mut target = targets::target_for_dir(
                    &session.project,
                    &session.modules,
                    &artifact.package_dir,
                    &artifact.name,
                )?;
                artifact.apply_to(&mut target);
                targets.push(target);
            }
        }
    }
    link_rust_libraries(session, &rust.libraries, &mut targets)?;
    if targets.iter().any(|t| !t.links.is_empty()) {
        crate::workspace::rust_libs::check_acyclic(&rust, &session.project, &targets)?;
    }
    crate::workspace::target_names::check_unique(&targets)?;
    Snapshot::save(session, Some(&targets), began.as_ref());
    Ok(targets)
}

/// Go programs that link Rust libraries build with cgo and the libraries' flags (`ops/build`).
fn link_rust_libraries(
    session: &Session,
    libraries: &[RustLibrary],
    targets: &mut Vec<Target>,
) -> Result<()> {
    for library in libraries {
        for dir in &library.linked_by {
            match targets.iter_mut().find(|t| &t.package_dir == dir) {
                Some(target) => library.link_into(target),
                // Discovery lists with the project's cgo setting: a cgo-only program appears
                // only once something says it links a crate.
                None => {
                    let name = dir.file_name().unwrap_or("go").to_string();
                    let mut target =
                        targets::target_for_dir(&session.project, &session.modules, dir, &name)
                            .with_context(|| {
                                format!(
                                    "{}: [package.metadata.xtask-go] linked-by names {}",
                                    library.link.manifest,
                                    session.project.display_path(dir)
                                )
                            })?;
                    library.link_into(&mut target);
                    targets.push(target);
                }
            }
        }
    }
    Ok(())
}
