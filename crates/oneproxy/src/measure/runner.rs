//! External runners: any program that runs an ONNX model and prints its latency.
//!
//! The command template is run by `sh -c` once per run, with `{model}` replaced by the path of the
//! exported model (shell-quoted). Its standard output gives the latency in milliseconds: the
//! first capture group of `regex` (or the whole match if the regex has no group), or by default
//! the last number printed. A non-zero exit status or no latency in the output is an error that
//! quotes the command's output.

use super::Timer;
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::process::Command;

/// Runs an external command per timed run.
#[derive(Debug)]
pub struct CommandTimer {
    template: String,
    regex: Option<regex::Regex>,
    dir: PathBuf,
    model: Option<PathBuf>,
    count: usize,
}

impl CommandTimer {
    /// A runner from a command template (it must contain `{model}`) and an optional regex that
    /// extracts the latency in ms from the command's output.
    pub fn new(template: &str, regex: Option<&str>) -> Result<Self> {
        if !template.contains("{model}") {
            return Err(Error::InvalidParameter(format!(
                "--runner-cmd must contain {{model}} (the exported ONNX path), got '{template}'"
            )));
        }
        let regex = regex
            .map(|r| regex::Regex::new(r).map_err(|e| Error::InvalidParameter(format!("--runner-regex '{r}': {e}"))))
            .transpose()?;
        let dir = std::env::temp_dir().join(format!("oneproxy-runner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(CommandTimer { template: template.into(), regex, dir, model: None, count: 0 })
    }

    /// The command line for the loaded model.
    pub fn command_line(&self) -> Option<String> {
        let model = self.model.as_ref()?;
        let quoted = format!("'{}'", model.display().to_string().replace('\'', "'\\''"));
        Some(self.template.replace("{model}", &quoted))
    }

    /// The latency in an output, by the regex or as the last number.
    pub fn extract(&self, output: &str) -> Option<f64> {
        match &self.regex {
            Some(re) => {
                let caps = re.captures(output)?;
                caps.get(1).or_else(|| caps.get(0))?.as_str().trim().parse().ok()
            }
            None => output
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+'))
                .filter_map(|w| w.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .last(),
        }
    }
}

impl Drop for CommandTimer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Timer for CommandTimer {
    fn load(&mut self, model: &[u8], _input_shape: [usize; 4]) -> Result<()> {
        self.count += 1;
        let path = self.dir.join(format!("model{}.onnx", self.count));
        if let Some(old) = self.model.take() {
            let _ = std::fs::remove_file(old);
        }
        crate::util::write_atomic(&path, model)?;
        self.model = Some(path);
        Ok(())
    }

    fn run(&mut self) -> Result<f64> {
        let cmd = self.command_line().ok_or_else(|| Error::Engine("runner: no model loaded".into()))?;
        let out = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .map_err(|e| Error::Engine(format!("runner: cannot start `sh -c {cmd}`: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Engine(format!(
                "runner `{cmd}` failed ({}): {}",
                out.status,
                tail(&format!("{stdout}{stderr}"))
            )));
        }
        self.extract(&stdout).ok_or_else(|| {
            Error::Engine(format!(
                "runner `{cmd}` printed no latency{}: {}",
                self.regex.as_ref().map(|r| format!(" matching --runner-regex '{r}'")).unwrap_or_default(),
                tail(&stdout)
            ))
        })
    }

    fn engine(&self) -> String {
        format!("external: {}", self.template)
    }
}

fn tail(s: &str) -> String {
    let s = s.trim();
    let start = s.char_indices().rev().nth(300).map_or(0, |(i, _)| i);
    s[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_latencies() {
        let t = CommandTimer::new("echo {model}", None).unwrap();
        assert_eq!(t.extract("loaded in 3 s\nlatency: 12.5 ms\n"), Some(12.5));
        let t = CommandTimer::new("x {model}", Some(r"avg=([0-9.]+)")).unwrap();
        assert_eq!(t.extract("min=1.0 avg=2.25 max=9"), Some(2.25));
        assert_eq!(t.extract("nothing"), None);
        assert!(CommandTimer::new("no placeholder", None).is_err());
        assert!(CommandTimer::new("x {model}", Some("(")).is_err());
    }

    #[test]
    fn runs_a_command_per_sample() {
        let mut t = CommandTimer::new("test -s {model} && echo 'took 4.5 ms'", None).unwrap();
        t.load(b"onnx bytes", [1, 3, 32, 32]).unwrap();
        assert_eq!(t.run().unwrap(), 4.5);
        let mut bad = CommandTimer::new("echo oops; false {model}", None).unwrap();
        bad.load(b"x", [1, 3, 32, 32]).unwrap();
        let e = bad.run().unwrap_err().to_string();
        assert!(e.contains("failed") && e.contains("oops"), "{e}");
    }
}
