//! Kept for existing callers: the atomic writer lives in [`crate::output`].

pub use crate::output::write_atomic;
