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
    assert_eq!(svgs.len(), targets.len() + 1, "one Pareto plot per target and the heatmap");
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
    assert_eq!(html.matches("<svg").count(), targets.len() + 1);
    let total: u64 = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    let largest = svgs.iter().max_by_key(|s| s.1).unwrap();
    eprintln!("report folder: {total} bytes; largest SVG {} ({} bytes)", largest.0, largest.1);
    // Was 37 MB of SVG; the report with its inlined page stays a few MB.
    assert!(total < 8 * 1024 * 1024, "{total} bytes");
}

#[test]
fn pareto_plots_show_the_predicted_front_and_the_picks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    run(&out, &["--proxy", "pixel3", "--targets", "raspi4,eyeriss", "--constraint", "5", "--log-latency", "off"]);
    let svg = std::fs::read_to_string(out.join("pareto-raspi4.svg")).unwrap();
    for want in [
        "raspi4: proxy pixel3",
        "measurements",
        "true Pareto front",
        "predicted front, measured on target",
        "final set",
        "≤ 5 ms",
        "latency constraint",
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
}
