//! The bottom of the file handling: reading an input file ([`read`]), naming what a
//! non-regular file is ([`kind_of`]) and hashing bytes ([`sha256_hex`]).
//!
//! Both sides of the crate's disk traffic need these: [`crate::data`] reads tables and hashes
//! them into manifests, [`crate::output`] re-reads files it wrote to check its ledger. Keeping
//! them here, depending on nothing but [`crate::error`], lets `data` use `output` (the
//! measurement log is written atomically under a lock) without `output` using `data`.

pub mod input;

pub use input::{check, read, MAX_INPUT_BYTES};
use sha2::{Digest, Sha256};

/// What a non-regular file is, in words.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
