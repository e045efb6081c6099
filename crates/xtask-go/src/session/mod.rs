//! A loaded project: config, toolchain and modules, read once per command and shared by the steps.

mod discovery_record;
mod loading;
pub mod snapshot;

use std::sync::OnceLock;

use anyhow::{bail, Result};
use camino::Utf8Path;

use crate::buildcache::statcache::FileStamp;
use crate::host::ccompiler::CompilerIdentities;
use crate::host::platform::{self, GoPlatform};
use crate::host::toolchain::Toolchain;
use crate::util::report::Reporter;
use crate::workspace::discovery::{GoModule, ModuleSet};
use crate::workspace::goenv::{self, EnvRequest, PinnedEnv};
use crate::workspace::project::Project;
use crate::workspace::settings::RunFlags;
use crate::workspace::targets::Target;
use snapshot::Snapshot;

/// Everything a command needs to know about the repo before it runs go.
pub struct Session {
    pub project: Project,
    pub toolchain: Toolchain,
    pub modules: ModuleSet,
    /// The targets, once known (from the snapshot, or the first `targets()`).
    targets: OnceLock<Vec<Target>>,
    /// The C compilers asked `--version` in this session (cgo targets' keys).
    pub c_compilers: CompilerIdentities,
}

impl Session {
    /// Loads the project that contains `start`, finds go, checks its version against the modules.
    /// A snapshot of an earlier load is used when nothing it was learnt from changed.
    /// Its warnings go to stderr.
    pub fn load(start: &Utf8Path) -> Result<Session> {
        Session::load_with(start, RunFlags::default(), &Reporter::new(false))
    }

    /// [`Session::load`] for a command with `flags` (offline, the remote's flags): the settings
    /// are resolved once, here, before anything runs. Caller variables this tool overrides
    /// (GOFLAGS, GOCACHE=off, ...) are warned about through `reporter`, once per command.
    pub fn load_with(start: &Utf8Path, flags: RunFlags, reporter: &Reporter) -> Result<Session> {
        Session::load_warning(start, flags, false, reporter)
    }

    /// [`Session::load_with`] and [`Session::with_targets`] at once: a load that finds no
    /// snapshot to trust saves one snapshot, with the targets, not one without them and then
    /// another (each save stamps every directory it learnt from).
    pub fn load_with_targets(
        start: &Utf8Path,
        flags: RunFlags,
        reporter: &Reporter,
    ) -> Result<Session> {
        Session::load_warning(start, flags, true, reporter)?.with_targets()
    }

    fn load_warning(
        start: &Utf8Path,
        flags: RunFlags,
        with_targets: bool,
        reporter: &Reporter,
    ) -> Result<Session> {
        let (session, began) = Session::load_settled(start, flags, with_targets)?;
        let gocache = goenv::gocache_dir(&session.project, platform::host_triple());
        for warning in goenv::ignored_variable_warnings(&gocache) {
            reporter.warn(&warning);
        }
        if let Some(began) = began {
            // One save, with the targets, under the stamp taken before this load read anything.
            let targets = loading::targets(&session, Some(began))?;
            let _ = session.targets.set(targets);
        }
        Ok(session)
    }

    /// The session, from the snapshot or loaded anew. A new load for a caller that loads the
    /// targets next is not saved yet: the stamp it began at is returned for that one save.
    fn load_settled(
        start: &Utf8Path,
        flags: RunFlags,
        with_targets: bool,
    ) -> Result<(Session, Option<Option<FileStamp>>)> {
        let root = Project::find_root(start)?;
        if let Some((mut project, toolchain, modules, targets)) =
            Snapshot::load(&root).and_then(|s| s.into_parts().ok())
        {
            project.settings = project.settings.with_flags(flags);
            let known = OnceLock::new();
            if let Some(targets) = targets {
                let _ = known.set(targets);
            }
            let session = Session {
                project,
                toolchain,
                modules,
                targets: known,
                c_compilers: CompilerIdentities::default(),
            };
            return Ok((session, None));
        }
        let began = snapshot::load_began(&root);
        // `cargo metadata` and `go env` are two processes that know nothing of each other.
        let (project, toolchain) = std::thread::scope(|scope| {
            let toolchain = scope.spawn(Toolchain::discover);
            let project = Project::load(&root);
            (project, toolchain.join().expect("go discovery panicked"))
        });
        let mut project = project?;
        project.settings = project.settings.with_flags(flags);
        let session = Session::with(project, toolchain?)?;
        if with_targets {
            return Ok((session, Some(began)));
        }
        // Targets are saved too once a command asks for them (`targets`).
        Snapshot::save(&session, None, began.as_ref());
        Ok((session, None))
    }

    /// Uses an already-loaded project and toolchain (for a library user's own xtask).
    pub fn with(project: Project, toolchain: Toolchain) -> Result<Session> {
        let modules = ModuleSet::discover(&project)?;
        if let Some((required, file)) = modules.required_go() {
            toolchain.check_supports(&required, &file)?;
        }
        Ok(Session {
            project,
            toolchain,
            modules,
            targets: OnceLock::new(),
            c_compilers: CompilerIdentities::default(),
        })
    }

    /// Loads the targets now, so that a command plans from what it loaded up front: configured,
    /// else recalled (the snapshot, the store's discovery record) or discovered with `go list`,
    /// with the Go artifacts Rust crates link (`loading.rs`).
    pub fn with_targets(self) -> Result<Session> {
        if self.targets.get().is_none() {
            let targets = loading::targets(&self, None)?;
            let _ = self.targets.set(targets);
        }
        Ok(self)
    }

    /// The targets `with_targets` loaded (loaded here on first use for a caller that did not).
    pub fn targets(&self) -> Result<Vec<Target>> {
        if let Some(targets) = self.targets.get() {
            return Ok(targets.clone());
        }
        let targets = loading::targets(self, None)?;
        Ok(self.targets.get_or_init(|| targets).clone())
    }

    /// The targets named in `names` (all when empty), with an error naming the unknown ones.
    pub fn select_targets(&self, names: &[String]) -> Result<Vec<Target>> {
        let all = self.targets()?;
        if names.is_empty() {
            return Ok(all);
        }
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !all.iter().any(|t| &t.name == *n))
            .collect();
        if !unknown.is_empty() {
            let known = all
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            bail!(
                "no Go target named {}; known targets: {known}",
                unknown
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(all
            .into_iter()
            .filter(|t| names.contains(&t.name))
            .collect())
    }

    pub fn module(&self, path: &str) -> Option<&GoModule> {
        self.modules.modules.iter().find(|m| m.path == path)
    }

    /// The pinned environment a target builds with on `platform` (GOTMPDIR aside); offline
    /// when the command's flags say so.
    pub fn target_env(&self, target: &Target, platform: &GoPlatform) -> PinnedEnv {
        let mod_mode = self
            .module(&target.module)
            .map(GoModule::mod_mode)
            .unwrap_or(crate::workspace::goenv::ModMode::Readonly);
        let request = EnvRequest {
            platform,
            cgo: target.cgo,
            mod_mode,
            gowork: self.modules.gowork.as_deref(),
            offline: self.project.settings.offline,
        };
        PinnedEnv::new(&self.project, &self.toolchain, &request)
    }

    /// The environment for a triple with the project's defaults (what `go-env` shows).
    pub fn platform_env(&self, triple: &str, offline: bool) -> Result<PinnedEnv> {
        let platform = platform::go_platform(triple)?;
        // A module with a committed vendor/ builds with -mod=vendor; shown here when all are.
        let vendored =
            !self.modules.modules.is_empty() && self.modules.modules.iter().all(|m| m.vendored);
        let mod_mode = if vendored {
            crate::workspace::goenv::ModMode::Vendor
        } else {
            crate::workspace::goenv::ModMode::Readonly
        };
        let request = EnvRequest {
            platform: &platform,
            cgo: self.project.config.cgo,
            mod_mode,
            gowork: self.modules.gowork.as_deref(),
            offline,
        };
        Ok(PinnedEnv::new(&self.project, &self.toolchain, &request))
    }
}
