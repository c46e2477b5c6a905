//! A property as the key-value stores keep it: compact binary, no JSON.
//!
//! `state` (f64, little-endian, 8 bytes), a tag byte, then the value:
//! nothing for `null`, `false` and `true`; 8 bytes (f64, little-endian) for
//! a number; the UTF-8 bytes for a string or a link's soul (to the record's
//! end). A record of a string value is its length plus 9 bytes; a number's
//! is 17.

use gun_proto::{Prop, PropRef, Value, ValueRef};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const NUMBER: u8 = 3;
const STRING: u8 = 4;
const LINK: u8 = 5;

/// Appends `prop`'s record to `out`.
pub(crate) fn encode(prop: PropRef<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&prop.state.to_le_bytes());
    match prop.value {
        ValueRef::Null => out.push(NULL),
        ValueRef::Bool(false) => out.push(FALSE),
        ValueRef::Bool(true) => out.push(TRUE),
        ValueRef::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_le_bytes());
        }
        ValueRef::String(s) => {
            out.push(STRING);
            out.extend_from_slice(s.as_bytes());
        }
        ValueRef::Link(soul) => {
            out.push(LINK);
            out.extend_from_slice(soul.as_bytes());
        }
    }
}

/// `prop`'s record.
pub(crate) fn to_vec(prop: PropRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + prop.value.text_len());
    encode(prop, &mut out);
    out
}

/// The property a record holds; `None` when it is not a whole record.
pub(crate) fn decode(record: &[u8]) -> Option<Prop> {
    let state = f64::from_le_bytes(record.get(..8)?.try_into().ok()?);
    let (&tag, rest) = record.get(8..)?.split_first()?;
    let text = || std::str::from_utf8(rest).ok().map(str::to_owned);
    let value = match tag {
        NULL if rest.is_empty() => Value::Null,
        FALSE if rest.is_empty() => Value::Bool(false),
        TRUE if rest.is_empty() => Value::Bool(true),
        NUMBER => {
            let n = f64::from_le_bytes(rest.try_into().ok()?);
            if !n.is_finite() {
                return None;
            }
            Value::Number(n)
        }
        STRING => Value::String(text()?),
        LINK => Value::Link(text()?),
        _ => return None,
    };
    if !state.is_finite() {
        return None;
    }
    Some(Prop { value, state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        let values = [
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Number(-0.5),
            Value::Number(1e300),
            Value::String(String::new()),
            Value::String("héllo \u{0} wörld".into()),
            Value::Link("user/alice".into()),
        ];
        for value in values {
            let prop = Prop {
                value,
                state: 1_795_541_784_376.001,
            };
            let record = to_vec(prop.view());
            assert_eq!(decode(&record), Some(prop));
        }
    }

    #[test]
    fn broken_records_are_refused() {
        let good = to_vec(PropRef {
            value: ValueRef::Number(2.0),
            state: 1.0,
        });
        for cut in 0..good.len() {
            assert_eq!(decode(&good[..cut]), None, "cut at {cut}");
        }
        let mut extra = to_vec(PropRef {
            value: ValueRef::Null,
            state: 1.0,
        });
        extra.push(0);
        assert_eq!(decode(&extra), None, "bytes after null");
        let mut tag = good.clone();
        tag[8] = 9;
        assert_eq!(decode(&tag), None, "unknown tag");
        let mut nan = good;
        nan[9..].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(decode(&nan), None, "not a finite number");
        let mut bad_utf8 = vec![0; 8];
        bad_utf8.extend_from_slice(&[STRING, 0xFF]);
        assert_eq!(decode(&bad_utf8), None);
    }
}
