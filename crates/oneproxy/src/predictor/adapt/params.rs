//! What an adaptation may choose from, and the checks on it and on the samples.

use super::Form;
use crate::error::{Error, Result};
use crate::predictor::solver::Penalty;
use crate::space::Arch;
use serde::{Deserialize, Serialize};

/// Which forms to consider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormChoice {
    /// Always this form.
    Fixed(Form),
    /// Every correction form that suits the space (per-kind forms only where kinds share
    /// cost); the one with the lowest cross-validated error wins.
    Auto,
}

impl std::str::FromStr for FormChoice {
    type Err = Error;

    /// `auto` or the name of a correction form (the hypotheses join `auto` when averaging; they
    /// cannot be chosen alone).
    fn from_str(name: &str) -> Result<Self> {
        if name == "auto" {
            return Ok(FormChoice::Auto);
        }
        Form::corrections().find(|f| f.name() == name).map(FormChoice::Fixed).ok_or_else(|| {
            let known: Vec<&str> = Form::corrections().map(Form::name).collect();
            Error::bad_parameter("form", format!("unknown form '{name}'; known forms: auto, {}", known.join(", ")))
        })
    }
}

/// How `lambda` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LambdaChoice {
    /// A given value (on the scaled problem: y divided by its mean).
    Fixed(f64),
    /// Chosen by validation over a log-spaced grid of this many values, plus infinity (b = 0).
    Auto {
        /// Number of finite grid points.
        grid: usize,
    },
}

/// How candidate settings are scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Validation {
    /// Leave-one-out cross-validation.
    LeaveOneOut,
    /// K-fold cross-validation (folds by position, k >= 2).
    KFold(usize),
    /// Fit on the samples not listed, score on those listed (the paper's validation split),
    /// then refit on all.
    Holdout(Vec<usize>),
}

/// How the cross-validated candidates become one predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Combination {
    /// The correction forms only; the best candidate, or with several proxies the mean of the
    /// `ensemble` best (the rule before the hypotheses existed).
    Best,
    /// The correction forms *and* the hypotheses ([`Form::hypotheses`]: live ops, costliest
    /// path, stacking, pruned stacking, pool prior), averaged with weights proportional to
    /// `MSE_LOO^(-n/8)`: a tempered leave-one-out likelihood of each under Gaussian errors
    /// (see `combine::TEMPER`), so a hypothesis the samples cannot tell from the best keeps a
    /// share, one they rule out none.
    #[default]
    Averaged,
}

impl Combination {
    /// Every rule.
    pub const ALL: [Combination; 2] = [Combination::Averaged, Combination::Best];

    /// The name in JSON, on the command line and in Python (`averaged`, `best`).
    pub fn name(self) -> &'static str {
        match self {
            Combination::Best => "best",
            Combination::Averaged => "averaged",
        }
    }
}

/// Parameters of an adaptation (checked by [`AdaptParams::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptParams {
    /// Penalty on `b`.
    pub penalty: Penalty,
    /// Forms to consider.
    pub form: FormChoice,
    /// Lambda.
    pub lambda: LambdaChoice,
    /// Validation scheme for the automatic choices.
    pub validation: Validation,
    /// With several proxies and [`Combination::Best`], average this many best candidates
    /// (1 = take the best).
    pub ensemble: usize,
    /// Which candidates take part and how they are combined.
    #[serde(default)]
    pub combination: Combination,
}

impl Default for AdaptParams {
    fn default() -> Self {
        AdaptParams {
            penalty: Penalty::Ridge,
            form: FormChoice::Auto,
            lambda: LambdaChoice::Auto { grid: 25 },
            validation: Validation::LeaveOneOut,
            ensemble: 3,
            combination: Combination::Averaged,
        }
    }
}

impl AdaptParams {
    /// The paper's setting: per-feature correction, 2-norm penalty, validated lambda, no ensemble.
    pub fn paper() -> Self {
        AdaptParams {
            penalty: Penalty::L2,
            form: FormChoice::Fixed(Form::paper()),
            ensemble: 1,
            combination: Combination::Best,
            ..Self::default()
        }
    }

    /// Validate the parameters against a sample count.
    pub fn check(&self, n: usize) -> Result<()> {
        if let LambdaChoice::Fixed(l) = self.lambda {
            if !(l >= 0.0 && l.is_finite()) {
                return Err(Error::bad_parameter("lambda", format!("must be >= 0, got {l}")));
            }
        }
        if let LambdaChoice::Auto { grid } = self.lambda {
            if grid < 2 {
                return Err(Error::InvalidParameter("the lambda grid needs at least 2 values".into()));
            }
        }
        if self.ensemble == 0 {
            return Err(Error::bad_parameter("ensemble", "the ensemble size must be at least 1"));
        }
        // a, c and at least one held-out point need 3 samples.
        if n < 3 {
            return Err(Error::TooFewSamples(format!(
                "AdaProxy fits a scale and an intercept and validates on held-out samples: it needs at least 3 target samples, got {n}"
            )));
        }
        match &self.validation {
            Validation::KFold(k) if *k < 2 || *k > n => {
                Err(Error::bad_parameter("folds", format!("k-fold needs 2 <= k <= {n} samples, got k = {k}")))
            }
            Validation::Holdout(idx) if idx.is_empty() || idx.len() + 3 > n || idx.iter().any(|&i| i >= n) => {
                Err(Error::InvalidParameter(format!(
                    "the holdout must list 1 to {} of the {n} sample positions",
                    n.saturating_sub(3)
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether the hypotheses join and every candidate is averaged:
    /// only when the form is left to the data.
    pub(super) fn averaged(&self) -> bool {
        self.combination == Combination::Averaged && self.form == FormChoice::Auto
    }

    /// The forms tried on `space`: the fixed one, or every correction that suits the space.
    pub(super) fn forms(&self, space: &dyn crate::space::SearchSpace) -> Vec<Form> {
        match self.form {
            FormChoice::Fixed(f) => vec![f],
            FormChoice::Auto => {
                Form::corrections().filter(|f| f.correction().is_some_and(|c| c.applies(space))).collect()
            }
        }
    }
}

/// The largest ratio between two latencies of one target that AdaProxy accepts: beyond it the
/// smallest vanish next to the largest in double precision.
const MAX_SPREAD: f64 = 1e200;

/// The parameters against the samples, and the samples themselves: one positive finite latency
/// per architecture, within [`MAX_SPREAD`] of each other.
pub(super) fn check_samples(archs: &[Arch], y: &[f64], params: &AdaptParams) -> Result<()> {
    params.check(archs.len())?;
    if archs.len() != y.len() {
        return Err(Error::InvalidParameter("one latency per sample architecture".into()));
    }
    if let Some(why) = y.iter().find_map(|&v| crate::data::check_latency(v).err()) {
        return Err(Error::InvalidParameter(format!("target {why}")));
    }
    let (lo, hi) = y.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if hi / lo > MAX_SPREAD {
        return Err(Error::InvalidParameter(format!(
            "target latencies range from {lo:e} to {hi:e} ms, more than 1e200 apart: no latency model spans that (mixed units?)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_names_parse_to_the_correction_forms_only() {
        assert_eq!("auto".parse::<FormChoice>().unwrap(), FormChoice::Auto);
        for f in Form::corrections() {
            assert_eq!(f.name().parse::<FormChoice>().unwrap(), FormChoice::Fixed(f));
        }
        let err = "stacking".parse::<FormChoice>().unwrap_err().to_string();
        assert!(
            err.contains(
                "unknown form 'stacking'; known forms: auto, per-feature, grouped, measured-counts, additive-onehot"
            ),
            "{err}"
        );
    }

    #[test]
    fn auto_tries_per_kind_forms_only_where_kinds_share_cost() {
        let auto = AdaptParams::default();
        let names = |space: &dyn crate::space::SearchSpace| -> Vec<&str> {
            auto.forms(space).into_iter().map(Form::name).collect()
        };
        assert_eq!(names(&crate::space::Nb201), ["per-feature", "grouped", "measured-counts", "additive-onehot"]);
        assert_eq!(names(&crate::space::OfaMbv3), ["per-feature", "additive-onehot"]);
        let grouped = AdaptParams { form: "grouped".parse().unwrap(), ..AdaptParams::default() };
        assert_eq!(grouped.forms(&crate::space::OfaMbv3), [Form::named("grouped").unwrap()]);
        assert!(auto.averaged() && !grouped.averaged() && !AdaptParams::paper().averaged());
    }
}
