//! Text rules where bytes must match JavaScript: number printing, `JSON.stringify`
//! string escaping, UTF-16 string order and Gun.js's `String.hash`.

use std::cmp::Ordering;
use std::fmt::Write as _;

/// Appends `n` as JavaScript's `Number.prototype.toString` prints it
/// (`1700000000000`, `1795541784376.001`, `0` for `-0`).
///
/// Non-finite numbers never reach this function (they are rejected on input);
/// if one does, it prints `null` as `JSON.stringify` would.
pub(crate) fn push_number(out: &mut String, n: f64) {
    if !n.is_finite() {
        out.push_str("null");
        return;
    }
    if n == 0.0 {
        out.push('0');
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.push_str(buf.format_finite(n));
}

/// Returns `n` printed as JavaScript prints it.
#[cfg(test)]
pub(crate) fn number_text(n: f64) -> String {
    let mut s = String::new();
    push_number(&mut s, n);
    s
}

/// Appends `s` as a JSON string literal, escaped exactly as `JSON.stringify` does.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Everything that needs escaping is ASCII, and no byte of a multi-byte
    // UTF-8 sequence is: the text is searched bytewise, and copied in runs.
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(at) = bytes[start..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let i = start + at;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Compares two strings as JavaScript does: by UTF-16 code units.
///
/// This differs from Rust's byte order for text outside the Basic Multilingual
/// Plane: `"\u{FFFF}" > "😀"` in JavaScript, the opposite in UTF-8.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    // Fast path: byte order equals UTF-16 order while both are ASCII-comparable.
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Gun.js's `String.hash`: `h = ((h << 5) - h + c) | 0` over UTF-16 code units.
pub(crate) fn string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for c in s.encode_utf16() {
        h = (h << 5).wrapping_sub(h).wrapping_add(i32::from(c));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_does() {
        assert_eq!(number_text(1_700_000_000_000.0), "1700000000000");
        assert_eq!(number_text(1_795_541_784_376.001), "1795541784376.001");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(30.0), "30");
        assert_eq!(number_text(0.5), "0.5");
        assert_eq!(number_text(1e21), "1e+21");
        assert_eq!(number_text(f64::NAN), "null");
    }

    #[test]
    fn strings_escape_as_json_stringify() {
        let mut s = String::new();
        push_string(&mut s, "a\"b\\c\n\u{1b}\u{2028}é😀");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u001b\u{2028}é😀\"");
    }

    proptest::proptest! {
        /// Every string prints as `JSON.stringify` prints it (which is
        /// serde_json's form too: the short escapes, `\u00xx` for the other
        /// controls, everything else as it is), after text already written.
        #[test]
        fn any_string_escapes_as_json_stringify(s in "\\PC*|[\\x00-\\x7f]*", before in "[a-z]{0,3}") {
            let mut out = before.clone();
            push_string(&mut out, &s);
            let want = format!("{before}{}", serde_json::to_string(&s).expect("json"));
            proptest::prop_assert_eq!(out, want);
        }
    }

    #[test]
    fn utf16_order_differs_from_utf8_order() {
        assert_eq!(cmp_utf16("\u{FFFF}", "😀"), Ordering::Greater);
        assert_eq!("\u{FFFF}".cmp("😀"), Ordering::Less);
        assert_eq!(cmp_utf16("Bz", "Bob"), Ordering::Greater);
    }

    #[test]
    fn hash_matches_gunjs() {
        // Recomputed from a Gun.js relay's reply (GUNJS-REFERENCE.md §3.7).
        let text = r##"{"nmwuz8bf1":{"_":{"#":"nmwuz8bf1",">":{"b":1795541795078}},"b":2}}"##;
        assert_eq!(string_hash(text), 408_460_478);
    }
}
