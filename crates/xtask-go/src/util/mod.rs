//! Layer 0, what every other layer may use: atomic and verified file writes, and the reporter.

pub mod fsutil;
pub mod report;
