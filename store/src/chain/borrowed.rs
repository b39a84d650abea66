//! The canonical bytes of an event straight from its stored JSON text, for verification,
//! which hashes every event in the store. Parsing into a `serde_json::Value` allocated every
//! key and string, and the allocator was a third of a verification's client time; here a
//! string with no escape stays a slice of the text.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::{write_number, write_object, write_string};

/// A JSON value that borrows its strings from the text where it can.
enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Text<'a>),
    Array(Vec<Json<'a>>),
    /// Members in the text's order, duplicates included.
    Object(Vec<(Text<'a>, Json<'a>)>),
}

/// A string, borrowed when the text held it without escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(JsonVisitor)
            .and_then(|json| match json {
                Json::String(text) => Ok(text),
                _ => Err(serde::de::Error::custom("expected a string")),
            })
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // As `Value` takes it: JSON text holds no infinity or NaN.
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Text(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Text(Cow::Owned(v.to_string()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Text(Cow::Owned(v))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// What [`super::canonical`] gives for the values these texts parse to; an error when one
/// is not JSON.
pub fn canonical_text(
    aggregate_id: &str,
    sequence: u64,
    event_type: &str,
    event_version: &str,
    payload: &str,
    metadata: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    let payload: Json = serde_json::from_str(payload)?;
    let metadata: Json = serde_json::from_str(metadata)?;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"aggregate_id\":");
    write_string(&mut out, aggregate_id);
    out.extend_from_slice(b",\"event_type\":");
    write_string(&mut out, event_type);
    out.extend_from_slice(b",\"event_version\":");
    write_string(&mut out, event_version);
    out.extend_from_slice(b",\"metadata\":");
    write(&mut out, &metadata);
    out.extend_from_slice(b",\"payload\":");
    write(&mut out, &payload);
    out.extend_from_slice(b",\"sequence\":");
    write_number(&mut out, &Number::from(sequence));
    out.push(b'}');
    Ok(out)
}

fn write(out: &mut Vec<u8>, value: &Json) {
    match value {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(true) => out.extend_from_slice(b"true"),
        Json::Bool(false) => out.extend_from_slice(b"false"),
        Json::Number(n) => write_number(out, n),
        Json::String(s) => write_text(out, s),
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Json::Object(members) => write_object(
            out,
            members.iter(),
            |(key, _)| key.0.as_ref(),
            |out, (key, item)| {
                write_text(out, key);
                out.push(b':');
                write(out, item);
            },
        ),
    }
}

/// A string the text held without escapes has no character JCS escapes (a quote, a
/// backslash or a control character would have needed one), so it is copied as it is.
fn write_text(out: &mut Vec<u8>, text: &Text) {
    match &text.0 {
        Cow::Borrowed(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(s) => write_string(out, s),
    }
}
