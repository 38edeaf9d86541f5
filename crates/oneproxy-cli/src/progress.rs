//! Progress on stderr: a bar with an ETA on a terminal, and plain lines every few seconds when
//! stderr is not one (a log file, CI), so that long work is never silent and short work prints
//! nothing.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// How often a plain progress line is printed off a terminal (the first after this long).
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// A bar over `n` items of `what` (`n == 0`: a length set later, or none).
pub fn bar(n: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} (ETA {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if !std::io::stderr().is_terminal() {
        plain_lines(&b, what);
    }
    b
}

/// Off a terminal indicatif draws nothing; a thread prints `what: pos/len, elapsed, ETA` every
/// [`PLAIN_EVERY`] instead, until the bar finishes.
fn plain_lines(b: &ProgressBar, what: &str) {
    let shown = b.clone();
    let what = what.to_string();
    std::thread::spawn(move || {
        let mut waited = Duration::ZERO;
        let tick = Duration::from_millis(250);
        loop {
            std::thread::sleep(tick);
            if shown.is_finished() {
                return;
            }
            waited += tick;
            if waited < PLAIN_EVERY {
                continue;
            }
            waited = Duration::ZERO;
            let (pos, len) = (shown.position(), shown.length().unwrap_or(0));
            let elapsed = shown.elapsed().as_secs();
            let eta =
                if pos > 0 && len > pos { format!(", about {} s left", shown.eta().as_secs()) } else { String::new() };
            let of = if len > 0 { format!("/{len}") } else { String::new() };
            eprintln!("progress: {pos}{of} {what} after {elapsed} s{eta}");
        }
    });
}

/// A bar over `n` items of `what` that stays invisible unless the work is still going after
/// `after`: quick runs print nothing, slow ones show that something is happening (a spinner
/// ticks between items).
pub fn delayed_bar(n: u64, what: &str, after: Duration) -> ProgressBar {
    let b = bar(n, what);
    b.set_draw_target(ProgressDrawTarget::hidden());
    let shown = b.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        if !shown.is_finished() {
            shown.set_draw_target(ProgressDrawTarget::stderr());
            shown.enable_steady_tick(Duration::from_millis(120));
        }
    });
    b
}
