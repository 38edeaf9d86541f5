//! Fuzz target `arch_string`: the harness and its invariants live in `oneproxy::fuzzing::arch_string`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    oneproxy::fuzzing::arch_string(data);
});
