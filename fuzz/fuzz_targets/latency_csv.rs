//! Fuzz target `latency_csv`: the harness and its invariants live in `oneproxy::fuzzing::latency_csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    oneproxy::fuzzing::latency_csv(data);
});
