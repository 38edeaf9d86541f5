//! Plots (feature `plot`): the device correlation heatmap, Pareto fronts, the overview of a
//! run, a fleet's figures and the calibration of the flow's uncertainty.
//!
//! Every figure is drawn once, as SVG; PNG and PDF are made from that SVG (resvg and svg2pdf)
//! with the bundled DejaVu Sans font, so the three formats show the same figure and none
//! depends on the machine's fonts. The format follows the file extension: `.svg`, `.png`
//! (twice the SVG's pixel size, for print) or `.pdf` (vector). Files are written atomically.

mod calibration;
mod fleet;
mod heatmap;
mod overview;
pub mod palette;
mod pareto;

pub use calibration::{calibration, calibration_svg, Calibration};
pub use fleet::{fleet_svg, timeline_svg, FleetBar};
pub use heatmap::{heatmap, heatmap_svg, HeatmapScale, HeatmapStyle, Scale, ANNOTATE_MAX_DEVICES};
pub use overview::{overview, overview_svg, Overview, OverviewTarget};
pub use pareto::{pareto, pareto_svg, thin, AxisScale, Budget, Constraint, ParetoPlot, Series, Spread, THIN_CELLS};

use crate::error::{Error, Result};
use resvg::usvg;
use std::path::Path;
use std::sync::{Arc, Once, OnceLock};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The font family every figure names (and that PNG and PDF are rendered with).
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Largest SVG a figure of the report may be (bytes): the report tests hold every plot to it.
pub const MAX_SVG_BYTES: usize = 200 * 1024;

/// plotters measures text (legend boxes, label areas) with the registered font.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to be valid; a failure would only misplace labels.
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT);
    });
}

/// Width of `text` in pixels at `size`: the bundled font's measure or 0.64 em a character,
/// whichever is wider (browsers may draw the SVG with a wider font of their own).
pub(crate) fn text_width(text: &str, size: u32) -> f64 {
    use plotters::style::IntoFont;
    register_font();
    let measured = ("sans-serif", size as f64).into_font().box_size(text).map_or(0.0, |(w, _)| w as f64);
    measured.max(text.chars().count() as f64 * size as f64 * 0.64)
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot { path: path.to_path_buf(), reason: e.to_string() }
}

/// An image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics (the figure as drawn).
    Svg,
    /// A bitmap at twice the SVG's size.
    Png,
    /// A one-page vector PDF.
    Pdf,
}

impl Format {
    /// The format a path's extension asks for.
    pub fn of(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            Some("pdf") => Ok(Format::Pdf),
            _ => Err(plot_err(path, "the plot file must end in .svg, .png or .pdf")),
        }
    }
}

/// usvg options with the bundled font as the only font, standing in for every family.
fn usvg_options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        db.set_sans_serif_family(FONT_FAMILY);
        db.set_serif_family(FONT_FAMILY);
        db.set_monospace_family(FONT_FAMILY);
        usvg::Options { font_family: FONT_FAMILY.into(), fontdb: Arc::new(db), ..Default::default() }
    })
}

fn parse(svg: &str, path: &Path) -> Result<usvg::Tree> {
    usvg::Tree::from_str(svg, usvg_options()).map_err(|e| plot_err(path, format!("the drawn SVG does not parse: {e}")))
}

/// Render an SVG document as PNG at `scale` times its size.
pub fn svg_to_png(svg: &str, scale: f32, path: &Path) -> Result<Vec<u8>> {
    let tree = parse(svg, path)?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| plot_err(path, "empty figure"))?;
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| plot_err(path, "empty figure"))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| plot_err(path, e))
}

/// Convert an SVG document to a one-page vector PDF (text embedded as the bundled font).
pub fn svg_to_pdf(svg: &str, path: &Path) -> Result<Vec<u8>> {
    let tree = parse(svg, path)?;
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions::default())
        .map_err(|e| plot_err(path, e))
}

/// Write a drawn figure to `path` in the format its extension asks for, through `out` (atomic,
/// never over an input or a file oneproxy did not write).
pub fn save(svg: &str, path: &Path, out: &crate::output::Outputs) -> Result<()> {
    let bytes = match Format::of(path)? {
        Format::Svg => svg.as_bytes().to_vec(),
        Format::Png => svg_to_png(svg, 2.0, path)?,
        Format::Pdf => svg_to_pdf(svg, path)?,
    };
    out.write(path, &bytes)
}

pub(crate) use crate::report::html::escape as escape_xml;

/// The opening of a figure drawn as SVG text: its size, the font, a white page and the title.
pub(crate) fn svg_with_title(width: f64, height: f64, title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}" font-size="11"><rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14">{}</text>"#,
        escape_xml(title)
    )
}

/// A round tick step (1, 2 or 5 times a power of ten) that cuts `0..=largest` into at most
/// `ticks` intervals.
pub(crate) fn tick_step(largest: f64, ticks: f64) -> f64 {
    let mut step = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if largest / (m * step) <= ticks {
                return m * step;
            }
        }
        step *= 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_round_and_cut_the_range_into_at_most_so_many() {
        assert_eq!(tick_step(6.0, 6.0), 1.0);
        assert_eq!(tick_step(7.0, 6.0), 2.0);
        assert_eq!(tick_step(29.0, 6.0), 5.0);
        assert_eq!(tick_step(127.0, 8.0), 20.0);
        assert_eq!(tick_step(4000.0, 6.0), 1000.0);
        for largest in [0.5, 3.0, 49.0, 1234.0] {
            let step = tick_step(largest, 6.0);
            assert!(largest / step <= 6.0 && largest / step > 1.0 || largest <= 1.0, "{largest} {step}");
        }
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(Format::of(Path::new("a.SVG")).unwrap(), Format::Svg);
        assert_eq!(Format::of(Path::new("a.png")).unwrap(), Format::Png);
        assert_eq!(Format::of(Path::new("a.pdf")).unwrap(), Format::Pdf);
        assert!(Format::of(Path::new("a.jpg")).unwrap_err().to_string().contains(".svg, .png or .pdf"));
        assert!(Format::of(Path::new("noext")).is_err());
    }

    #[test]
    fn png_and_pdf_from_svg() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="2" y="15" font-family="sans-serif" font-size="12">0.95</text></svg>"#;
        let png = svg_to_png(svg, 2.0, Path::new("t.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // 80 x 40 pixels: the IHDR chunk holds the width and height.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 80);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 40);
        let pdf = svg_to_pdf(svg, Path::new("t.pdf")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(svg_to_png("<svg", 1.0, Path::new("bad.png")).unwrap_err().to_string().contains("bad.png"));
    }
}
