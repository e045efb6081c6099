//! What the user sees: cargo-style status lines and warnings on stderr, a progress bar
//! when stderr is a terminal, and with `--json` one JSON event per line on stdout.

use crate::util::env_vars::EnvVars;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// Whether stderr gets ANSI colours: a terminal, and neither NO_COLOR nor CARGO_TERM_COLOR=never.
fn color() -> bool {
    match std::env::var(EnvVars::CARGO_TERM_COLOR).as_deref() {
        Ok("always") => return true,
        Ok("never") => return false,
        _ => {}
    }
    std::env::var_os(EnvVars::NO_COLOR).is_none() && std::io::stderr().is_terminal()
}

fn paint(code: &str, text: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `error: ...` on stderr, as cargo prints it.
pub fn error(message: &str) {
    eprintln!("{}: {message}", paint("1;31", "error"));
}

/// Status lines, progress and machine events for one command run. A clone is the same
/// reporter: the parts below a command (the stores, the remote) hold one, so that their
/// warnings keep the progress bar whole and reach `--json` too.
#[derive(Clone)]
pub struct Reporter {
    json: bool,
    progress: Arc<Mutex<Option<ProgressBar>>>,
}

/// The JSON event of a warning.
#[derive(Serialize)]
struct Warning<'a> {
    reason: &'static str,
    message: &'a str,
}

impl Reporter {
    /// `json`: also write events to stdout, one JSON object per line.
    pub fn new(json: bool) -> Reporter {
        Reporter {
            json,
            progress: Arc::new(Mutex::new(None)),
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// `   Compiling hello (go/hello) for x86_64-unknown-linux-gnu`: a right-aligned green verb.
    pub fn status(&self, verb: &str, message: &str) {
        self.line(&format!(
            "{} {message}",
            paint("1;32", &format!("{verb:>12}"))
        ));
    }

    /// `warning: ...` on stderr, as cargo prints it, without tearing the progress bar; under
    /// `--json` also a `{"reason":"warning","message":...}` event.
    pub fn warn(&self, message: &str) {
        self.line(&format!("{}: {message}", paint("1;33", "warning")));
        self.event(&Warning {
            reason: "warning",
            message,
        });
    }

    /// An error header followed by a block of tool output, kept whole.
    pub fn error_block(&self, header: &str, body: &str) {
        let mut text = format!("{}: {header}", paint("1;31", "error"));
        if !body.trim().is_empty() {
            text.push('\n');
            text.push_str(body.trim_end());
        }
        self.line(&text);
    }

    fn line(&self, text: &str) {
        match self.progress.lock().unwrap().as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// Writes one event line to stdout under `--json`; nothing otherwise.
    pub fn event<T: Serialize>(&self, event: &T) {
        if !self.json {
            return;
        }
        let mut line = serde_json::to_string(event).expect("events serialize");
        line.push('\n');
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(line.as_bytes());
        let _ = stdout.flush();
    }

    /// Starts a progress bar of `total` steps; shown only when stderr is a terminal.
    pub fn start_progress(&self, label: &str, total: u64) {
        if !std::io::stderr().is_terminal() || total == 0 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = "{prefix:>12.cyan.bold} [{bar:27}] {pos}/{len}: {wide_msg}";
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        *self.progress.lock().unwrap() = Some(bar);
    }

    /// Advances the bar by one step and shows what is still running.
    pub fn advance(&self, running: &str) {
        if let Some(bar) = self.progress.lock().unwrap().as_ref() {
            bar.inc(1);
            bar.set_message(running.to_string());
        }
    }

    /// Shows what is running without advancing.
    pub fn set_running(&self, running: &str) {
        if let Some(bar) = self.progress.lock().unwrap().as_ref() {
            bar.set_message(running.to_string());
        }
    }

    pub fn finish_progress(&self) {
        if let Some(bar) = self.progress.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}

/// `1.23s` or `250ms`, as cargo's Finished line shows durations.
pub fn human_duration(d: Duration) -> String {
    if d.as_secs_f64() >= 1.0 {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}
