//! Reports people open: `report.html`, one self-contained page per report folder.

pub mod html;
