//! Progress bars on stderr (hidden when stderr is not a terminal, e.g. in tests and pipes).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `n` items of `what`.
pub fn bar(n: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} {{msg}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}
