//! Data in and out of files: reading inputs safely, and the measurement log of a device.
//!
//! * [`input`]: the one way an input file is read (regular files only, bounded);
//! * [`log`]: [`MeasurementLog`], a device's resumable latency CSV, locked while open, with the
//!   settings it was measured with and the architectures that could not be measured.

pub mod input;
pub mod log;

pub use log::{check_latency, Answer, MeasurementLog, Settings, FAILED};

/// CSV text of records, quoted by the csv crate where needed.
pub fn csv_text<const N: usize>(records: impl IntoIterator<Item = [String; N]>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(&r).expect("writing to memory cannot fail");
    }
    String::from_utf8(w.into_inner().expect("writing to memory cannot fail")).expect("the records are UTF-8")
}
