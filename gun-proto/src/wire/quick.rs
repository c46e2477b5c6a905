//! The quickest path of decoding: a byte scanner for the messages a mesh
//! carries most, puts and their acks in the shape peers write them
//! (`{"#":id,"@":id,"><":peers,"##":n,"put":{soul:{"_":{"#":soul,">":{k:state}},k:v}}}`),
//! straight into a [`Message`].
//!
//! It takes only what it reads without doubt: strings with no escape,
//! numbers as JSON writes them, values a put may hold, small nodes, and no
//! other field. On anything else it gives up (`None`) and [`super::scan`]
//! reads the message (and, failing that, the JSON tree, which names what is
//! wrong), so what it builds is what those would build; the frame fuzz
//! target checks this against the JSON tree.

use arrayvec::ArrayVec;
use compact_str::CompactString;

use super::Message;
use crate::graph::{Graph, Node, PropRef};
use crate::value::ValueRef;

/// Most states, and values, in a node this path reads (each value looks
/// its state up by a search): larger nodes are left to [`super::scan`],
/// which indexes.
const MAX_STATES: usize = 32;

/// Reads one message; `None` when a slower path must.
pub(super) fn message(text: &str) -> Option<Message> {
    let mut c = Cursor::new(text);
    // Borrowed until the whole message is read: one this path leaves to
    // the next (a `get` after its `#`) has cost no allocation.
    let (mut id, mut ack, mut seen) = (None, None, None);
    let mut m = Message::default();
    c.object(|c, key| {
        match key {
            "#" => id = Some(c.string()?),
            "@" => ack = Some(c.string()?),
            "><" => seen = Some(c.string()?),
            "##" => m.hash = Some(c.number()?),
            "put" => m.put = Some(graph(c)?),
            _ => return None,
        }
        Some(())
    })?;
    if !c.end() {
        return None;
    }
    m.id = id.map(CompactString::from);
    m.ack = ack.map(CompactString::from);
    m.seen = seen.map(str::to_owned);
    Some(m)
}

/// A `put`: souls to nodes (a later duplicate soul replaces an earlier one).
fn graph(c: &mut Cursor<'_>) -> Option<Graph> {
    let mut g = Graph::new();
    c.object(|c, soul| {
        if soul.is_empty() {
            return None;
        }
        let node = node(c, soul)?;
        g.insert_node(soul, node);
        Some(())
    })?;
    Some(g)
}

/// A node filed under `soul`. Its `_` usually comes first, but values may
/// come before it: they are all read, then set in their order (as in a
/// JSON object, the last duplicate key counts), each at its state in the
/// `_`. A second `_` after values is left to the slower path. The values
/// and states wait on the stack, so the node, sized for what it will
/// hold, is the only allocation.
fn node<'a>(c: &mut Cursor<'a>, soul: &str) -> Option<Node> {
    let mut states = Few::new();
    let mut meta = false;
    let mut values = Few::new();
    c.object(|c, key| {
        if key == "_" {
            if meta && !values.is_empty() {
                return None;
            }
            self::meta(c, soul, &mut states)?;
            meta = true;
            return Some(());
        }
        if key.is_empty() {
            return None;
        }
        let value = value(c)?;
        values.try_push((key, value)).ok()
    })?;
    if !meta {
        return None;
    }
    let text = values
        .as_slice()
        .iter()
        .map(|(key, value)| key.len() + text_len(*value))
        .sum();
    let mut node = Node::with_room(values.len(), text);
    for &(key, value) in values.as_slice() {
        // The last state given for the key counts, as JSON reads a duplicate.
        let state = states
            .as_slice()
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| *s)?;
        node.set(key, PropRef { value, state });
    }
    Some(node)
}

/// The bytes of text a value adds to its node.
fn text_len(value: ValueRef<'_>) -> usize {
    match value {
        ValueRef::String(s) | ValueRef::Link(s) => s.len(),
        ValueRef::Null | ValueRef::Bool(_) | ValueRef::Number(_) => 0,
    }
}

/// A node's `_`, `{"#":soul,">":{key:state}}`, of the node at `soul`: its
/// properties' states are read into `states` (those of an earlier `_`
/// dropped).
fn meta<'a>(c: &mut Cursor<'a>, soul: &str, states: &mut Few<(&'a str, f64)>) -> Option<()> {
    let (mut named, mut stated) = (false, false);
    c.object(|c, key| {
        match key {
            "#" => {
                named = c.string()? == soul;
                if !named {
                    return None;
                }
            }
            ">" => {
                states.clear();
                c.object(|c, k| states.try_push((k, c.number()?)).ok())?;
                stated = true;
            }
            _ => return None,
        }
        Some(())
    })?;
    (named && stated).then_some(())
}

/// Up to [`MAX_STATES`] items, kept on the stack (the places past the
/// last item are not written: a message's node costs what it holds).
type Few<T> = ArrayVec<T, MAX_STATES>;

/// A property's value: `null`, a boolean, a finite number, a string, or a
/// link `{"#":soul}`.
fn value<'a>(c: &mut Cursor<'a>) -> Option<ValueRef<'a>> {
    match c.peek()? {
        b'"' => c.string().map(ValueRef::String),
        b'n' => c.literal("null").map(|()| ValueRef::Null),
        b't' => c.literal("true").map(|()| ValueRef::Bool(true)),
        b'f' => c.literal("false").map(|()| ValueRef::Bool(false)),
        b'{' => {
            let mut soul = None;
            c.object(|c, key| {
                if key != "#" || soul.is_some() {
                    return None;
                }
                soul = Some(c.string()?);
                Some(())
            })?;
            soul.filter(|s| !s.is_empty()).map(ValueRef::Link)
        }
        _ => c.number().map(ValueRef::Number),
    }
}

/// The bytes a plain string stops at: its closing `"`, or what this path
/// leaves to the slower one (an escape, a control character). One look-up
/// a byte instead of three comparisons.
const ENDS_PLAIN: [bool; 256] = {
    let mut ends = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        ends[b] = true;
        b += 1;
    }
    ends[b'"' as usize] = true;
    ends[b'\\' as usize] = true;
    ends
};

/// A position in a message's text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips JSON whitespace.
    fn skip_space(&mut self) {
        // Peers write no whitespace: one comparison tells most bytes apart.
        while let Some(&b) = self.bytes().get(self.pos) {
            if b > b' ' || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return;
            }
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace, not taken.
    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.pos).copied()
    }

    /// The next byte that is not whitespace, taken.
    fn take_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Whether only whitespace is left.
    fn end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// An object: `each` is called with every key, the cursor at its value,
    /// and must read that value.
    fn object(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.take_byte()? != b'{' {
            return None;
        }
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            if self.take_byte()? != b':' {
                return None;
            }
            each(self, key)?;
            match self.take_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A string with no escape and no control character, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        let len = self.bytes()[start..]
            .iter()
            .position(|&b| ENDS_PLAIN[usize::from(b)])?;
        let end = start + len;
        if self.bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        // Both ends are next to a `"`: character boundaries.
        self.text.get(start..end)
    }

    /// `word` (a literal: `null`, `true`, `false`).
    fn literal(&mut self, word: &str) -> Option<()> {
        self.skip_space();
        let rest = self.bytes().get(self.pos..)?;
        rest.starts_with(word.as_bytes())
            .then(|| self.pos += word.len())
    }

    /// A finite number, as JSON writes one
    /// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    fn number(&mut self) -> Option<f64> {
        self.skip_space();
        let b = self.bytes();
        let start = self.pos;
        // The digits from `i` on, and their value (wrapping past 19 digits,
        // when it is not used).
        let digits = |mut i: usize| {
            let mut value = 0u64;
            while let Some(&d) = b.get(i) {
                if !d.is_ascii_digit() {
                    break;
                }
                value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                i += 1;
            }
            (i, value)
        };
        let mut i = start + usize::from(b.get(start) == Some(&b'-'));
        let int = i;
        let whole;
        (i, whole) = match b.get(i)? {
            b'0' => (i + 1, 0),
            b'1'..=b'9' => digits(i),
            _ => return None,
        };
        let int_end = i;
        if b.get(i) == Some(&b'.') {
            let (after, _) = digits(i + 1);
            if after == i + 1 {
                return None;
            }
            i = after;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let (after, _) = digits(i);
            if after == i {
                return None;
            }
            i = after;
        }
        self.pos = i;
        // A whole number of up to 15 digits is exact as an `f64`; any other
        // is parsed (correctly rounded, as `serde_json` with
        // `float_roundtrip` parses it).
        let n = if i == int_end && int_end - int <= 15 {
            let n = whole as f64;
            if int > start { -n } else { n }
        } else {
            self.text.get(start..i)?.parse().ok()?
        };
        n.is_finite().then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Takes it, and builds what the slower paths build.
    fn agrees(text: &str) {
        let quick = message(text).unwrap_or_else(|| panic!("quick path takes {text}"));
        let scanned = super::super::scan::message(text).expect("scan takes it");
        assert_eq!(quick, scanned, "{text}");
        let v: serde_json::Value = serde_json::from_str(text).expect("json");
        let slow = super::super::message(v).expect("slow path takes it");
        assert_eq!(quick, slow, "{text}");
    }

    #[test]
    fn builds_what_the_slower_paths_build() {
        for text in [
            r###"{"#":"m1","put":{"user/alice":{"_":{"#":"user/alice",">":{"name":1700000000000,"age":1700000000000}},"name":"Alice","age":30}}}"###,
            r###"{"put":{"s":{"name":"x","_":{">":{"name":1.5},"#":"s"}}},"#":"a"}"###,
            r###"{"#":"r","@":"g","##":-12,"put":{"s":{"_":{"#":"s",">":{"l":2,"n":3}},"l":{"#":"t"},"n":null}}}"###,
            r###"{"#":"d","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":1,"k":2}}}"###,
            r###"{"#":"d","put":{"s":{"_":{"#":"s",">":{"k":1,"k":2}},"k":true}}}"###,
            r###"{"#":"d","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":false},"s":{"_":{"#":"s",">":{"j":1}},"j":"x"}}}"###,
            r###"{"#":"e","put":{"s":{"_":{"#":"s",">":{"k":1,"unused":2}},"k":"v"}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{}}}}}"###,
            r###"{"#":"x","put":{}}"###,
            r###"{}"###,
            " {\n\t\"#\" : \"x\" , \"put\" : { \"s\" : { \"_\" : { \"#\" : \"s\" , \">\" : { \"k\" : 1 } } , \"k\" : -0.5e-3 } } } \r\n",
            r###"{"@":"m1","#":"a1","><":"p1,p2"}"###,
            r###"{"#":"n","put":{"s":{"_":{"#":"s",">":{"a":-0,"b":0.1,"c":1E+2,"d":123456789012345678901234567890,"e":9007199254740993,"f":-1e-320}},"a":-0,"b":0.1,"c":1E+2,"d":123456789012345678901234567890,"e":9007199254740993,"f":-1e-320}}}"###,
            "{\"#\":\"u\",\"put\":{\"ü/ß\":{\"_\":{\"#\":\"ü/ß\",\">\":{\"名\":1}},\"名\":\"値 😀 \u{7f}\"}}}",
        ] {
            agrees(text);
        }
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for text in [
            // Left to the slower paths, which take them.
            r###"{"#":"g","get":{"#":"s"}}"###,
            r###"{"#":"x","ok":{"":1}}"###,
            r###"{"#":"x\"y"}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":"a\nb"}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":"1"}},"j":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1},"x":1},"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":1,"_":{"#":"s",">":{"k":2}}}}}"###,
            // Refused by every path.
            r###"{"#":"x","put":{"s":{"_":{"#":"t",">":{"k":1}},"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{}},"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":[1]}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":{"#":""}}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":{"#":"a","b":1}}}}"###,
            r###"{"#":"x","put":{"":{"_":{"#":"",">":{}}}}}"###,
            r###"{"#":1}"###,
            r###"{"#":"x","##":1e400}"###,
            r###"{"#":"x","##":01}"###,
            r###"{"#":"x","##":1.}"###,
            r###"{"#":"x","##":.5}"###,
            r###"{"#":"x","##":+1}"###,
            r###"{"#":"x","##":-}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":nul}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":truex}}}"###,
            r###"{"#":"x",}"###,
            r###"{"#":"x"} trailing"###,
            r###"{"#":"x""###,
            r###"[1]"###,
            "",
        ] {
            assert!(message(text).is_none(), "{text}");
        }
    }

    /// A JSON string's text: mostly plain, sometimes with an escape.
    fn json_string() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "\"[a-z/é ]{0,5}\"",
            1 => proptest::string::string_regex(r#""([a-z]|\\n|\\u00e9|\\"){0,4}""#).expect("regex"),
        ]
    }

    /// A number's text: JSON's forms, and a few it does not allow.
    fn json_number() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => proptest::string::string_regex(r"-?(0|[1-9][0-9]{0,18})(\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?").expect("regex"),
            1 => proptest::sample::select(vec!["01", "1.", ".5", "+1", "-", "1e", "1e400", "-0"]).prop_map(str::to_owned),
        ]
    }

    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => proptest::sample::select(vec!["null", "true", "false"]).prop_map(str::to_owned),
            1 => proptest::sample::select(vec!["[1]", "{}", "nul"]).prop_map(str::to_owned),
            3 => json_number(),
            3 => json_string(),
            1 => json_string().prop_map(|s| format!(r##"{{"#":{s}}}"##)),
        ]
    }

    /// Whitespace, mostly none.
    fn ws() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec!["", "", "", " ", "\n\t"])
    }

    /// A put message's text: keys from a small set (so that duplicates
    /// happen), values and states of any kind (most values with a state,
    /// some not), `_` first or last.
    fn put_text() -> impl Strategy<Value = String> {
        let key =
            || proptest::sample::select(vec![r#""a""#, r#""b""#, r#""c""#, r#""é""#, r#""""#]);
        let values = proptest::collection::vec((key(), json_value(), json_number(), 0..8u8), 0..4);
        let extra = proptest::collection::vec((key(), json_number()), 0..2);
        (json_string(), values, extra, any::<bool>(), ws(), ws()).prop_map(
            |(id, values, extra, meta_last, w1, w2)| {
                let states: Vec<String> = values
                    .iter()
                    .filter(|(.., stated)| *stated > 0)
                    .map(|(k, _, n, _)| (k, n))
                    .chain(extra.iter().map(|(k, n)| (k, n)))
                    .map(|(k, n)| format!("{k}:{w1}{n}"))
                    .collect();
                let meta = format!(r##""_"{w2}:{{"#":"s",">":{{{}}}}}"##, states.join(","));
                let mut fields: Vec<String> = values
                    .iter()
                    .map(|(k, v, ..)| format!("{k}{w1}:{v}"))
                    .collect();
                if meta_last {
                    fields.push(meta);
                } else {
                    fields.insert(0, meta);
                }
                format!(
                    r##"{w2}{{"#":{id},{w1}"put":{{"s":{{{}}}}}}}{w1}"##,
                    fields.join(&format!(",{w2}"))
                )
            },
        )
    }

    proptest! {
        /// Whatever the scanner takes, it builds as the slower paths do.
        #[test]
        fn what_it_takes_it_builds_as_the_slower_paths_do(text in put_text()) {
            if let Some(quick) = message(&text) {
                let scanned = super::super::scan::message(&text);
                prop_assert_eq!(Some(&quick), scanned.as_ref(), "{}", text);
                let v: serde_json::Value = serde_json::from_str(&text).expect("json");
                prop_assert_eq!(Ok(quick), super::super::message(v).map_err(|e| e.1.to_string()), "{}", text);
            }
        }

        /// A put in the usual shape (plain strings, JSON numbers, a state
        /// for every value) it takes.
        #[test]
        fn it_takes_the_usual_shape(
            values in proptest::collection::btree_map("[a-z]{1,3}", "(null|true|-?[1-9][0-9]{0,5}(\\.[0-9]{1,2})?|\"[a-z ]{0,4}\")", 0..6),
            state in 1u64..10_000_000_000_000,
        ) {
            let states: Vec<String> = values.keys().map(|k| format!(r#""{k}":{state}"#)).collect();
            let fields: Vec<String> = values.iter().map(|(k, v)| format!(r#""{k}":{v}"#)).collect();
            let text = format!(
                r##"{{"#":"m","put":{{"s":{{"_":{{"#":"s",">":{{{}}}}}{}{}}}}}}}"##,
                states.join(","),
                if fields.is_empty() { "" } else { "," },
                fields.join(",")
            );
            prop_assert!(message(&text).is_some(), "{}", text);
            agrees(&text);
        }
    }

    #[test]
    fn a_node_past_its_state_bound_is_left_to_the_scan() {
        let keys: Vec<String> = (0..=MAX_STATES).map(|i| format!("k{i}")).collect();
        let states: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
        let values: Vec<String> = keys.iter().map(|k| format!("\"{k}\":2")).collect();
        let text = format!(
            r##"{{"#":"x","put":{{"s":{{"_":{{"#":"s",">":{{{}}}}},{}}}}}}}"##,
            states.join(","),
            values.join(",")
        );
        assert!(message(&text).is_none());
        assert!(super::super::scan::message(&text).is_some());
    }
}
