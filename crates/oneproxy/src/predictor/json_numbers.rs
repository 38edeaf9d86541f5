//! JSON forms of numbers that may legitimately be non-finite.
//!
//! JSON has no infinity or NaN, and serde_json writes both as `null`, which reads as "missing"
//! and breaks scripts that expect a number. Where a non-finite value means something, it is
//! written as a word instead, and read back from it:
//!
//! | field kind | non-finite value | JSON |
//! |---|---|---|
//! | [`lambda`]: AdaProxy's penalty weight | infinity: no correction at all | `"none"` |
//! | [`undefined`]: a correlation, a cross-validated error | NaN or infinity: undefined (a correlation of constant values, an error without held-out predictions) | `"undefined"` |
//!
//! Use with `#[serde(with = "oneproxy::predictor::json_numbers::lambda")]`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// A number or a word, as read back.
#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Number(f64),
    Word(String),
}

fn write<S: Serializer>(v: f64, word: &str, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(v)
    } else {
        s.serialize_str(word)
    }
}

fn read<'de, D: Deserializer<'de>>(d: D, word: &str, value: f64) -> Result<f64, D::Error> {
    match Repr::deserialize(d)? {
        Repr::Number(v) => Ok(v),
        Repr::Word(w) if w == word => Ok(value),
        Repr::Word(w) => Err(D::Error::custom(format!("expected a number or \"{word}\", got \"{w}\""))),
    }
}

/// A lambda: a number, or `"none"` for an infinite lambda (no correction).
pub mod lambda {
    use super::*;

    /// Write a lambda.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        write(*v, "none", s)
    }

    /// Read a lambda.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        read(d, "none", f64::INFINITY)
    }
}

/// A statistic that may be undefined: a number, or `"undefined"` (read back as NaN).
pub mod undefined {
    use super::*;

    /// Write the statistic.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        write(*v, "undefined", s)
    }

    /// Read the statistic.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        read(d, "undefined", f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug)]
    struct R {
        #[serde(with = "super::lambda")]
        lambda: f64,
        #[serde(with = "super::undefined")]
        rho: f64,
    }

    #[test]
    fn non_finite_values_are_words_and_read_back() {
        let text = serde_json::to_string(&R { lambda: f64::INFINITY, rho: f64::NAN }).unwrap();
        assert_eq!(text, r#"{"lambda":"none","rho":"undefined"}"#);
        let back: R = serde_json::from_str(&text).unwrap();
        assert!(back.lambda.is_infinite() && back.rho.is_nan());
        let text = serde_json::to_string(&R { lambda: 0.01, rho: 0.5 }).unwrap();
        assert_eq!(text, r#"{"lambda":0.01,"rho":0.5}"#);
        assert!(serde_json::from_str::<R>(r#"{"lambda":"lots","rho":1}"#)
            .unwrap_err()
            .to_string()
            .contains("\"none\""));
    }
}
