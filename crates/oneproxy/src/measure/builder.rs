//! Where an architecture's ONNX model comes from: the extension point between a space and the
//! engines that time its models.
//!
//! A [`ModelBuilder`] turns an architecture into the bytes of an ONNX file and the shape of its
//! input. Implementations:
//! * [`NetworkExport`]: oneproxy's own export of the space's network ([`crate::onnx::export_with`]),
//!   for the built-in spaces;
//! * [`CommandBuilder`]: the user's program (`python build.py {arch} {out}`), for a declared
//!   space, which has no network, or for a user's own implementation of a built-in space.
//!
//! [`model_builder`] is the one place that picks between them, so `export`, `measure` and the
//! NAS flow's timer oracles build models the same way, and refuse the same way when a space has
//! no network and no command was given.
//!
//! **The command.** The template is split into words as a POSIX shell would (quotes and
//! backslashes), and the placeholders are filled in inside each word: `{arch}` is the
//! canonical architecture string, `{out}` the file to write, `{batch}` the batch size. The
//! program is started directly, never through a shell, so an architecture string is always one
//! argument whatever characters it holds. `{out}` is a file in a private folder of its own
//! (created in the builder's folder, removed afterwards and on SIGINT/SIGTERM): a half-written
//! model never reaches the place of a finished one.
//!
//! **Checks.** A command that fails (non-zero exit, killed after its time limit), that writes
//! nothing, or that writes something that is not an ONNX model with one image input
//! `[batch, C, H, W]` is an error naming the architecture and the command, quoting the end of the
//! command's output. The input shape is read from the model: a dynamic first dimension takes the
//! batch; a fixed one must equal it (pass `{batch}` to the command, or export a dynamic batch).

use super::runner::{quote, run_bounded, Bounded};
use crate::data::Settings;
use crate::error::{Error, Param, Result};
use crate::network::Execution;
use crate::onnx::proto::{ModelProto, ValueInfoProto};
use crate::output::cleanup;
use crate::space::{Arch, SpaceId};
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// An architecture's model: the bytes of an ONNX file and the shape of its input.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltModel {
    /// The ONNX file's bytes.
    pub bytes: Vec<u8>,
    /// Its input's shape, `[batch, C, H, W]`.
    pub input_shape: [usize; 4],
}

/// Builds the ONNX model of an architecture (see the module documentation).
pub trait ModelBuilder {
    /// The model of `arch` taking `batch` images per inference.
    fn build(&mut self, arch: &Arch, batch: usize) -> Result<BuiltModel>;

    /// What about the models changes the numbers measured on them, recorded with a measurement
    /// log (which refuses to resume with other models): `builder`, and the builder's own
    /// settings.
    fn settings(&self) -> Settings;

    /// Whether the models are the space's own networks, so that FLOPs and parameter counts of
    /// [`SpaceId::network_with`] describe them; a user's program builds what it likes.
    fn is_network(&self) -> bool;
}

/// Default time limit of one [`CommandBuilder`] run.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// The name of the settings entry that records how models were built.
const SETTING: &str = "builder";

/// The builder for `space`: `command` when one is given, else oneproxy's export of the space's
/// network with weights seeded by `seed` and operations computed as `exec` says. Refused when
/// the space has no network and no command was given, and when a command is asked to prune
/// (pruning rewrites oneproxy's own network; a user's program builds its model as it writes it).
pub fn model_builder(
    space: SpaceId,
    command: Option<CommandBuilder>,
    seed: u64,
    exec: Execution,
) -> Result<Box<dyn ModelBuilder>> {
    match command {
        Some(_) if exec == Execution::PruneDead => Err(Error::InvalidParameter(format!(
            "pruning dead operations rewrites oneproxy's own export of the {space} network; a {} program builds the \
             model as it writes it (prune in the program instead)",
            Param("builder_cmd")
        ))),
        Some(c) => Ok(Box::new(c)),
        None => Ok(Box::new(NetworkExport::new(space, seed, exec)?)),
    }
}

/// oneproxy's export of a built-in space's network, node for node ([`crate::onnx::export_with`]).
#[derive(Debug, Clone)]
pub struct NetworkExport {
    space: SpaceId,
    seed: u64,
    exec: Execution,
}

impl NetworkExport {
    /// The export of `space`'s networks, weights seeded by `seed`, computed as `exec` says; an
    /// error for a space without networks (it needs a command) or that cannot compute `exec`.
    pub fn new(space: SpaceId, seed: u64, exec: Execution) -> Result<Self> {
        if !space.family().has_network() {
            return Err(Error::InvalidParameter(format!(
                "the declared space {space} has no network for oneproxy to export (it is a list of choices): give a \
                 command that writes the ONNX model of an architecture, {} 'python build.py {{arch}} {{out}}'",
                Param("builder_cmd")
            )));
        }
        space.check_execution(exec)?;
        Ok(NetworkExport { space, seed, exec })
    }
}

impl ModelBuilder for NetworkExport {
    fn build(&mut self, arch: &Arch, batch: usize) -> Result<BuiltModel> {
        let bytes = crate::onnx::export_with(self.space, arch, batch, self.seed, self.exec)?;
        Ok(BuiltModel { bytes, input_shape: crate::onnx::input_shape(self.space, arch, batch) })
    }

    fn settings(&self) -> Settings {
        Settings::from([(SETTING.to_string(), "oneproxy".to_string())])
    }

    fn is_network(&self) -> bool {
        true
    }
}

/// The user's program that writes an architecture's ONNX model (see the module documentation).
#[derive(Debug)]
pub struct CommandBuilder {
    template: String,
    words: Vec<String>,
    space: SpaceId,
    dir: PathBuf,
    timeout: Duration,
}

impl CommandBuilder {
    /// A builder of `space`'s models from a command template holding `{arch}` and `{out}` (and
    /// optionally `{batch}`); its private folders are made in the system's temporary folder
    /// unless [`in_dir`](Self::in_dir) says where.
    pub fn new(template: &str, space: SpaceId) -> Result<Self> {
        let bad = |problem: String| Error::bad_parameter("builder_cmd", problem);
        let words = shlex::split(template)
            .ok_or_else(|| bad(format!("unbalanced quotes or a trailing backslash in '{template}'")))?;
        if words.is_empty() {
            return Err(bad(
                "is empty: give the command that writes a model, e.g. 'python build.py {arch} {out}'".into()
            ));
        }
        for needed in ["{arch}", "{out}"] {
            if !words.iter().any(|w| w.contains(needed)) {
                return Err(bad(format!(
                    "must contain {needed} (the architecture string and the ONNX file to write), got '{template}'"
                )));
            }
        }
        Ok(CommandBuilder {
            template: template.to_string(),
            words,
            space,
            dir: std::env::temp_dir(),
            timeout: DEFAULT_BUILD_TIMEOUT,
        })
    }

    /// Make the private folder of each model in `dir` (e.g. next to the file exported), which
    /// must exist.
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = dir.to_path_buf();
        self
    }

    /// Set the time limit of one run of the command (more than zero).
    pub fn timeout(mut self, limit: Duration) -> Result<Self> {
        if limit.is_zero() {
            return Err(Error::bad_parameter("builder_timeout", "must be more than 0 s"));
        }
        self.timeout = limit;
        Ok(self)
    }

    /// The template as given.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The argument vector for `arch`, writing to `out`: placeholders filled in word by word,
    /// in one pass (a value is never searched for placeholders again).
    pub fn argv(&self, arch: &str, out: &Path, batch: usize) -> Vec<String> {
        let out = out.display().to_string();
        let batch = batch.to_string();
        let values = [("{arch}", arch), ("{out}", out.as_str()), ("{batch}", batch.as_str())];
        self.words
            .iter()
            .map(|word| {
                let mut filled = String::new();
                let mut rest = word.as_str();
                while !rest.is_empty() {
                    match values.iter().find(|(p, _)| rest.starts_with(p)) {
                        Some((p, v)) => {
                            filled.push_str(v);
                            rest = &rest[p.len()..];
                        }
                        None => {
                            let c = rest.chars().next().expect("not empty");
                            filled.push(c);
                            rest = &rest[c.len_utf8()..];
                        }
                    }
                }
                filled
            })
            .collect()
    }

    /// The command line for a message: the words shell-quoted where they need it.
    fn shown(argv: &[String]) -> String {
        shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
    }
}

impl ModelBuilder for CommandBuilder {
    fn build(&mut self, arch: &Arch, batch: usize) -> Result<BuiltModel> {
        let text = self.space.space().format(arch);
        let folder = cleanup::create_dir(&self.dir.join(crate::output::temp::temp_name("builder")))?;
        let out = folder.path().join("model.onnx");
        let argv = self.argv(&text, &out, batch);
        let shown = Self::shown(&argv);
        let failed = |why: String| Error::Engine(format!("the builder failed on {text}: {why} (command: {shown})"));
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        let done = run_bounded(&mut command, self.timeout).map_err(|e| match e {
            Bounded::Start(e) => failed(format!("cannot start `{}`: {e}", argv[0])),
            Bounded::Wait(e) => failed(e.to_string()),
        })?;
        let Some((status, stdout, stderr)) = done else {
            return Err(Error::Timeout {
                command: shown.clone(),
                seconds: self.timeout.as_secs_f64(),
                hint: format!(" while building {text}; if it needs longer, raise {}", Param("builder_timeout")),
            });
        };
        if !status.success() {
            return Err(failed(format!(
                "it exited with {status}; its output ends {}",
                quote(&format!("{stdout}{stderr}"))
            )));
        }
        let bytes = match std::fs::read(&out) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(failed(format!(
                    "it succeeded but wrote no file at {{out}}; its output ends {}",
                    quote(&format!("{stdout}{stderr}"))
                )))
            }
            Err(e) => return Err(failed(format!("reading what it wrote: {e}"))),
        };
        let input_shape = model_input_shape(&bytes, batch).map_err(failed)?;
        Ok(BuiltModel { bytes, input_shape })
    }

    fn settings(&self) -> Settings {
        Settings::from([(SETTING.to_string(), self.template.clone())])
    }

    fn is_network(&self) -> bool {
        false
    }
}

/// The input shape `[batch, C, H, W]` of the ONNX model in `bytes`, or why it has none: the
/// graph's first input that is not a weight (an initializer), with a dynamic first dimension
/// taking `batch`.
pub fn model_input_shape(bytes: &[u8], batch: usize) -> std::result::Result<[usize; 4], String> {
    let not_onnx = |why: &str| format!("what it wrote ({} bytes) is not an ONNX model: {why}", bytes.len());
    if bytes.is_empty() {
        return Err(not_onnx("the file is empty"));
    }
    let model = ModelProto::decode(bytes).map_err(|e| not_onnx(&e.to_string()))?;
    let graph = model.graph.ok_or_else(|| not_onnx("it has no graph"))?;
    let weights: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let input: &ValueInfoProto = graph
        .input
        .iter()
        .find(|i| !weights.contains(&i.name.as_str()))
        .ok_or_else(|| not_onnx("its graph has no input"))?;
    let dims: Vec<Option<i64>> = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.iter().map(|d| d.dim_value).collect())
        .ok_or_else(|| format!("the model's input '{}' has no tensor shape", input.name))?;
    if dims.len() != 4 {
        return Err(format!(
            "the model's input '{}' has {} dimensions; an image batch [batch, C, H, W] has 4",
            input.name,
            dims.len()
        ));
    }
    let mut shape = [batch; 4];
    for (i, d) in dims.iter().enumerate() {
        match (i, d) {
            (0, None) => {}
            (0, Some(b)) if *b == batch as i64 => {}
            (0, Some(b)) => {
                return Err(format!(
                    "the model's batch dimension is {b}, but models of batch {batch} were asked for: pass {{batch}} \
                     to the command or export a dynamic batch dimension"
                ))
            }
            (_, Some(v)) if *v > 0 => shape[i] = *v as usize,
            _ => {
                return Err(format!(
                "dimension {i} of the model's input '{}' is not a fixed positive size (only the batch may be dynamic)",
                input.name
            ))
            }
        }
    }
    Ok(shape)
}

#[cfg(test)]
mod tests;
