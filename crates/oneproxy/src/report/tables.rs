//! The report folder's tables, for a spreadsheet or a paper's plotting script: `summary.csv`
//! (one row per target of a run, the units in the column names) and `front-<target>.csv` (the
//! final front a target's flow reports). Numbers are written as `report.json` holds them
//! (shortest round-trip form), so the two agree to the last digit; an absent value is empty.

use super::document::{Report, RunBody};
use crate::data::csv_text;
use crate::workflow::evaluate::ScoredRun;
use crate::workflow::nas::NasOutcome;

/// The columns of `summary.csv`, in order.
pub const SUMMARY_COLUMNS: [&str; 14] = [
    "target",
    "proxy",
    "decision",
    "measurements",
    "regret_points",
    "random_regret_points",
    "worse_than_random",
    "regret_max_points",
    "pareto_recall",
    "hv_ratio",
    "sample_spearman",
    "cv_spearman",
    "final_set_size",
    "scored_on_archs",
];

/// The columns of a front CSV, in order.
pub const FRONT_COLUMNS: [&str; 5] =
    ["arch", "predicted_latency_ms", "proxy_latency_ms", "measured_latency_ms", "accuracy_percent"];

/// A number as the JSON writes it; empty when absent or not finite (the JSON's `null`).
fn num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map_or(String::new(), |x| x.to_string())
}

fn summary_row(r: &ScoredRun) -> [String; 14] {
    let (o, s) = (&r.outcome, &r.score);
    [
        o.target.clone(),
        o.proxy.clone(),
        o.decision.name().to_string(),
        o.measurements.to_string(),
        num(Some(s.regret)),
        num(s.random_regret),
        s.worse_than_random().to_string(),
        num(Some(s.regret_max)),
        num(Some(s.pareto_recall)),
        num(Some(s.hv_ratio)),
        num(Some(o.spearman_samples)),
        num(o.cv_spearman),
        o.chosen.len().to_string(),
        s.scored_on.to_string(),
    ]
}

/// `summary.csv` of a run: a header and one row per target, in the report's order.
pub fn summary_csv(report: &Report<RunBody>) -> String {
    let header = SUMMARY_COLUMNS.map(str::to_string);
    csv_text(std::iter::once(header).chain(report.body.run.targets.iter().map(summary_row)))
}

/// A target's front CSV: its final set, fastest first, with the flow's final prediction and the
/// proxy's own latency for each architecture where `proxy_latency` knows it (the proxy device
/// measured it).
pub fn front_csv(outcome: &NasOutcome, proxy_latency: impl Fn(&str) -> Option<f64>) -> String {
    let header = FRONT_COLUMNS.map(str::to_string);
    let rows = outcome.chosen.iter().map(|c| {
        [
            c.arch.clone(),
            num(c.predicted_latency),
            num(proxy_latency(&c.arch)),
            num(Some(c.latency)),
            num(Some(c.accuracy)),
        ]
    });
    csv_text(std::iter::once(header).chain(rows))
}

/// The file name of a target's front CSV in a report folder.
pub fn front_file(target: &str) -> String {
    format!("front-{}.csv", super::html::name_part(target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::nas::{Chosen, Decision};

    fn outcome() -> NasOutcome {
        let c = |arch: &str, latency, accuracy| Chosen {
            arch: arch.into(),
            accuracy,
            latency,
            predicted_latency: (arch == "|b|").then_some(2.5),
        };
        NasOutcome {
            target: "pixel,3".into(),
            decision: Decision::Adapt,
            proxy: "raspi4".into(),
            spearman_samples: 0.5,
            proxy_ranking: Vec::new(),
            proxy_tie: None,
            refitted: false,
            kept_proxy: false,
            cv_spearman: None,
            samples: 6,
            measurements: 20,
            remeasurements: 0,
            candidates_measured: 14,
            chosen: vec![c("|a|", 1.5, 60.25), c("|b|", 3.0, 70.0)],
            picks: Vec::new(),
            measured: Vec::new(),
            failed: Vec::new(),
            warnings: Vec::new(),
            remaining_regret: None,
            reporting_step: None,
            prediction: None,
        }
    }

    #[test]
    fn a_front_csv_has_units_in_its_header_and_empty_cells_for_what_is_unknown() {
        let text = front_csv(&outcome(), |a| (a == "|a|").then_some(12.0));
        assert_eq!(
            text,
            "arch,predicted_latency_ms,proxy_latency_ms,measured_latency_ms,accuracy_percent\n\
             |a|,,12,1.5,60.25\n|b|,2.5,,3,70\n"
        );
        assert_eq!(front_file("pixel,3"), "front-pixel.00002c3.csv");
    }
}
