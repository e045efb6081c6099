//! `cargo xtask cache stats|gc|clean`: the local build cache.

use std::process::ExitCode;

use anyhow::Result;
use xshell::Shell;
use xtask_go::cache::maintenance;
use xtask_go::cache::LocalStore;
use xtask_go::project::Project;
use xtask_go::units::{human_size, parse_size};

use crate::flags::{Cache, CacheAction};

impl Cache {
    pub fn run(self, sh: &Shell) -> Result<ExitCode> {
        let project = Project::discover(&crate::current_dir(sh)?)?;
        let dir = xtask_go::cache::cache_dir(&project);
        match self.action {
            CacheAction::Stats => {
                let stats = maintenance::stats(&LocalStore::open(&dir));
                if self.json {
                    println!("{}", serde_json::to_string_pretty(&stats)?);
                } else {
                    println!("location: {}", stats.location);
                    println!(
                        "entries:  {} ({})",
                        stats.entries,
                        human_size(stats.entry_bytes)
                    );
                    println!(
                        "blobs:    {} ({})",
                        stats.blobs,
                        human_size(stats.blob_bytes)
                    );
                    println!("total:    {}", human_size(stats.total_bytes()));
                }
            }
            CacheAction::Gc { max_size } => {
                let limit = match max_size {
                    Some(text) => parse_size(&text)?,
                    None => project.settings.cache_max_size,
                };
                let report = maintenance::gc(&LocalStore::open(&dir), limit);
                if self.json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    println!(
                        "removed {} entries and {} blobs, freed {} (limit {}); {} stale temp files",
                        report.removed_entries,
                        report.removed_blobs,
                        human_size(report.freed_bytes),
                        human_size(limit),
                        report.temp_files
                    );
                }
            }
            CacheAction::Clean => {
                maintenance::clean(&dir)?;
                if self.json {
                    println!("{}", serde_json::json!({ "removed": dir }));
                } else {
                    println!("removed {dir}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
