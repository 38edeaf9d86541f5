//! The report folder people open: every SVG parses and stays under the size limit,
//! report.html is self-contained and lists every target, and the figure options work.
//! (scripts/browser_check.py renders report.html in headless Chromium; scripts/test.sh runs it.)

mod common;
use common::oneproxy;
use std::path::Path;

/// Largest SVG of a report (bytes): the thinned cloud keeps each plot below it.
const MAX_SVG: u64 = 200 * 1024;

fn run(out: &Path, extra: &[&str]) {
    oneproxy().args(["run", "--out"]).arg(out).args(extra).assert().success();
}

/// Every `.svg` of a folder: it parses as XML with an `<svg>` root and is at most MAX_SVG bytes.
fn check_svgs(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("svg") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", p.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", p.display());
        let size = text.len() as u64;
        assert!(size <= MAX_SVG, "{} is {size} bytes, over {MAX_SVG}", p.display());
        out.push((p.file_name().unwrap().to_string_lossy().into_owned(), size));
    }
    out
}

/// report.html loads nothing from outside itself.
fn check_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    for bad in ["<script src", "<link", "@import", "src=\"http", "src='http", "href=\"http", "url(http", "<iframe"] {
        assert!(!html.contains(bad), "report.html contains {bad:?}");
    }
    assert!(html.contains("data-ready"), "the script marks that it ran");
}

#[test]
fn default_run_report_is_small_parsable_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    run(&out, &[]);
    let svgs = check_svgs(&out);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let targets: Vec<&str> =
        report["targets"].as_array().unwrap().iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(svgs.len(), targets.len() + 2, "one Pareto plot per target, the heatmap and the overview");
    // Every target is in the heatmap, including the edge devices that measured part of the space.
    let heat = std::fs::read_to_string(out.join("heatmap.svg")).unwrap();
    for t in targets.iter().chain(["edgegpu", "edgetpu", "fpga"].iter()) {
        assert!(heat.contains(&format!(">{t}</text>")), "{t} is not in the heatmap");
    }
    // The default proxy is a measured device, never a simulated one.
    let proxy = report["proxy"].as_str().unwrap();
    assert!(!["fpga", "eyeriss"].contains(&proxy), "{proxy}");
    assert!(heat.contains(&format!("outlined: the proxy, {proxy}")));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    check_self_contained(&html);
    for t in &targets {
        assert!(
            html.contains(&format!(r##"href="#pareto-{t}""##))
                && html.contains(&format!(r#"<details id="pareto-{t}""#)),
            "{t}"
        );
    }
    // The plots are inlined: the page holds every figure's SVG.
    assert_eq!(html.matches("<svg").count(), targets.len() + 2);
    // The story first: the primary score with its unit and its baseline, before the provenance.
    let lead = html.find(r#"<p class="lead">"#).expect("a headline");
    assert!(lead < html.find(r#"<dl class="head">"#).unwrap());
    assert!(html[lead..].starts_with(r#"<p class="lead">Over 28 targets, oneproxy's mean regret is <b>"#));
    assert!(!html.contains("± 0.0000") && !html.contains("baseline random"), "one trial has no spread");
    // The default run leaves no target worse than random, and marks none.
    assert!(failing(&report).is_empty(), "{:?}", failing(&report));
    assert_eq!(html.matches(r#"<tr class="fail">"#).count(), 0);
    // A target worse than random is named up front and its row marked: edgegpu under the
    // flow's earlier rules (the best correction candidates only, rounds of 5) with a stopping
    // threshold five times the old default, which stops it too early.
    let worse = dir.path().join("worse");
    run(&worse, &["--targets", "pixel3,edgegpu", "--combine", "best", "--round-size", "5", "--stop", "0.05"]);
    let worse_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(worse.join("report.json")).unwrap()).unwrap();
    let worse_html = std::fs::read_to_string(worse.join("report.html")).unwrap();
    assert_eq!(failing(&worse_report), ["edgegpu"]);
    assert_eq!(worse_html.matches(r#"<tr class="fail">"#).count(), 1);
    assert!(worse_html.contains(r##"<a href="#pareto-edgegpu">edgegpu</a><span class="flag">"##));
    // Every plot is titled with its regret, and the collapsed ones say it too.
    for t in report["targets"].as_array().unwrap() {
        let name = t["target"].as_str().unwrap();
        let regret = format!("regret {:.3} points", t["regret"].as_f64().unwrap());
        let svg = std::fs::read_to_string(out.join(format!("pareto-{name}.svg"))).unwrap();
        assert!(svg.contains(&regret), "{name}: {regret}");
        assert!(html.contains(&format!("<summary><b>{name}</b> — {regret}")), "{name}");
    }
    // No command-line text inside a figure.
    for (file, _) in &svgs {
        assert!(!std::fs::read_to_string(out.join(file)).unwrap().contains("--"), "{file}");
    }
    let total: u64 = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    let largest = svgs.iter().max_by_key(|s| s.1).unwrap();
    eprintln!("report folder: {total} bytes; largest SVG {} ({} bytes)", largest.0, largest.1);
    // Was 37 MB of SVG; the report with its inlined page stays a few MB.
    assert!(total < 8 * 1024 * 1024, "{total} bytes");
}

/// The targets of a run report whose regret is above their random baseline's.
fn failing(report: &serde_json::Value) -> Vec<&str> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["regret"].as_f64().unwrap() > t["random_regret"].as_f64().unwrap())
        .map(|t| t["target"].as_str().unwrap())
        .collect()
}

/// The rows of a CSV file as maps from column to cell (no cell of these files holds a comma).
fn csv_rows(path: &Path) -> (Vec<String>, Vec<std::collections::HashMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    let rows = lines.map(|l| header.iter().cloned().zip(l.split(',').map(str::to_string)).collect()).collect();
    (header, rows)
}

/// A JSON number as the CSV writes it (empty for null).
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[test]
fn summary_and_front_csvs_agree_with_report_json_and_are_registered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    // Under the flow's earlier rule (`--combine best`) and a stopping threshold five times the
    // default, edgegpu ends worse than random, so the overview has a failing target to mark.
    run(&out, &["--targets", "pixel3,edgegpu,eyeriss", "--combine", "best", "--round-size", "5", "--stop", "0.05"]);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let targets = report["targets"].as_array().unwrap();
    let (header, rows) = csv_rows(&out.join("summary.csv"));
    assert_eq!(&header[..6], ["target", "proxy", "decision", "measurements", "regret_points", "random_regret_points"]);
    assert_eq!(rows.len(), targets.len());
    for (row, t) in rows.iter().zip(targets) {
        for (col, key) in [
            ("target", "target"),
            ("proxy", "proxy"),
            ("decision", "action"),
            ("measurements", "measurements"),
            ("regret_points", "regret"),
            ("random_regret_points", "random_regret"),
            ("regret_max_points", "regret_max"),
            ("pareto_recall", "pareto_recall"),
            ("hv_ratio", "hv_ratio"),
            ("sample_spearman", "spearman_samples"),
            ("cv_spearman", "cv_spearman"),
            ("scored_on_archs", "scored_on"),
        ] {
            // Numbers to the last digit (`1` and `1.0` are one number).
            match t[key].as_f64() {
                Some(v) => assert_eq!(row[col].parse::<f64>().unwrap(), v, "{col}"),
                None => assert_eq!(row[col], cell(&t[key]), "{col}"),
            }
        }
        assert_eq!(row["final_set_size"], t["chosen"].as_array().unwrap().len().to_string());
        let worse = t["regret"].as_f64().unwrap() > t["random_regret"].as_f64().unwrap();
        assert_eq!(row["worse_than_random"], worse.to_string());
        // The front CSV is the final set: every row measured, none dominated by another.
        let name = t["target"].as_str().unwrap();
        let (fh, front) = csv_rows(&out.join(format!("front-{name}.csv")));
        assert_eq!(fh, ["arch", "predicted_latency_ms", "proxy_latency_ms", "measured_latency_ms", "accuracy_percent"]);
        assert_eq!(front.len(), t["chosen"].as_array().unwrap().len());
        let points: Vec<(f64, f64)> = front
            .iter()
            .map(|r| (r["measured_latency_ms"].parse().unwrap(), r["accuracy_percent"].parse().unwrap()))
            .collect();
        for (i, a) in points.iter().enumerate() {
            for (j, b) in points.iter().enumerate() {
                let dominates = b.0 <= a.0 && b.1 >= a.1 && (b.0 < a.0 || b.1 > a.1);
                assert!(i == j || !dominates, "{name}: {b:?} dominates {a:?}");
            }
        }
        // The proxy measured every architecture of the space (raspi4 is a full table), and the
        // flow's final model predicted each, as report.json says.
        assert!(front.iter().all(|r| r["proxy_latency_ms"].parse::<f64>().is_ok()), "{name}");
        for (r, c) in front.iter().zip(t["chosen"].as_array().unwrap()) {
            let predicted = r["predicted_latency_ms"].parse::<f64>().unwrap();
            assert!(predicted > 0.0, "{name}");
            assert_eq!(predicted, c["predicted_latency"].as_f64().unwrap(), "{name}");
        }
    }
    // Every file is in the marker, the overview and the CSVs included, so a rerun replaces them.
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(".oneproxy-report.json")).unwrap()).unwrap();
    let listed: Vec<&str> = marker["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for f in ["overview.svg", "summary.csv", "front-pixel3.csv", "front-edgegpu.csv", "front-eyeriss.csv"] {
        assert!(listed.contains(&f), "{f} is not in the marker");
        assert!(out.join(f).is_file(), "{f}");
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".oneproxy-report.json")
        .collect();
    on_disk.sort();
    assert_eq!(listed, on_disk);
    // The overview marks the failing target.
    let overview = std::fs::read_to_string(out.join("overview.svg")).unwrap();
    assert!(overview.contains("Regret per target") && overview.contains(r#"font-weight="bold">edgegpu</text>"#));
    run(&out, &["--targets", "pixel3"]);
    assert!(!out.join("front-edgegpu.csv").exists(), "a rerun replaces the folder's files");
}

#[test]
fn heatmap_scale_follows_the_data_by_default_or_spans_minus_one_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let (d, f) = (dir.path().join("d.svg"), dir.path().join("f.svg"));
    oneproxy().args(["monotonicity", "--plot"]).arg(&d).assert().success();
    oneproxy().args(["monotonicity", "--heatmap-scale", "full", "--plot"]).arg(&f).assert().success();
    let (data, full) = (std::fs::read_to_string(&d).unwrap(), std::fs::read_to_string(&f).unwrap());
    assert!(full.contains("(fixed scale −1 to 1)") && full.contains(">−1.00</text>"));
    // The bundled devices' correlations are all positive: the data scale starts above 0.
    let bar = data.split("(scale over the data, ").nth(1).expect("a data scale");
    let lo: f64 = bar.split(" to ").next().unwrap().replace('−', "-").parse().unwrap();
    assert!(lo > 0.0 && lo < 0.9, "{lo}");
    assert!(!data.contains(">−1.00</text>") && !data.contains("--heatmap-order"));
    let out = dir.path().join("r");
    run(&out, &["--targets", "pixel3", "--heatmap-scale", "full"]);
    assert!(std::fs::read_to_string(out.join("heatmap.svg")).unwrap().contains("fixed scale −1 to 1"));
}

#[test]
fn pareto_plots_show_the_predicted_front_and_the_picks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    run(&out, &["--proxy", "pixel3", "--targets", "raspi4,eyeriss", "--constraint", "5", "--log-latency", "off"]);
    let svg = std::fs::read_to_string(out.join("pareto-raspi4.svg")).unwrap();
    for want in [
        "raspi4: regret ",
        "; proxy pixel3",
        "measurements",
        "true Pareto front",
        "predicted front, measured on target",
        "final set",
        "≤ 5 ms",
        "latency constraint",
        "latency budgets",
        "\ntight\n",
        "\nloose\n",
        "zoom on the top of the front",
    ] {
        assert!(svg.contains(want), "{want}");
    }
    assert!(!svg.contains("log scale"));
    run(&out, &["--targets", "raspi4", "--log-latency"]);
    assert!(std::fs::read_to_string(out.join("pareto-raspi4.svg")).unwrap().contains("log scale"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    check_self_contained(&html);
}

/// Row labels of a heatmap SVG, top to bottom.
fn heatmap_rows(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("text") && n.attribute("text-anchor") == Some("end") && n.attribute("transform").is_none()
        })
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

#[test]
fn heatmap_order_is_clustered_or_alphabetical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = (dir.path().join("a.svg"), dir.path().join("c.svg"));
    oneproxy().args(["monotonicity", "--heatmap-order", "alpha", "--plot"]).arg(&a).assert().success();
    oneproxy().args(["monotonicity", "--plot"]).arg(&c).assert().success();
    let (alpha, clustered) =
        (heatmap_rows(&std::fs::read_to_string(&a).unwrap()), heatmap_rows(&std::fs::read_to_string(&c).unwrap()));
    let mut sorted = alpha.clone();
    sorted.sort();
    assert!(alpha.len() > 20);
    assert_eq!(alpha, sorted);
    assert_ne!(clustered, alpha);
    // The same devices either way.
    let mut c2 = clustered.clone();
    c2.sort();
    assert_eq!(c2, sorted);
    // Blocks of alike devices sit together when clustered (they do not alphabetically).
    let spread = |order: &[String], block: &[&str]| {
        let pos: Vec<usize> = block.iter().map(|d| order.iter().position(|x| x == d).unwrap()).collect();
        pos.iter().max().unwrap() - pos.iter().min().unwrap()
    };
    let big_batch = ["1080ti_256", "titanxp_256", "titanx_256"];
    let small_batch = [
        "1080ti_1",
        "1080ti_32",
        "2080ti_1",
        "2080ti_32",
        "titan_rtx_1",
        "titan_rtx_32",
        "titanx_1",
        "titanx_32",
        "titanxp_1",
        "titanxp_32",
    ];
    assert_eq!(spread(&clustered, &big_batch), big_batch.len() - 1, "{clustered:?}");
    assert_eq!(spread(&clustered, &small_batch), small_batch.len() - 1, "{clustered:?}");
    assert!(spread(&alpha, &big_batch) > big_batch.len() - 1 && spread(&alpha, &small_batch) > small_batch.len() - 1);
}

#[test]
fn figures_as_pdf_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("h.pdf");
    oneproxy().args(["monotonicity", "--devices", "pixel3,raspi4,fpga", "--plot"]).arg(&pdf).assert().success();
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let front = dir.path().join("f.pdf");
    oneproxy()
        .args(["search", "--accuracy", "cifar100", "--device", "pixel3", "--constraint", "10", "--plot"])
        .arg(&front)
        .assert()
        .success();
    assert!(std::fs::read(&front).unwrap().starts_with(b"%PDF-"));
    let png = dir.path().join("f.png");
    oneproxy().args(["search", "--accuracy", "cifar100", "--device", "pixel3", "--plot"]).arg(&png).assert().success();
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    let bad = dir.path().join("f.jpg");
    let err = oneproxy()
        .args(["search", "--accuracy", "cifar100", "--device", "pixel3", "--plot"])
        .arg(&bad)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains(".svg, .png or .pdf"));
}

#[test]
fn nas_out_writes_report_html() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nas-report");
    oneproxy()
        .current_dir(dir.path())
        .args(["nas", "--target", "pixel2", "--oracle", "table", "--constraint", "5", "--out"])
        .arg(&out)
        .assert()
        .success();
    let svgs = check_svgs(&out);
    assert_eq!(svgs.len(), 1);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    check_self_contained(&html);
    assert!(html.contains("oneproxy report: pixel2 (nb201)"));
    assert!(html.contains(r##"href="#pareto-pixel2""##) && html.contains(r#"<details id="pareto-pixel2" open>"#));
    assert!(html.contains("pick ≤ 5 ms"));
    let svg = std::fs::read_to_string(out.join("pareto.svg")).unwrap();
    assert!(svg.contains("predicted front, measured") && svg.contains("measured architectures"));
    // A real device's report has no true front, in its figure or its words.
    assert!(!svg.contains("true") && !html.contains("true front") && !html.contains("staircase"));
    let (_, front) = csv_rows(&out.join("front-pixel2.csv"));
    assert!(!front.is_empty() && front.iter().all(|r| !r["measured_latency_ms"].is_empty()));
}
