//! Layer 0, what every other layer may use: atomic and verified file writes, and the reporter.

pub mod env_vars;
pub mod fsutil;
pub mod report;
