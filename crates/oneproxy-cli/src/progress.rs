//! Progress bars on stderr (hidden when stderr is not a terminal, e.g. in tests and pipes).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `n` items of `what`.
pub fn bar(n: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// A bar over `n` items of `what` that stays invisible unless the work is still going after
/// `after`: quick runs print nothing, slow ones show that something is happening (a spinner
/// ticks between items).
pub fn delayed_bar(n: u64, what: &str, after: std::time::Duration) -> ProgressBar {
    let b = bar(n, what);
    b.set_draw_target(ProgressDrawTarget::hidden());
    let shown = b.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        if !shown.is_finished() {
            shown.set_draw_target(ProgressDrawTarget::stderr());
            shown.enable_steady_tick(std::time::Duration::from_millis(120));
        }
    });
    b
}
