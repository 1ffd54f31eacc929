//! The canonical JSON serialization that every hash and signature of the audit log is
//! computed over.
//!
//! Hashing a JSON value needs one byte string per value, independent of how the value was
//! built or which features of `serde_json` are compiled in (`preserve_order` keeps insertion
//! order, and another crate of the workspace may switch it on). The rules:
//!
//! - `null`, `true`, `false` as themselves;
//! - numbers exactly as `serde_json` prints them (integers in decimal; floating-point
//!   numbers in their shortest round-trip form, always with a `.` or an exponent);
//! - strings as `serde_json` prints them: UTF-8, with `"` and `\` escaped, control
//!   characters as `\b \f \n \r \t` or `\u00xx` (lower-case hex), everything else literal;
//! - arrays as `[` elements separated by `,` `]`;
//! - objects as `{` `"key":value` pairs separated by `,` `}`, keys sorted by the bytes of
//!   their UTF-8 encoding;
//! - no whitespace anywhere.
//!
//! Every export line is written in this form, and the verifier insists on it, so a line
//! cannot be altered in a way that parses to the same value (re-escaped strings, upper-case
//! hex, reordered keys, duplicate keys) without being noticed.

use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON value already written in canonical form, to be embedded in an entry's body as
/// it is ([`crate::AuditEntry::with_canonical_member`]) rather than written out again
/// from a `Value` by whoever seals the entry. It is made only by writing a `Value`
/// ([`CanonicalJson::of`]), or by serializing a type declared in canonical order
/// ([`CanonicalJson::of_sorted`], checked against its `Value` in debug builds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalJson(String);

impl CanonicalJson {
    /// `value` written in canonical form.
    pub fn of(value: &Value) -> CanonicalJson {
        CanonicalJson(to_canonical_string(value))
    }

    /// `data` written by serde_json as it is, for a type whose serialization is already
    /// canonical: every object's members in the byte order of their keys (struct fields
    /// declared in that order, no maps kept in another), as the contract's volumes are.
    /// That skips building a `Value` only to write it out again. Debug builds (the tests)
    /// check the text against [`CanonicalJson::of`] the `Value`.
    pub fn of_sorted<T: serde::Serialize + ?Sized>(data: &T) -> serde_json::Result<CanonicalJson> {
        let text = serde_json::to_string(data)?;
        debug_assert_canonical(&text, data);
        Ok(CanonicalJson(text))
    }

    /// [`CanonicalJson::of_sorted`], with the text also as a [`RawValue`] for whoever
    /// keeps it as a JSON document: written once, and not read again to check that it is
    /// JSON (serde_json wrote it).
    pub fn of_sorted_raw<T: serde::Serialize + ?Sized>(
        data: &T,
    ) -> serde_json::Result<(CanonicalJson, Box<RawValue>)> {
        let raw = serde_json::value::to_raw_value(data)?;
        debug_assert_canonical(raw.get(), data);
        Ok((CanonicalJson(raw.get().to_owned()), raw))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value again (canonical text always parses back to the value it was written
    /// from).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).expect("canonical JSON parses")
    }
}

/// In debug builds (the tests), that `text`, which serde_json wrote from `data`, is the
/// canonical form of `data`'s value: the check behind [`CanonicalJson::of_sorted`].
fn debug_assert_canonical<T: serde::Serialize + ?Sized>(text: &str, data: &T) {
    if cfg!(debug_assertions) {
        let value = serde_json::to_value(data).expect("data serde_json wrote is a value");
        assert_eq!(
            text,
            to_canonical_string(&value),
            "the serialization of {} is not canonical",
            std::any::type_name::<T>()
        );
    }
}

/// A member of an object being written: a value, or one already in canonical form.
#[derive(Clone, Copy)]
pub(crate) enum Member<'a> {
    Value(&'a Value),
    Canonical(&'a CanonicalJson),
}

/// Writes the object of `members` (keys distinct) in canonical form, each canonical member
/// copied as it is.
pub(crate) fn write_object_of_members(members: &mut [(&str, Member<'_>)], out: &mut Vec<u8>) {
    members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (index, (key, member)) in members.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        match member {
            Member::Value(value) => write_canonical(value, out),
            Member::Canonical(canonical) => out.extend_from_slice(canonical.0.as_bytes()),
        }
    }
    out.push(b'}');
}

/// The canonical bytes of `value` (see the module documentation for the rules).
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

/// The canonical form of `value` as a string (canonical bytes are always UTF-8).
pub fn to_canonical_string(value: &Value) -> String {
    let bytes = to_canonical_bytes(value);
    // Every piece written below is either ASCII punctuation or serde_json's own UTF-8
    // output, so the conversion cannot fail.
    String::from_utf8(bytes).expect("canonical JSON is UTF-8")
}

pub(crate) fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            serde_json::to_writer(&mut *out, number).expect("writing to a Vec cannot fail")
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Without `preserve_order`, serde_json's maps iterate in the byte order of their
            // keys already: then the members are written as they come, without collecting
            // and sorting them (a vector and a sort per object saved).
            let keys_in_order = map
                .keys()
                .zip(map.keys().skip(1))
                .all(|(key, next)| key.as_bytes() < next.as_bytes());
            if keys_in_order {
                write_members_in_order(map.iter().map(|(key, item)| (key.as_str(), item)), out);
            } else {
                let mut members: Vec<(&str, &Value)> =
                    map.iter().map(|(key, item)| (key.as_str(), item)).collect();
                write_canonical_object(&mut members, out);
            }
        }
    }
}

/// Writes, in canonical form, the object whose members are `members` (keys distinct),
/// without first assembling them into one `Value`: the audit log writes entries whose
/// bodies it only borrows.
pub(crate) fn write_canonical_object(members: &mut [(&str, &Value)], out: &mut Vec<u8>) {
    members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    write_members_in_order(members.iter().copied(), out);
}

/// Writes the object of `members`, whose keys are already in canonical order.
fn write_members_in_order<'v>(
    members: impl Iterator<Item = (&'v str, &'v Value)>,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (index, (key, item)) in members.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_canonical(item, out);
    }
    out.push(b'}');
}

pub(crate) fn write_string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(value: Value) -> String {
        to_canonical_string(&value)
    }

    /// A type written with its fields in key order, as the contract's volumes are.
    #[derive(serde::Serialize)]
    struct Sorted {
        altitude: f64,
        name: &'static str,
        vertices: Vec<[f64; 2]>,
    }

    #[test]
    fn sorted_data_is_written_once_as_the_same_canonical_text_and_raw_value() {
        let data = Sorted {
            altitude: 1230.5,
            name: "a \"quoted\" name",
            vertices: vec![[45.923513840749, 10.8566896], [-0.0, 1e-7]],
        };
        let (canonical, raw) = CanonicalJson::of_sorted_raw(&data).unwrap();
        assert_eq!(canonical, CanonicalJson::of_sorted(&data).unwrap());
        assert_eq!(raw.get(), canonical.as_str());
        assert_eq!(
            canonical.as_str(),
            to_canonical_string(&serde_json::to_value(&data).unwrap())
        );
    }

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_is_absent() {
        assert_eq!(
            canonical(json!({"b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "c": "d"}})),
            r#"{"a":{"c":"d","z":[1,2,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        assert_eq!(
            canonical(json!([0, -3, 1.0, 0.1, 1e300, u64::MAX, i64::MIN])),
            "[0,-3,1.0,0.1,1e+300,18446744073709551615,-9223372036854775808]"
        );
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters_only() {
        assert_eq!(
            canonical(json!("a\"b\\c\n\u{1}é✈")),
            "\"a\\\"b\\\\c\\n\\u0001é✈\""
        );
    }

    #[test]
    fn keys_sort_by_their_utf8_bytes() {
        assert_eq!(
            canonical(json!({"é": 1, "z": 2, "Z": 3})),
            r#"{"Z":3,"z":2,"é":1}"#
        );
    }

    #[test]
    fn parsing_a_canonical_string_and_writing_it_again_gives_the_same_bytes() {
        let text = r#"{"a":[1.5,-0.0,"x"],"b":{"c":null}}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(to_canonical_string(&value), text);
    }
}
