//! The command builder against tiny shell-script builders in a temporary folder.

use super::*;
use crate::onnx::export;
use std::os::unix::fs::PermissionsExt;

const CELL: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

fn nb201_arch() -> Arch {
    SpaceId::Nb201.space().parse(CELL).unwrap()
}

/// An executable script `name` in `dir` with `body` after the shebang line.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A builder running `body` as `script ARCH OUT`, its private folders in `dir`.
fn builder(dir: &Path, body: &str) -> CommandBuilder {
    let s = script(dir, "build.sh", body);
    CommandBuilder::new(&format!("'{}' {{arch}} {{out}}", s.display()), SpaceId::Nb201).unwrap().in_dir(dir)
}

/// What is left in `dir` besides the scripts and fixtures.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".sh") && !n.starts_with("fixture"))
        .collect()
}

#[test]
fn placeholders_fill_each_word_once_and_the_architecture_stays_one_argument() {
    let b = CommandBuilder::new("python3 'my build.py' --arch={arch} {out} -b {batch}", SpaceId::Nb201).unwrap();
    let argv = b.argv("a b;$(rm -rf x) {out}", Path::new("/tmp/m.onnx"), 4);
    assert_eq!(argv, ["python3", "my build.py", "--arch=a b;$(rm -rf x) {out}", "/tmp/m.onnx", "-b", "4"]);
}

#[test]
fn templates_without_arch_or_out_or_with_open_quotes_are_refused() {
    for (bad, why) in [
        ("python build.py {out}", "{arch}"),
        ("python build.py {arch}", "{out}"),
        ("python 'build.py {arch} {out}", "unbalanced"),
        ("  ", "is empty"),
    ] {
        let e = CommandBuilder::new(bad, SpaceId::Nb201).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("builder_cmd"), "{bad}: {e}");
    }
}

#[test]
fn a_builder_that_copies_a_model_gives_its_bytes_and_input_shape_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("fixture.onnx");
    let bytes = export(SpaceId::Nb201, &nb201_arch(), 2, 0);
    std::fs::write(&fixture, &bytes).unwrap();
    // The architecture arrives as one argument: the script checks it.
    let mut b = builder(dir.path(), &format!("[ \"$1\" = '{CELL}' ] || exit 9\ncp '{}' \"$2\"", fixture.display()));
    let model = b.build(&nb201_arch(), 2).unwrap();
    assert_eq!(model, BuiltModel { bytes, input_shape: [2, 3, 32, 32] });
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
    assert!(!b.is_network());
    assert_eq!(b.settings()["builder"], b.template());
}

#[test]
fn a_failing_builder_names_the_architecture_the_command_and_the_end_of_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder(dir.path(), "echo 'unknown block kind' >&2\nexit 3");
    let e = b.build(&nb201_arch(), 1).unwrap_err().to_string();
    assert!(e.contains(CELL) && e.contains("build.sh") && e.contains("unknown block kind"), "{e}");
    assert!(e.contains("exit status: 3"), "{e}");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_builder_that_writes_nothing_or_no_onnx_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder(dir.path(), "echo done");
    let e = b.build(&nb201_arch(), 1).unwrap_err().to_string();
    assert!(e.contains("wrote no file") && e.contains(CELL) && e.contains("done"), "{e}");
    for (body, why) in [("printf 'hello' > \"$2\"", "not an ONNX model"), (": > \"$2\"", "empty")] {
        let mut b = builder(dir.path(), body);
        let e = b.build(&nb201_arch(), 1).unwrap_err().to_string();
        assert!(e.contains(why) && e.contains(CELL), "{body}: {e}");
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_builder_that_runs_too_long_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = builder(dir.path(), "sleep 30").timeout(Duration::from_millis(200)).unwrap();
    let e = b.build(&nb201_arch(), 1).unwrap_err().to_string();
    assert!(e.contains("did not finish within 0.2 s") && e.contains(CELL), "{e}");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn the_input_shape_takes_the_batch_where_it_is_dynamic_and_must_match_where_it_is_fixed() {
    let mut m = ModelProto::decode(&export(SpaceId::Nb201, &nb201_arch(), 1, 0)[..]).unwrap();
    assert_eq!(model_input_shape(&m.encode_to_vec(), 1).unwrap(), [1, 3, 32, 32]);
    let e = model_input_shape(&m.encode_to_vec(), 8).unwrap_err();
    assert!(e.contains("batch dimension is 1") && e.contains("{batch}"), "{e}");
    let graph = m.graph.as_mut().unwrap();
    let dims = &mut graph.input[0].r#type.as_mut().unwrap().tensor_type.as_mut().unwrap().shape.as_mut().unwrap().dim;
    dims[0].dim_value = None;
    assert_eq!(model_input_shape(&m.encode_to_vec(), 8).unwrap(), [8, 3, 32, 32]);
    m.graph.as_mut().unwrap().input.clear();
    assert!(model_input_shape(&m.encode_to_vec(), 1).unwrap_err().contains("no input"));
}

#[test]
fn a_space_without_network_needs_a_command_and_a_command_does_not_prune() {
    let declared =
        crate::space::declared::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/fbnet.toml"))
            .unwrap();
    let e = model_builder(declared, None, 0, Execution::AsWritten).err().unwrap().to_string();
    assert!(e.contains("no network") && e.contains("builder_cmd"), "{e}");
    let c = CommandBuilder::new("b {arch} {out}", declared).unwrap();
    assert!(model_builder(declared, Some(c), 0, Execution::AsWritten).is_ok());
    let c = CommandBuilder::new("b {arch} {out}", SpaceId::Nb201).unwrap();
    let e = model_builder(SpaceId::Nb201, Some(c), 0, Execution::PruneDead).err().unwrap().to_string();
    assert!(e.contains("pruning"), "{e}");
    let own = model_builder(SpaceId::Nb201, None, 0, Execution::AsWritten).unwrap();
    assert!(own.is_network());
    assert_eq!(own.settings()["builder"], "oneproxy");
}
