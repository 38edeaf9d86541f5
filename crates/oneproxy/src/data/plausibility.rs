//! Plausibility checks: values that parse but are probably wrong.
//!
//! A latency of 0.0000004 ms or of three hours per image, a column where some rows were written
//! in seconds and the others in ms, accuracies written as fractions: none of these is invalid,
//! but each silently skews a ranking or a Pareto front. The readers keep them as [`Warning`]s
//! with file and line ([`crate::LatencyTable::warnings`], [`crate::AccuracyTable::warnings`]) so
//! that every front end (the CLI, a binding) can show them. What cannot be right (a negative
//! latency, an accuracy of 140 %) is an [`crate::Error`] instead.

use crate::error::show_number;
use serde::Serialize;
use std::path::Path;

/// Below this a latency (ms per image) is implausible: 1 us, far faster than any network here.
pub const MIN_PLAUSIBLE_MS: f64 = 1e-3;
/// Above this a latency (ms per image) is implausible: one hour.
pub const MAX_PLAUSIBLE_MS: f64 = 3.6e6;
/// A column whose values fall in two groups this many times apart looks like two units.
///
/// Why a gap between groups and not a distance to the median: real columns span more than 1000x
/// (the bundled NB201 pixel3 and raspi4 tables hold 128 degenerate cells at 0.003 ms against a
/// median of 10.7 ms: 3258x), but none has a hole in it: over the 70 bundled device columns the
/// largest ratio between consecutive sorted values is 5x. A change of unit (1000x between ms and
/// us or s) leaves a hole of 1000x divided by the spread of a group, so 100x catches it while
/// the groups span up to 10x each.
pub const UNIT_GAP: f64 = 100.0;
/// Offending lines named in one warning; the others are counted.
const LINES_LISTED: usize = 5;

/// Something in an input that is accepted but looks wrong, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// The file (as given), if the warning is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line of the first offending value, if one line is meant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The column (a device, `accuracy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// What looks wrong and what to check.
    pub message: String,
    /// Which check raised it (`too-fast`, `too-slow`, `units`, `fractions`): a log that grows
    /// value by value says each kind once per column, although the message's counts change.
    #[serde(skip)]
    pub kind: &'static str,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        if let Some(c) = &self.column {
            write!(f, "column '{}': ", crate::error::clip(c))?;
        }
        f.write_str(&self.message)
    }
}

/// Below this median a set of latencies (ms per image) reads like seconds: a 5 ms network
/// written in seconds is 0.005. No bundled device comes near it (the fastest bundled NB201
/// device's median is 1.2 ms), while a median latency of 100 us per image would take a network
/// far smaller than any of the spaces here.
pub const SECONDS_MEDIAN_MS: f64 = 0.1;
/// Fewer values than this say nothing of their unit: a few degenerate architectures (no
/// operation between input and output) run in microseconds on real devices.
pub const SECONDS_MIN_VALUES: usize = 3;

/// Warnings about one latency column of a file: values outside
/// [[`MIN_PLAUSIBLE_MS`], [`MAX_PLAUSIBLE_MS`]], and values split from the others by a gap of
/// more than [`UNIT_GAP`]. `cells` are the measured cells as (line, ms). One warning per kind
/// of problem, naming the first lines, so a column of 15625 bad values stays one message.
pub fn latency_column(path: &Path, column: &str, cells: &[(u64, f64)]) -> Vec<Warning> {
    let file = path.display().to_string();
    column_checks(cells, &|offenders, what, kind| Warning {
        file: Some(file.clone()),
        line: Some(offenders[0].0),
        column: Some(column.to_string()),
        // One offender is already located by the warning's line.
        message: if offenders.len() == 1 { what } else { format!("{what} (lines {})", listed(offenders, |c| c.0)) },
        kind,
    })
}

/// Warnings about latencies given in memory (a binding's argument `source`, a device `column`),
/// as (architecture, ms): the checks of [`latency_column`], naming the architectures instead of
/// lines, and a warning when their median looks like seconds ([`SECONDS_MEDIAN_MS`]), which a
/// file's column is not checked for (a file may hold a few fast architectures only).
pub fn latency_values(source: &str, column: &str, values: &[(String, f64)]) -> Vec<Warning> {
    let cells: Vec<Cell> = values.iter().enumerate().map(|(i, (_, v))| (i as u64, *v)).collect();
    let mut out = column_checks(&cells, &|offenders, what, kind| Warning {
        file: Some(source.to_string()),
        line: None,
        column: Some(column.to_string()),
        message: format!("{what} ({})", listed(offenders, |c| crate::error::clip(&values[c.0 as usize].0))),
        kind,
    });
    let ms: Vec<f64> = values.iter().map(|v| v.1).collect();
    out.extend(seconds_like(&ms).map(|message| Warning {
        file: Some(source.to_string()),
        line: None,
        column: Some(column.to_string()),
        message,
        kind: "seconds",
    }));
    out
}

/// Why `values` (ms per image) look like seconds, if their median is below
/// [`SECONDS_MEDIAN_MS`] (at least [`SECONDS_MIN_VALUES`] of them, non-finite ones left out).
pub fn seconds_like(values: &[f64]) -> Option<String> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < SECONDS_MIN_VALUES {
        return None;
    }
    finite.sort_by(f64::total_cmp);
    let n = finite.len();
    let median = if n % 2 == 1 { finite[n / 2] } else { (finite[n / 2 - 1] + finite[n / 2]) / 2.0 };
    (median < SECONDS_MEDIAN_MS).then(|| {
        format!(
            "the median latency is {} ms per image, below {} ms: are these seconds? latencies are in ms per image (multiply seconds by 1000)",
            show_number(median),
            show_number(SECONDS_MEDIAN_MS)
        )
    })
}

/// The range and unit checks of one column of cells (key, ms); `warn(offenders, message,
/// kind)` locates a warning (lines of a file, architectures of an argument).
fn column_checks(cells: &[Cell], warn: &dyn Fn(&[Cell], String, &'static str) -> Warning) -> Vec<Warning> {
    let warn = |offenders: Vec<Cell>, what: String, kind: &'static str| {
        (!offenders.is_empty()).then(|| warn(&offenders, what, kind))
    };
    let mut out = Vec::new();
    let low: Vec<Cell> = cells.iter().copied().filter(|c| c.1 < MIN_PLAUSIBLE_MS).collect();
    let smallest = low.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    out.extend(warn(
        low,
        format!(
            "implausibly fast: below 1 us per image (smallest {} ms); latencies are in ms per image",
            show_number(smallest)
        ),
        "too-fast",
    ));
    let high: Vec<Cell> = cells.iter().copied().filter(|c| c.1 > MAX_PLAUSIBLE_MS).collect();
    let largest = high.iter().map(|c| c.1).fold(0.0, f64::max);
    out.extend(warn(
        high,
        format!(
            "implausibly slow: above 1 hour per image (largest {} ms); latencies are in ms per image",
            show_number(largest)
        ),
        "too-slow",
    ));
    // Out-of-range values are said above; the unit check looks at the others.
    let plausible: Vec<Cell> =
        cells.iter().copied().filter(|c| (MIN_PLAUSIBLE_MS..=MAX_PLAUSIBLE_MS).contains(&c.1)).collect();
    if let Some((minority, below, above)) = unit_split(plausible) {
        let what = format!(
            "{} of {} values lie across a {UNIT_GAP}x gap from the others (nothing between {} and {} ms): rows in different units?",
            minority.len(),
            cells.len(),
            show_number(below),
            show_number(above)
        );
        out.extend(warn(minority, what, "units"));
    }
    out
}

/// A measured cell: (line, ms).
type Cell = (u64, f64);

/// The smaller side of the widest gap between consecutive sorted values, if that gap exceeds
/// [`UNIT_GAP`] (the upper side on a tie), in line order, with the values either side of the gap.
fn unit_split(mut cells: Vec<Cell>) -> Option<(Vec<Cell>, f64, f64)> {
    cells.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (at, ratio) =
        cells.windows(2).enumerate().map(|(i, w)| (i + 1, w[1].1 / w[0].1)).max_by(|a, b| a.1.total_cmp(&b.1))?;
    if ratio <= UNIT_GAP {
        return None;
    }
    let (below, above) = (cells[at - 1].1, cells[at].1);
    let mut minority = if at < cells.len() - at { cells[..at].to_vec() } else { cells[at..].to_vec() };
    minority.sort_by_key(|c| c.0);
    Some((minority, below, above))
}

/// A warning when every accuracy of a file lies in [0, 1]: they look like fractions, while
/// accuracies are percentages (a front of 0.7 % against 0.9 % still ranks, but every printed
/// figure and constraint would be off by 100x).
pub fn accuracy_fractions(path: &Path, values: &[f64]) -> Option<Warning> {
    (!values.is_empty() && values.iter().all(|v| (0.0..=1.0).contains(v))).then(|| Warning {
        file: Some(path.display().to_string()),
        line: None,
        column: Some("accuracy".into()),
        message: format!(
            "all {} accuracies lie in [0, 1]: they look like fractions, but accuracies are percentages (multiply by 100)",
            values.len()
        ),
        kind: "fractions",
    })
}

/// The first offenders by `name` ("3, 7, 9"), the others counted ("3, 7, 9, 12, 15 and 2 more").
fn listed<T: std::fmt::Display>(offenders: &[Cell], name: impl Fn(&Cell) -> T) -> String {
    let shown: Vec<String> = offenders.iter().take(LINES_LISTED).map(|c| name(c).to_string()).collect();
    match offenders.len().saturating_sub(LINES_LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[f64]) -> Vec<Warning> {
        let cells: Vec<(u64, f64)> = values.iter().enumerate().map(|(i, v)| (i as u64 + 2, *v)).collect();
        latency_column(Path::new("m.csv"), "dev", &cells)
    }

    #[test]
    fn plausible_columns_give_no_warning() {
        assert!(check(&[0.5, 2.0, 14.0, 3.3]).is_empty());
        assert!(check(&[]).is_empty());
        assert!(check(&[MIN_PLAUSIBLE_MS, 0.05]).is_empty());
    }

    #[test]
    fn out_of_range_values_are_named_with_their_lines() {
        let w = check(&[5e-7, 1e-4, 2e-4]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].to_string(), "m.csv:2: column 'dev': implausibly fast: below 1 us per image (smallest 5e-7 ms); latencies are in ms per image (lines 2, 3, 4)");
        let w = check(&[4e6]);
        assert_eq!(w[0].to_string(), "m.csv:2: column 'dev': implausibly slow: above 1 hour per image (largest 4000000 ms); latencies are in ms per image");
        // Extreme values are printed short, not as hundreds of digits.
        let w = check(&[1e306, 1e-300]);
        assert!(w.iter().all(|w| w.message.len() < 200), "{w:?}");
        assert!(w[0].message.contains("1e-300") && w[1].message.contains("1e306"), "{w:?}");
    }

    #[test]
    fn rows_in_other_units_are_caught_by_the_gap_between_groups() {
        // Two rows written in microseconds among rows in ms spanning 3x.
        let v = [3.1, 2.8, 3.4, 3600.0, 3.0, 2.6, 3.9, 4100.0, 3.2, 2.9];
        let w = check(&v);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].line, Some(5));
        assert_eq!(
            w[0].message,
            "2 of 10 values lie across a 100x gap from the others (nothing between 3.9 and 3600 ms): rows in different units? (lines 5, 9)"
        );
        // The smaller group is named, whichever side it is on; long lists are cut.
        let mut v = vec![4000.0; 20];
        v.extend([4.0; 8]);
        let w = check(&v);
        assert!(
            w[0].message.starts_with("8 of 28") && w[0].message.ends_with("(lines 22, 23, 24, 25, 26 and 3 more)"),
            "{w:?}"
        );
    }

    #[test]
    fn a_wide_but_continuous_column_is_not_two_units() {
        // Like NB201 on pixel3: degenerate cells at 0.003 ms, a median near 10 ms, no hole.
        let v: Vec<f64> = (0..200).map(|i| 0.003 * 1.05f64.powi(i)).collect();
        assert!(v[199] / v[0] > 10_000.0);
        assert!(check(&v).is_empty(), "{:?}", check(&v));
    }

    #[test]
    fn fractions_are_flagged_percentages_not() {
        let w = accuracy_fractions(Path::new("a.csv"), &[0.71, 0.93, 0.5]).unwrap();
        assert!(w.to_string().starts_with("a.csv: column 'accuracy': all 3 accuracies lie in [0, 1]"), "{w}");
        assert!(accuracy_fractions(Path::new("a.csv"), &[0.71, 93.0]).is_none());
        assert!(accuracy_fractions(Path::new("a.csv"), &[]).is_none());
    }

    #[test]
    fn values_in_memory_are_named_by_architecture_and_seconds_are_caught() {
        let named =
            |v: &[f64]| -> Vec<(String, f64)> { v.iter().enumerate().map(|(i, &x)| (format!("a{i}"), x)).collect() };
        assert!(latency_values("samples", "target", &named(&[4.2, 7.5, 11.0])).is_empty());
        let w = latency_values("samples", "target", &named(&[0.0042, 0.0075, 0.011]));
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].kind, "seconds");
        assert!(
            w[0].to_string().starts_with("samples: column 'target': the median latency is 0.0075 ms per image"),
            "{}",
            w[0]
        );
        let w = latency_values("samples", "target", &named(&[5e-7, 4.0, 5.0, 6.0]));
        assert_eq!(
            w[0].message,
            "implausibly fast: below 1 us per image (smallest 5e-7 ms); latencies are in ms per image (a0)"
        );
        // Two values say nothing of the unit: degenerate architectures are that fast.
        assert!(seconds_like(&[0.003, 0.004]).is_none());
        assert!(seconds_like(&[0.003, 0.004, 9.0, 12.0, f64::NAN]).is_none());
    }
}
