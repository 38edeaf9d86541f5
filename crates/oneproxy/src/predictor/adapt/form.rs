//! `Form`: the identity of an adaptation candidate's model, one handle over the two registries
//! ([`FORMS`], the corrections of one proxy, and [`HYPOTHESES`], the pool-wide models).
//!
//! The registries are the only lists of forms: names, help texts, which forms `auto` tries and
//! which members use the pool are all read from them, so a new form is one module and one
//! registry line. `Form` is what reports carry and JSON stores (its name), small and `Copy`.

use super::forms::{CorrectionForm, FORMS};
use super::hypotheses::{Hypothesis, HYPOTHESES};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One form: a correction of one proxy or a pool-wide hypothesis (see the module doc of
/// [`adapt`](super)). Made only from the registries: by name, or by listing them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Form(Entry);

/// A position in one of the registries.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Entry {
    Correction(usize),
    Hypothesis(usize),
}

impl Form {
    /// The correction forms, in the order they are tried (the values of `--form` besides `auto`).
    pub fn corrections() -> impl Iterator<Item = Form> {
        (0..FORMS.len()).map(|i| Form(Entry::Correction(i)))
    }

    /// The hypotheses, in the order they are fitted.
    pub fn hypotheses() -> impl Iterator<Item = Form> {
        (0..HYPOTHESES.len()).map(|i| Form(Entry::Hypothesis(i)))
    }

    /// Every form: the corrections, then the hypotheses.
    pub fn all() -> impl Iterator<Item = Form> {
        Self::corrections().chain(Self::hypotheses())
    }

    /// The form called `name` (its command-line name or its JSON name).
    pub fn named(name: &str) -> Option<Form> {
        Self::all().find(|f| f.name() == name || f.json_name() == name)
    }

    /// The paper's form (one multiplicative correction per feature): the first registered.
    pub fn paper() -> Form {
        Form(Entry::Correction(0))
    }

    /// Name on the command line, in Python and in text output.
    pub fn name(self) -> &'static str {
        match self.0 {
            Entry::Correction(i) => FORMS[i].name(),
            Entry::Hypothesis(i) => HYPOTHESES[i].name(),
        }
    }

    /// Name in JSON reports (the command-line name, but for one correction form whose JSON
    /// spelling predates it; kept so that reports stay comparable).
    pub fn json_name(self) -> &'static str {
        match self.0 {
            Entry::Correction(i) => FORMS[i].json_name(),
            Entry::Hypothesis(i) => HYPOTHESES[i].name(),
        }
    }

    /// One line of help, for `--help` and error messages.
    pub fn help(self) -> &'static str {
        match self.0 {
            Entry::Correction(i) => FORMS[i].help(),
            Entry::Hypothesis(i) => HYPOTHESES[i].help(),
        }
    }

    /// Whether the form is a pool-wide hypothesis rather than a correction of one proxy.
    pub fn is_hypothesis(self) -> bool {
        matches!(self.0, Entry::Hypothesis(_))
    }

    /// Whether the form combines the pool's devices (reported with proxy `pool`, else `none`
    /// for a hypothesis and the proxy's name for a correction).
    pub fn uses_pool(self) -> bool {
        self.hypothesis().is_some_and(|h| h.uses_pool())
    }

    /// The correction behind the handle (`None` for a hypothesis).
    pub(crate) fn correction(self) -> Option<&'static dyn CorrectionForm> {
        match self.0 {
            Entry::Correction(i) => Some(FORMS[i]),
            Entry::Hypothesis(_) => None,
        }
    }

    /// The hypothesis behind the handle (`None` for a correction).
    pub(crate) fn hypothesis(self) -> Option<&'static dyn Hypothesis> {
        match self.0 {
            Entry::Hypothesis(i) => Some(HYPOTHESES[i]),
            Entry::Correction(_) => None,
        }
    }
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Form {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.json_name())
    }
}

impl<'de> Deserialize<'de> for Form {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Form::named(&name).ok_or_else(|| {
            let known: Vec<&str> = Form::all().map(|f| f.json_name()).collect();
            serde::de::Error::custom(format!("unknown form '{name}', expected one of {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_across_both_registries() {
        let names: Vec<&str> = Form::all().flat_map(|f| [f.name(), f.json_name()]).collect();
        for f in Form::all() {
            let same = names.iter().filter(|n| **n == f.name()).count();
            assert_eq!(same, if f.name() == f.json_name() { 2 } else { 1 }, "{f}");
            assert_eq!(Form::named(f.name()), Some(f));
            assert_eq!(Form::named(f.json_name()), Some(f));
            assert!(!f.help().is_empty());
        }
        assert_eq!(Form::named("none"), None);
    }

    #[test]
    fn reports_keep_the_names_they_always_had() {
        let json: Vec<String> = Form::all().map(|f| serde_json::to_string(&f).unwrap()).collect();
        assert_eq!(
            json,
            [
                "per-feature",
                "grouped",
                "measured-counts",
                "additive-one-hot",
                "live-ops",
                "live-path",
                "stacking",
                "pruned-stacking",
                "pool-prior",
                "launch",
                "launch-depth",
                "layers"
            ]
            .map(|n| format!("\"{n}\""))
        );
        let cli: Vec<&str> = Form::corrections().map(Form::name).collect();
        assert_eq!(cli, ["per-feature", "grouped", "measured-counts", "additive-onehot"]);
        assert_eq!(Form::paper().name(), "per-feature");
        for f in Form::all() {
            let back: Form = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
            assert_eq!(back, f);
        }
        let err = serde_json::from_str::<Form>("\"cubic\"").unwrap_err().to_string();
        assert!(err.contains("unknown form 'cubic'") && err.contains("pool-prior"), "{err}");
    }

    #[test]
    fn only_the_combinations_of_devices_use_the_pool() {
        let pooled: Vec<&str> = Form::all().filter(|f| f.uses_pool()).map(Form::name).collect();
        assert_eq!(pooled, ["stacking", "pruned-stacking", "pool-prior", "layers"]);
        assert!(Form::corrections().all(|f| !f.is_hypothesis() && f.correction().is_some()));
        assert!(Form::hypotheses().all(|f| f.is_hypothesis() && f.hypothesis().is_some()));
    }
}
