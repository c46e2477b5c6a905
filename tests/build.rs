//! Makes the blocking driver's copy of the original port's examples: the
//! async ones (reference/async_examples.rs) with `async` and `.await`
//! removed and nothing else, since gun-io-blocking has the same names with
//! blocking calls. tests/tests/reference.rs includes it from OUT_DIR.

use std::path::PathBuf;

fn main() {
    let source = "reference/async_examples.rs";
    println!("cargo::rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).expect("reference/async_examples.rs");
    let blocking = text
        .replace(".await", "")
        .replace("pub(super) async fn ", "pub(super) fn ")
        .replace("    async fn ", "    fn ");
    for left in [".await", "async fn", "async {", "async move"] {
        assert!(
            !blocking.contains(left),
            "{source}: `{left}` left in the blocking copy; extend tests/build.rs"
        );
    }
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("blocking_examples.rs");
    let header = "// Made by tests/build.rs from reference/async_examples.rs: the same\n\
                  // examples for gun-io-blocking, with `async` and `.await` removed.\n\n";
    std::fs::write(out, format!("{header}{blocking}")).expect("write the blocking examples");
}
