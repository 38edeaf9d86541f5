//! Reports: the typed report documents every front end writes as JSON ([`document`]), and
//! `report.html`, one self-contained page per report folder rendered from them ([`html`]), and
//! the folder's CSV tables ([`tables`]).

pub mod document;
pub mod fleet;
pub mod html;
pub mod tables;

pub use document::{AdaptEvaluationBody, FleetBody, FleetMember, NasBody, NasEvaluationBody, Report, RunBody};
