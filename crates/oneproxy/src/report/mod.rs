//! Reports: the typed report documents every front end writes as JSON ([`document`]), and
//! `report.html`, one self-contained page per report folder rendered from them ([`html`]).

pub mod document;
pub mod html;

pub use document::{AdaptEvaluationBody, NasBody, NasEvaluationBody, Report, RunBody};
