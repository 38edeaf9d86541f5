//! The fleet file: TOML whose keys are `nas` flags. Top-level keys are the shared settings
//! ([`FleetSettings`]), each `[[device]]` table one target in arrival order
//! ([`FleetDeviceArgs`]). Every key becomes the flag of the same name (`max_time = 2` is
//! `--max-time 2`, a list repeats the flag, `true` sets a switch) and clap parses the result
//! with the same definitions as the command line: defaults, ranges and messages cannot drift
//! apart. Every refusal names the file and the line of the key (or of the device) at fault.
//!
//! ```toml
//! accuracy = "cifar100"
//! concurrency = 1
//!
//! [[device]]
//! name = "titanx_1"
//! oracle = "table"
//!
//! [[device]]
//! name = "board"
//! oracle = "runner"
//! runner_cmd = "ssh board ./time {model}"
//! runs = 3
//! ```

use crate::args::{DeviceOracleArg, FleetDeviceArgs, FleetSettings};
use crate::cmd::oracle::{OracleChoice, Source};
use anyhow::{anyhow, bail};
use clap::{CommandFactory, FromArgMatches};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// One table of the file: its keys with their values and where they are.
type Keys = BTreeMap<String, Spanned<toml::Value>>;

/// The file's top level as read, devices apart.
#[derive(serde::Deserialize)]
struct Devices {
    #[serde(default)]
    device: Vec<Keys>,
}

/// One device of a fleet file.
#[derive(Debug)]
pub struct Device {
    /// Its name.
    pub name: String,
    /// How it is measured.
    pub oracle: OracleChoice,
    /// Latency files its entry adds to the loaded data.
    pub latency: Vec<PathBuf>,
}

/// A fleet file, read and checked.
#[derive(Debug)]
pub struct FleetFile {
    /// The shared settings.
    pub settings: FleetSettings,
    /// The devices, in arrival order.
    pub devices: Vec<Device>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl FleetFile {
    /// Read and check the fleet file at `path`. Relative paths in it (values of file and folder
    /// keys) are relative to the file's folder.
    pub fn read(path: &Path) -> anyhow::Result<FleetFile> {
        let bytes = oneproxy::data::input::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("{}: not UTF-8 text", path.display()))?;
        let here = |offset: usize| format!("{}:{}", path.display(), line_of(&text, offset));
        let toml_error = |e: toml::de::Error| {
            let line = e.span().map_or(String::new(), |s| format!(":{}", line_of(&text, s.start)));
            anyhow!("{}{line}: {}", path.display(), e.message())
        };
        let mut top: Keys = toml::from_str(&text).map_err(toml_error)?;
        let devices: Devices = toml::from_str(&text).map_err(toml_error)?;
        let device_key = top.remove("device");
        if let Some(d) = &device_key {
            if !matches!(d.get_ref(), toml::Value::Array(_)) {
                bail!("{}: `device` is a list of tables: write each as [[device]]", here(d.span().start));
            }
        }
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let settings: FleetSettings = parse_keys(&top, base, &here, 0)?;
        if devices.device.is_empty() {
            bail!("{}: no [[device]]: name each target of the fleet in a [[device]] table", path.display());
        }
        let mut out: Vec<Device> = Vec::new();
        let mut first_line: BTreeMap<String, String> = BTreeMap::new();
        for keys in &devices.device {
            let start = keys.values().map(|v| v.span().start).min().unwrap_or(0);
            let args: FleetDeviceArgs = parse_keys(keys, base, &here, start)?;
            let at = here(keys.get("name").map_or(start, |v| v.span().start));
            if let Some(first) = first_line.insert(args.name.clone(), at.clone()) {
                bail!("{at}: device '{}' is listed twice (first at {first}): give each device once", args.name);
            }
            let latency = args.latency.clone();
            let oracle = oracle_choice(args.oracle, &args)
                .map_err(|e| anyhow!("{}: device '{}': {e}", here(start), args.name))?;
            out.push(Device { name: args.name, oracle, latency });
        }
        Ok(FleetFile { settings, devices: out })
    }
}

/// The oracle of a device entry, refusing runner keys that its `oracle` would ignore.
fn oracle_choice(kind: DeviceOracleArg, a: &FleetDeviceArgs) -> anyhow::Result<OracleChoice> {
    let (cmd, persistent) = (a.runner.runner_cmd.is_some(), a.runner.runner_persistent.is_some());
    let source = match kind {
        DeviceOracleArg::Runner if !cmd => bail!("oracle \"runner\" needs runner_cmd (the command that times a model)"),
        DeviceOracleArg::Persistent if !persistent => {
            bail!("oracle \"persistent\" needs runner_persistent (the command of the runner process)")
        }
        DeviceOracleArg::Runner | DeviceOracleArg::Persistent => Source::Timed,
        _ if cmd || persistent => {
            bail!("runner_cmd and runner_persistent apply to oracle \"runner\" and \"persistent\" only")
        }
        DeviceOracleArg::Tract => Source::Timed,
        DeviceOracleArg::Table => Source::Table,
        DeviceOracleArg::Manual => Source::Manual { export_dir: a.export_dir.clone(), force: a.force },
    };
    if a.export_dir.is_some() && kind != DeviceOracleArg::Manual {
        bail!("export_dir applies to oracle \"manual\" only");
    }
    let builds_models = matches!(source, Source::Timed) || a.export_dir.is_some();
    if a.builder.builder_cmd.is_some() && !builds_models {
        bail!("builder_cmd builds the models to time or to export; this device builds none");
    }
    Ok(OracleChoice {
        source,
        runner: a.runner.clone(),
        timing: a.timing.clone(),
        prune_dead: a.prune_dead,
        builder: a.builder.clone(),
    })
}

/// Parse one table's keys as the flags of `T`; `start` is where the table's first key is (for
/// a missing key).
fn parse_keys<T: CommandFactory + FromArgMatches>(
    keys: &Keys,
    base: &Path,
    here: &dyn Fn(usize) -> String,
    start: usize,
) -> anyhow::Result<T> {
    let command = T::command();
    let mut argv: Vec<String> = Vec::new();
    for (key, value) in keys {
        let at = here(value.span().start);
        let flag = key.replace('_', "-");
        let arg = command.get_arguments().find(|a| a.get_long() == Some(flag.as_str()));
        let Some(arg) = arg.filter(|_| !key.contains('-')) else {
            let mut known: Vec<String> =
                command.get_arguments().filter_map(|a| a.get_long()).map(|l| l.replace('-', "_")).collect();
            known.sort();
            bail!("{at}: unknown key '{key}' (the keys here: {})", known.join(", "));
        };
        let is_path = arg.get_value_names().is_some_and(|n| n.iter().any(|n| n == "FILE" || n == "DIR"));
        let switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let items: Vec<&toml::Value> = match value.get_ref() {
            toml::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for item in items {
            let text = match item {
                toml::Value::String(s) if is_path => base.join(s).display().to_string(),
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) if switch => {
                    if *b {
                        argv.push(format!("--{flag}"));
                    }
                    continue;
                }
                toml::Value::Boolean(b) => b.to_string(),
                _ => bail!("{at}: {key}: a {} is not a value of this key", item.type_str()),
            };
            if switch {
                bail!("{at}: {key} is true or false, not '{text}'");
            }
            argv.push(format!("--{flag}"));
            argv.push(text);
        }
    }
    let matches = command.try_get_matches_from(&argv).map_err(|e| clap_error(&e, keys, here, start))?;
    T::from_arg_matches(&matches).map_err(|e| clap_error(&e, keys, here, start))
}

/// A clap refusal in the file's words: the key's line, the key for the flag.
fn clap_error(e: &clap::Error, keys: &Keys, here: &dyn Fn(usize) -> String, start: usize) -> anyhow::Error {
    use clap::error::{ContextKind, ContextValue};
    // The flag as clap shows it (`--max-time <MAX_TIME>`), and its key.
    let shown = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(s)) => s.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let key = shown.trim_start_matches('-').split([' ', '=']).next().unwrap_or("").replace('-', "_");
    let offset = keys.get(&key).map_or(start, |v| v.span().start);
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("").trim_start_matches("error: ");
    let mut message = first.replace(&format!("'{shown}'"), &key);
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        message.push_str(&format!(" (one of: {})", valid.join(", ")));
    }
    // Other flags the message names (a conflict, a requirement), as keys.
    for long in keys.keys() {
        message = message.replace(&format!("'--{}'", long.replace('_', "-")), long);
    }
    anyhow!("{}: {}", here(offset), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<FleetFile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.toml");
        std::fs::write(&path, text).unwrap();
        FleetFile::read(&path)
    }

    #[test]
    fn keys_are_the_nas_flags_and_devices_keep_their_order() {
        let f = read(
            "seed = 7\nconstraint = [5.0, 10]\nalways_adapt = true\nmin_checks = 9\njoin = false\n\n[[device]]\nname = \"b\"\noracle = \"table\"\n\n[[device]]\nname = \"a\"\noracle = \"runner\"\nrunner_cmd = \"echo 1\"\nruns = 2\n",
        )
        .unwrap();
        assert_eq!(f.settings.seed, 7);
        assert_eq!(f.settings.flow.constraints, [5.0, 10.0]);
        assert!(f.settings.flow.always_adapt && !f.settings.join);
        assert_eq!(f.settings.flow.min_checks, 9);
        assert_eq!(f.devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(f.devices[1].oracle.timing.runs, 2);
    }

    #[test]
    fn the_key_definitions_are_consistent() {
        FleetSettings::command().debug_assert();
        FleetDeviceArgs::command().debug_assert();
    }
}
