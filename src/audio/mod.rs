//! Pure DSP for the two audio paths: no I/O, no threads, no FFI.
