//! A progress line on stderr while collecting, or nothing. Whether to show it
//! is decided by the caller (terminal, `-q`, `-o json`); this only draws.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(show: bool) -> Self {
        let bar = show.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} collecting [{pos}/{len}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    /// More work became known (lists to make, then logs to read).
    pub fn add(&self, n: usize) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n as u64);
        }
    }

    /// One piece finished: "pods in ml: 42".
    pub fn done(&self, what: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(what);
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
