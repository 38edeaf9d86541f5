//! Progress on stderr: a bar with an ETA on a terminal, and plain lines every few seconds when
//! stderr is not one (a log file, CI), so that long work is never silent and short work prints
//! nothing.

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
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
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("eta", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            if let Some(left) = remaining(state.pos(), state.len().unwrap_or(0), state.elapsed()) {
                let _ = write!(w, "{}", HumanDuration(left));
            }
        }),
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
            let eta = remaining(pos, len, shown.elapsed())
                .map_or(String::new(), |left| format!(", about {} s left", left.as_secs()));
            let of = if len > 0 { format!("/{len}") } else { String::new() };
            eprintln!("progress: {pos}{of} {what} after {elapsed} s{eta}");
        }
    });
}

/// Time left at the average pace so far, once an item is done (`None` before, or when done).
///
/// Why not indicatif's own ETA: it weighs recent steps and decays while none arrives, so with
/// items of a minute each (an evaluation's passes) it climbed from minutes to years between two
/// of them. The average is what a person waiting needs, and it never runs away.
fn remaining(pos: u64, len: u64, elapsed: Duration) -> Option<Duration> {
    (pos > 0 && len > pos).then(|| elapsed.mul_f64((len - pos) as f64 / pos as f64))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_the_average_pace_so_far_and_none_before_the_first_item_or_after_the_last() {
        let minute = Duration::from_secs(60);
        assert_eq!(remaining(4, 10, 4 * minute), Some(6 * minute));
        // However long the current item takes, the estimate only follows the average.
        assert_eq!(remaining(4, 10, 8 * minute), Some(12 * minute));
        assert_eq!(remaining(0, 10, minute), None);
        assert_eq!(remaining(10, 10, minute), None);
        assert_eq!(remaining(3, 0, minute), None);
    }
}
