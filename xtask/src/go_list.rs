//! `cargo xtask go-list`: the modules and targets that discovery finds.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::Session;

use crate::flags::GoList;

impl GoList {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let session = Session::load(&crate::current_dir(sh)?)?.with_targets()?;
        let targets = session.targets()?;
        let project = &session.project;
        if self.json {
            let value = serde_json::json!({
                "root": project.root,
                "gowork": session.modules.gowork,
                "modules": session.modules.modules,
                "targets": targets,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(ExitCode::SUCCESS);
        }
        // The root itself shows as `.`, not as nothing.
        let shown = |dir: &camino::Utf8Path| match project.display_path(dir).as_str() {
            "" => ".".to_string(),
            rel => rel.to_string(),
        };
        if let Some(work) = &session.modules.gowork {
            println!("workspace: {}", project.display_path(work));
        }
        println!("modules:");
        for m in &session.modules.modules {
            let vendored = if m.vendored { "  (vendored)" } else { "" };
            println!("  {:<40} {}{vendored}", m.path, shown(&m.dir));
        }
        println!("targets:");
        for t in &targets {
            println!(
                "  {:<20} {:<40} {}",
                t.name,
                t.package,
                shown(&t.package_dir)
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
