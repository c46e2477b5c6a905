//! Cross-crate test helpers. The tests themselves live in `tests/tests/`.
#![forbid(unsafe_code)]
