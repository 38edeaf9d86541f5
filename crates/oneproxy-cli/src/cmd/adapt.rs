//! `oneproxy adapt`: AdaProxy on the user's target samples.

use crate::args::AdaptArgs;
use crate::report::{fmt3, print, print_json};
use anyhow::{bail, Context};
use oneproxy::data::bundle;
use oneproxy::data::read_latency_csv;
use oneproxy::predictor::{json_numbers, AdaptReport};
use oneproxy::workflow::{adapt_target, TargetAdaptation};
use oneproxy::{Arch, Manifest, SpaceId};
use serde::Serialize;

#[derive(Serialize)]
struct Output {
    manifest: Manifest,
    target: String,
    proxy: String,
    form: String,
    norm: String,
    /// `"none"` when infinite (no correction).
    #[serde(serialize_with = "json_numbers::lambda::serialize")]
    lambda: f64,
    #[serde(serialize_with = "json_numbers::undefined::serialize")]
    cv_spearman: f64,
    #[serde(serialize_with = "json_numbers::undefined::serialize")]
    cv_error: f64,
    #[serde(serialize_with = "json_numbers::undefined::serialize")]
    spearman_samples_before: f64,
    samples: usize,
    solves: usize,
    solve_seconds: f64,
    status: String,
    candidates: Vec<String>,
    predictor_file: Option<String>,
    report: AdaptReport,
}

pub fn run(args: AdaptArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space()?;
    let outputs = oneproxy::output::Outputs::new(args.force).input(&args.samples).inputs(&args.data.latency);
    if let Some(out) = &args.out {
        outputs.check(out).context("--out")?;
    }
    let params = super::adapt_params(&args.options, oneproxy::predictor::Combination::Averaged)?;
    let table = super::load_table(&args.data)?;
    let bundled = bundle(space)?;
    let csv = read_latency_csv(&args.samples, space.space(), Some(&bundled.archs))?;
    super::print_warnings(&csv.warnings);
    let target = match (&args.target, csv.devices.as_slice()) {
        (Some(t), devs) if devs.contains(t) => t.clone(),
        (Some(t), devs) => bail!("{}: no column '{t}' (columns: {})", args.samples.display(), devs.join(", ")),
        (None, [only]) => only.clone(),
        (None, devs) => bail!(
            "{}: several device columns ({}); choose the target with --target",
            args.samples.display(),
            devs.join(", ")
        ),
    };
    let col = csv.devices.iter().position(|d| *d == target).expect("checked");
    let (archs, y): (Vec<Arch>, Vec<f64>) =
        csv.rows.iter().filter(|(_, v)| !v[col].is_nan()).map(|(a, v)| (a.clone(), v[col])).unzip();
    // Progress only if the adaptation takes more than about a second (thousands of samples).
    let bar = crate::progress::delayed_bar(0, "candidates (proxy x form)", std::time::Duration::from_secs(1));
    let adaptation =
        adapt_target(&table, &super::proxy_selection(&args.proxy)?, &target, &archs, &y, &params, &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        });
    bar.finish_and_clear();
    let TargetAdaptation { candidates, adapted, spearman_before: before } = adaptation
        .with_context(|| format!("adapting to '{target}' with {} samples from {}", y.len(), args.samples.display()))?;
    let report = adapted.report.clone();
    let mut predictor = adapted.predictor;
    let mut inputs = table.inputs().to_vec();
    inputs.push(csv.input.clone());
    predictor.set_provenance(serde_json::json!({
        "manifest": Manifest::new(space, None, inputs.clone()),
        "adaproxy": &report,
        "target": target,
    }));
    if let Some(out) = &args.out {
        predictor.save(out, &outputs).context("--out")?;
    }
    if args.json {
        return print_json(&Output {
            manifest: Manifest::new(space, None, inputs),
            target,
            proxy: report.proxy.clone(),
            form: report.form.name().into(),
            norm: report.penalty.name().into(),
            lambda: report.lambda,
            cv_spearman: report.cv_spearman,
            cv_error: report.cv_error,
            spearman_samples_before: before,
            samples: y.len(),
            solves: report.solves,
            solve_seconds: report.solve_seconds,
            status: report.status.clone(),
            candidates,
            predictor_file: args.out.as_ref().map(|p| p.display().to_string()),
            report,
        });
    }
    let lambda =
        if report.lambda.is_finite() { format!("{:.3e}", report.lambda) } else { "none (no correction)".into() };
    let mut text = format!(
        "target {target}: adapted proxy {} with {} samples ({} candidate proxies)\n\
         form {}, norm {}, lambda {lambda}, {} solves in {:.3} s, status {}\n\
         validation: {}\n\
         Spearman on the samples: proxy {} -> adapted (cross-validated) {}\n",
        report.proxy,
        y.len(),
        candidates.len(),
        report.form.name(),
        report.penalty.name(),
        report.solves,
        report.solve_seconds,
        report.status,
        report.validation,
        fmt3(before),
        fmt3(report.cv_spearman),
    );
    text.push_str(&members_note(&report));
    text.push_str(&unlike_pool_note(&report));
    text.push_str(&positivity_note(&report));
    for w in &report.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    match &args.out {
        Some(p) => text.push_str(&format!("predictor written to {}\n", p.display())),
        None => text.push_str("(use --out FILE to save the predictor)\n"),
    }
    print(&text)
}

/// The averaged members and their weights, heaviest first (at most 6 named; empty for one).
fn members_note(report: &AdaptReport) -> String {
    if report.members.len() < 2 {
        return String::new();
    }
    let named: Vec<String> = report
        .members
        .iter()
        .take(6)
        .map(|m| {
            let filled = if m.filled.is_empty() {
                String::new()
            } else {
                format!(" (modelled where unmeasured: {})", m.filled.join(", "))
            };
            format!("{:.2} {} {}{filled}", m.weight, m.proxy, m.form.name())
        })
        .collect();
    let rest = report.members.len().saturating_sub(6);
    let more = if rest > 0 { format!(", and {rest} more") } else { String::new() };
    format!("average of {} members (weight proxy form): {}{more}\n", report.members.len(), named.join(", "))
}

/// The corrections the averaging left out because they rank the space unlike every pool device,
/// in words (empty when none).
fn unlike_pool_note(report: &AdaptReport) -> String {
    if report.unlike_pool.is_empty() {
        return String::new();
    }
    let named: Vec<String> = report
        .unlike_pool
        .iter()
        .map(|u| {
            format!("{:.2} {} {} (Spearman {:.2})", u.member.weight, u.member.proxy, u.member.form.name(), u.spearman)
        })
        .collect();
    format!(
        "left out of the average, ranking the space unlike every pool device (Spearman with the pool's mean rank \
         below {:.2}): {}\n",
        report.unlike_pool[0].floor,
        named.join(", ")
    )
}

/// What the positivity requirement changed, in words (empty when nothing).
fn positivity_note(report: &AdaptReport) -> String {
    report
        .constrained
        .iter()
        .map(|c| {
            format!(
                "{} {} was refitted to stay positive over the space (least squares predicted {:.4e} ms for {}; \
                 {} constraint(s); cross-validated error {:.4} -> {:.4})\n",
                c.proxy,
                c.form.name(),
                c.lowest_ms,
                c.arch,
                c.constraints,
                c.unconstrained_cv_error,
                report.members.iter().find(|m| m.proxy == c.proxy && m.form == c.form).map_or(f64::NAN, |m| m.cv_error),
            )
        })
        .collect()
}
