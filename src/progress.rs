//! Progress of the long command-line jobs (`rebuild`, `verify`, `export`, `import`), on
//! standard error so that standard output stays the job's result: an indicatif bar on a
//! terminal, and, when standard error is not one, nothing but a summary line at the end.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// How often a bar is redrawn at most.
const REDRAWS_PER_SECOND: u8 = 10;

pub struct Progress {
    label: &'static str,
    bar: Option<ProgressBar>,
    done: u64,
    started: Instant,
}

impl Progress {
    /// A job of `total` events (or an unknown number), named `label` (`rebuild`).
    pub fn start(label: &'static str, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let target = ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND);
            let (bar, template) = match total {
                Some(total) => (
                    ProgressBar::with_draw_target(Some(total), target),
                    "{prefix} [{bar:40}] {pos}/{len} events, {elapsed} ({eta} left)",
                ),
                None => (
                    ProgressBar::with_draw_target(None, target),
                    "{prefix} {spinner} {pos} events, {elapsed}",
                ),
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label);
            bar
        });
        Self {
            label,
            bar,
            done: 0,
            started: Instant::now(),
        }
    }

    /// `events` more are done.
    pub fn advance(&mut self, events: u64) {
        self.done += events;
        if let Some(bar) = &self.bar {
            bar.inc(events);
        }
    }

    /// Ends the bar, and writes the summary line.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        eprintln!("{}: {} events in {seconds:.2} s", self.label, self.done);
    }
}
