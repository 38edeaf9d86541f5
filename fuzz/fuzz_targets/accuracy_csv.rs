//! Fuzz target `accuracy_csv`: the harness and its invariants live in `oneproxy::fuzzing::accuracy_csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    oneproxy::fuzzing::accuracy_csv(data);
});
