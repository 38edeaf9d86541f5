//! `oneproxy export`: an architecture as an ONNX model (oneproxy's export of the space's network,
//! or the user's `--builder-cmd`); optionally tract's output on a seeded input, for comparing
//! runtimes (`scripts/onnx_interop.py`).

use crate::args::ExportArgs;
#[cfg(feature = "onnx")]
use anyhow::Context;
use oneproxy::SpaceId;

#[cfg(not(feature = "onnx"))]
pub fn run(_: ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("this oneproxy was built without the `onnx` feature: rebuild with `--features onnx`")
}

#[cfg(feature = "onnx")]
pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let space: SpaceId = a.space.space()?;
    let exec = super::execution(a.prune_dead, space)?;
    let arch = space.space().parse(&a.arch)?;
    anyhow::ensure!(a.batch >= 1, "--batch must be at least 1");
    let outputs = oneproxy::output::Outputs::new(a.force);
    outputs.check(&a.out).context("--out")?;
    if let Some(path) = &a.dump_io {
        // Refused before anything is written: without tract there is no output to dump.
        dump_io_available()?;
        outputs.check(path).context("--dump-io")?;
        anyhow::ensure!(
            oneproxy::output::final_target(path)? != oneproxy::output::final_target(&a.out)?,
            "--dump-io and --out name the same file"
        );
    }
    // A builder's file is made next to --out, and only a finished, checked model replaces it.
    let folder = oneproxy::output::final_target(&a.out)?.parent().map(std::path::Path::to_path_buf);
    let mut builder = super::model_builder(&a.builder, space, a.seed, exec, folder.as_deref())?;
    let model = builder.build(&arch, a.batch)?;
    outputs.write(&a.out, &model.bytes).context("--out")?;
    if builder.is_network() {
        let cost = space.network_with(&arch, exec)?.cost();
        note!(
            "wrote {} ({} bytes; {:.2} MFLOPs, {:.3} M parameters per image{})",
            a.out.display(),
            model.bytes.len(),
            cost.flops as f64 / 1e6,
            cost.params as f64 / 1e6,
            if a.prune_dead { ", dead operations pruned" } else { "" }
        );
    } else {
        note!(
            "wrote {} ({} bytes, input {:?}, built by --builder-cmd)",
            a.out.display(),
            model.bytes.len(),
            model.input_shape
        );
    }
    if let Some(path) = &a.dump_io {
        dump_io(space, &arch, &model, a.seed, path, &outputs)?;
    }
    Ok(())
}

/// Whether `--dump-io` can run (it needs tract).
#[cfg(all(feature = "onnx", not(feature = "tract")))]
fn dump_io_available() -> anyhow::Result<()> {
    anyhow::bail!("--dump-io runs the model with tract: rebuild oneproxy with `--features tract`")
}

#[cfg(feature = "tract")]
fn dump_io_available() -> anyhow::Result<()> {
    Ok(())
}

#[cfg(all(feature = "onnx", not(feature = "tract")))]
fn dump_io(
    _: SpaceId,
    _: &oneproxy::Arch,
    _: &oneproxy::measure::builder::BuiltModel,
    _: u64,
    _: &std::path::Path,
    _: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    dump_io_available()
}

#[cfg(feature = "tract")]
fn dump_io(
    space: SpaceId,
    arch: &oneproxy::Arch,
    built: &oneproxy::measure::builder::BuiltModel,
    seed: u64,
    path: &std::path::Path,
    outputs: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    let shape = built.input_shape;
    let input = oneproxy::onnx::seeded_input(shape, seed);
    let mut model = oneproxy::measure::tract::TractModel::load(&built.bytes, shape, &input, 1)?;
    let (output_shape, output) = model.run()?;
    let doc = serde_json::json!({
        "space": space.name(),
        "arch": space.space().format(arch),
        "seed": seed,
        "engine": format!("tract-onnx {}", oneproxy::measure::tract::TRACT_VERSION),
        "input_shape": shape,
        "input": input,
        "output_shape": output_shape,
        "output": output,
    });
    outputs.write(path, serde_json::to_string(&doc)?.as_bytes()).context("--dump-io")?;
    note!("wrote {}", path.display());
    Ok(())
}
