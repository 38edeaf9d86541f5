//! The colours every figure draws with: Okabe and Ito's palette, chosen because its colours stay
//! apart for readers with any common colour-vision deficiency. Each series also has its own
//! shape (a line, hollow circles, crosses, triangles), so a figure reads in grey print too.
//!
//! No figure pairs a red with a green: the tests below simulate protanopia and deuteranopia and
//! hold every pair of series colours apart.

/// An sRGB colour.
pub type Rgb = (u8, u8, u8);

/// Okabe-Ito blue: the reference (true) front and oneproxy's own scores.
pub const BLUE: Rgb = (0x00, 0x72, 0xb2);
/// Okabe-Ito sky blue: what the proxy predicted to be the front (hollow circles).
pub const SKY_BLUE: Rgb = (0x56, 0xb4, 0xe9);
/// Okabe-Ito vermillion: oneproxy's measured final set (crosses) and failing targets.
pub const VERMILLION: Rgb = (0xd5, 0x5e, 0x00);
/// Okabe-Ito orange: the picks within the constraints (filled triangles) and the random baseline.
pub const ORANGE: Rgb = (0xe6, 0x9f, 0x00);
/// Okabe-Ito reddish purple: latency constraints (dashed lines).
pub const PURPLE: Rgb = (0xcc, 0x79, 0xa7);
/// Dark grey: latency budgets (dotted lines) and text.
pub const DARK_GREY: Rgb = (0x55, 0x55, 0x55);
/// Light grey: the cloud of every architecture.
pub const CLOUD_GREY: Rgb = (0xbb, 0xbb, 0xbb);
/// The major grid: light enough to stay behind the data.
pub const GRID: Rgb = (0xe8, 0xe8, 0xe8);

/// The colours that mark data series (what the tests hold apart).
pub const SERIES: [Rgb; 5] = [BLUE, SKY_BLUE, VERMILLION, ORANGE, PURPLE];

/// `#rrggbb` of a colour.
pub fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

pub(crate) fn rgb(c: Rgb) -> plotters::style::RGBColor {
    plotters::style::RGBColor(c.0, c.1, c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(c: u8) -> f64 {
        let v = c as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    }

    /// A colour as a reader with a full protan or deutan deficiency sees it (Machado, Oliveira
    /// and Fernandes 2009, severity 1), in linear RGB.
    fn simulate(c: Rgb, m: &[[f64; 3]; 3]) -> [f64; 3] {
        let v = [linear(c.0), linear(c.1), linear(c.2)];
        let row = |r: &[f64; 3]| (r[0] * v[0] + r[1] * v[1] + r[2] * v[2]).clamp(0.0, 1.0);
        [row(&m[0]), row(&m[1]), row(&m[2])]
    }

    const PROTAN: [[f64; 3]; 3] =
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]];
    const DEUTAN: [[f64; 3]; 3] =
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]];

    fn hue(c: Rgb) -> f64 {
        let (r, g, b) = (c.0 as f64, c.1 as f64, c.2 as f64);
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        if max == min {
            return f64::NAN;
        }
        let h = if max == r {
            (g - b) / (max - min)
        } else if max == g {
            2.0 + (b - r) / (max - min)
        } else {
            4.0 + (r - g) / (max - min)
        };
        (h * 60.0).rem_euclid(360.0)
    }

    fn red_or_green(c: Rgb) -> bool {
        let h = hue(c);
        !(15.0..=345.0).contains(&h) || (75.0..=155.0).contains(&h)
    }

    #[test]
    fn no_series_colour_is_a_red_or_a_green() {
        for c in SERIES {
            assert!(!red_or_green(c), "{} (hue {:.0})", hex(c), hue(c));
        }
        // The pair the figures used to draw (red crosses, green circles) is caught.
        assert!(red_or_green((255, 0, 0)) && red_or_green((20, 140, 70)));
    }

    #[test]
    fn series_colours_stay_apart_under_colour_blindness() {
        for m in [&PROTAN, &DEUTAN] {
            for (i, a) in SERIES.iter().enumerate() {
                for b in &SERIES[i + 1..] {
                    let (x, y) = (simulate(*a, m), simulate(*b, m));
                    let d = ((x[0] - y[0]).powi(2) + (x[1] - y[1]).powi(2) + (x[2] - y[2]).powi(2)).sqrt();
                    assert!(d > 0.15, "{} and {} look alike ({d:.3})", hex(*a), hex(*b));
                }
            }
        }
    }
}
