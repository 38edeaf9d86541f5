//! The one check a latency passes wherever it enters (a CSV cell, a runner, a person, a Python
//! callable, an API call): a positive, finite number of milliseconds.

/// The cell of an architecture that cannot be measured.
pub const FAILED: &str = "failed";

/// The one check every latency passes on its way in: a positive, finite number of ms.
pub fn check_latency(latency_ms: f64) -> std::result::Result<f64, String> {
    if latency_ms.is_finite() && latency_ms > 0.0 {
        Ok(latency_ms)
    } else {
        Err(format!("latency {} is not a positive finite number of ms", crate::error::show_number(latency_ms)))
    }
}

/// One latency cell: empty = missing (NaN); otherwise a finite number > 0 (the cell
/// [`FAILED`] is read by the CSV reader, as missing).
pub fn parse_latency(cell: &str) -> std::result::Result<f64, String> {
    if cell.is_empty() {
        return Ok(f64::NAN);
    }
    let v: f64 = cell.parse().map_err(|_| "not a number".to_string())?;
    if v.is_nan() {
        return Err("NaN is not a latency; leave the cell empty for 'not measured'".into());
    }
    if !v.is_finite() {
        return Err("latency must be finite".into());
    }
    if v <= 0.0 {
        return Err("latency must be > 0 ms".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_is_a_positive_finite_number_of_ms() {
        assert_eq!(check_latency(2.5), Ok(2.5));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_latency(bad).unwrap_err().contains("not a positive finite number of ms"), "{bad}");
        }
        assert!(
            check_latency(1e306).is_ok() && check_latency(1e-300).is_ok(),
            "implausible is a warning, not an error"
        );
        assert!(parse_latency("").unwrap().is_nan());
        assert_eq!(parse_latency("3.5"), Ok(3.5));
        for bad in ["x", "NaN", "inf", "0", "-2"] {
            assert!(parse_latency(bad).is_err(), "{bad}");
        }
    }
}
