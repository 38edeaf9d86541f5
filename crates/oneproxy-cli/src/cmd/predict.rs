//! `oneproxy predict`: latencies from a saved predictor, as a latency CSV.

use crate::args::PredictArgs;
use anyhow::Context;
use oneproxy::data::bundle;
use oneproxy::predictor::{AdditivePredictor, ProxyLatency};
use oneproxy::Arch;

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let outputs = oneproxy::output::Outputs::new(args.force)
        .input(&args.predictor)
        .inputs(args.archs.iter())
        .inputs(&args.latency);
    if let Some(out) = &args.out {
        outputs.check(out).context("--out")?;
    }
    // A declared space is known by name only once its file is read.
    let declared = args.space_file.as_deref().map(oneproxy::space::declared::load).transpose()?;
    // The library's error names the file; the context names the flag.
    let p = AdditivePredictor::load(&args.predictor).context("reading --predictor")?;
    if let Some(space) = declared.filter(|&s| s != p.space()) {
        anyhow::bail!(
            "--space-file declares space {space}, but the predictor {} is for {}",
            args.predictor.display(),
            p.space()
        );
    }
    let device = if p.device().is_empty() { "predicted".to_string() } else { p.device().to_string() };
    // The name becomes the CSV header: refuse one that would break it, before any work.
    oneproxy::data::validate_device_name(&device).with_context(|| {
        format!("the predictor's 'device' field cannot name a CSV column ({})", args.predictor.display())
    })?;
    let space = p.space().space();
    let archs: Vec<Arch> = if let Some(a) = &args.arch {
        vec![space.parse(a)?]
    } else if let Some(f) = &args.archs {
        super::read_arch_list(f, space)?
    } else {
        match space.enumerate() {
            Some(all) => all,
            None if bundle(p.space())?.archs.is_empty() => {
                anyhow::bail!("--all: space {} has no bundled architectures; pass --archs FILE", p.space())
            }
            None => bundle(p.space())?.archs.clone(),
        }
    };
    let values = if p.needs_table() {
        // Proxy terms look the proxy's measurements up: bundled data plus --latency files.
        let table = oneproxy::LatencyTable::bundled_with(p.space(), &args.latency)?;
        super::print_warnings(table.warnings());
        p.check_inputs(&table).with_context(|| format!("predictor {}", args.predictor.display()))?;
        // Positive over the space with these measurements too (load checked the fallbacks).
        p.check_positive(ProxyLatency::Measured(&table))
            .with_context(|| format!("predictor {}", args.predictor.display()))?;
        p.predict(&archs, ProxyLatency::Measured(&table))
            .context("the predictor builds on a proxy's measured latencies")?
    } else {
        // No proxy terms: the table would change nothing.
        p.predict(&archs, ProxyLatency::Modelled)?
    };
    let out = super::latency_csv(
        &device,
        archs.iter().zip(values).map(|(a, v)| (space.format(a), super::fmt_latency(v, 6))),
    )?;
    super::emit(&out, args.out.as_deref(), &outputs).context("--out")
}
