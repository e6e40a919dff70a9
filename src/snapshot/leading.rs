//! Reading the first fields of a JSON object and stopping there.
//!
//! serde_json reads a whole value before handing it over. Where the fields
//! wanted come first (an object's `apiVersion`, `kind` and `metadata`; a List
//! page's `metadata`), the rest is most of the text, and a later full parse
//! reads it anyway.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

/// What reads the leading fields of an object.
pub trait Leading<'de> {
    /// Read the value of `key` from `map`, or skip it (every value must be
    /// read one way or the other). True once everything wanted is read.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// Hand `text`'s fields, in order, to `reader` until it has what it wants.
/// An error in what was read is returned. The rest is not read: serde_json
/// reports it as an error then, which is set aside here.
pub fn read<'de, L: Leading<'de>>(text: &'de [u8], reader: &mut L) -> serde_json::Result<()> {
    let mut done = false;
    let seed = Seed {
        reader,
        done: &mut done,
    };
    let read = seed.deserialize(&mut serde_json::Deserializer::from_slice(text));
    if done { Ok(()) } else { read }
}

struct Seed<'r, L> {
    reader: &'r mut L,
    done: &'r mut bool,
}

impl<'de, L: Leading<'de>> DeserializeSeed<'de> for Seed<'_, L> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, L: Leading<'de>> Visitor<'de> for Seed<'_, L> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if self.reader.field(&key, &mut map)? {
                *self.done = true;
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes the first field named `a`.
    #[derive(Default)]
    struct FirstA(Option<i64>);

    impl<'de> Leading<'de> for FirstA {
        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
            if key == "a" {
                self.0 = Some(map.next_value()?);
                return Ok(true);
            }
            map.next_value::<serde::de::IgnoredAny>()?;
            Ok(false)
        }
    }

    #[test]
    fn reading_stops_once_the_reader_is_done() {
        let mut first = FirstA::default();
        read(br#"{"b":[1,{"c":2}],"a":3,"rest":[unread"#, &mut first).unwrap();
        assert_eq!(first.0, Some(3));
        // Without the field, the whole object is read, and must be valid.
        let mut none = FirstA::default();
        read(br#"{"b":1}"#, &mut none).unwrap();
        assert_eq!(none.0, None);
        assert!(read(br#"{"b":[1,}"#, &mut FirstA::default()).is_err());
        assert!(read(br#"{"a":"x"}"#, &mut FirstA::default()).is_err());
        assert!(read(b"[1]", &mut FirstA::default()).is_err());
    }
}
