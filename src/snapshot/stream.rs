//! JSON object files read as a stream. A List's items are typed one by one as
//! they are read, so a snapshot file is never held whole in memory, and each
//! item's text only until it is typed.
//!
//! An item needs its own `apiVersion` and `kind` (as `kubectl get -o json` and
//! `snapshot save` write them), so it can be typed before the List's `kind` is
//! read: serializers that sort keys put `items` before `kind`.

use std::fmt;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Result, anyhow, bail};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::objects::{Doc, ObjectSink};

/// Items read ahead of the typing thread, at most: a bound on the memory of
/// text read but not yet typed.
const READ_AHEAD: usize = 256;

/// What the reading thread hands the typing one, in the file's order.
enum Read {
    /// The items that follow are of a List of this kind (or `List`).
    Items(String),
    Item(Box<RawValue>),
    /// The document was a List: its `apiVersion` and `kind`.
    Listed(Option<String>, String),
    /// The document was one object, rebuilt from its fields.
    Object(String),
}

/// Read one JSON document (an object or a List) from `read` into `sink`. One
/// thread reads the text, another types what it read, so the two halves of
/// loading a big List overlap.
pub fn read_json<'de, R: serde_json::de::Read<'de>>(
    read: R,
    sink: &mut ObjectSink<'_>,
) -> Result<()> {
    let (send, receive) = sync_channel(READ_AHEAD);
    std::thread::scope(|scope| {
        let typing = scope.spawn(move || type_all(receive, sink));
        let read = read_document(read, send);
        match typing.join() {
            // The typing thread's error is why the reading stopped, if it did.
            Ok(typed) => typed.and(read),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The typing thread: each object into the view, with an error naming it.
fn type_all(receive: Receiver<Read>, sink: &mut ObjectSink<'_>) -> Result<()> {
    let (mut list_kind, mut n) = (String::new(), 0);
    for read in receive {
        match read {
            Read::Items(kind) => (list_kind, n) = (kind, 0),
            Read::Item(item) => {
                n += 1;
                sink.add_list_item(n, &list_kind, Doc::Raw(item.get()))?;
            }
            Read::Listed(api_version, kind) => sink.note_list(api_version.as_deref(), &kind),
            Read::Object(text) => sink.add(Doc::Raw(&text))?,
        }
    }
    Ok(())
}

/// The reading thread: the document's text, item by item, to `send`.
fn read_document<'de, R: serde_json::de::Read<'de>>(read: R, send: SyncSender<Read>) -> Result<()> {
    let mut de = serde_json::Deserializer::new(read);
    let mut failure = None;
    let read = Document {
        send,
        failure: &mut failure,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    // A failure of our own (not a Kubernetes object) was stashed; serde_json's
    // error then only says where the reading stopped.
    if let Some(e) = failure {
        return Err(e);
    }
    read.map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "",
            _ => "invalid JSON: ",
        };
        anyhow!("line {}, column {}: {what}{e}", e.line(), e.column())
    })
}

/// Where the stream's visitors send what they read, and the first error that
/// is not serde_json's.
struct Document<'s> {
    send: SyncSender<Read>,
    failure: &'s mut Option<anyhow::Error>,
}

/// The typing thread stopped (on an error of its own, which it reports).
const TYPING_STOPPED: &str = "the objects read could not all be added";

impl Document<'_> {
    /// Stash `e` and stop the stream.
    fn fail<E: de::Error>(&mut self, e: anyhow::Error) -> E {
        *self.failure = Some(e);
        E::custom("stopped")
    }

    /// Hand a read on to the typing thread.
    fn hand_on(&mut self, read: Read) -> Result<()> {
        self.send.send(read).map_err(|_| anyhow!(TYPING_STOPPED))
    }
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object or List")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut kind: Option<String> = None;
        let mut items = false;
        while let Some(key) = map.next_key::<String>()? {
            let maybe_list = kind.as_deref().is_none_or(|k| k.ends_with("List"));
            if key == "items" && maybe_list && !items {
                let list_kind = kind.clone().unwrap_or_else(|| "List".into());
                if let Err(e) = self.hand_on(Read::Items(list_kind.clone())) {
                    return Err(self.fail(e));
                }
                items = map.next_value_seed(Items {
                    doc: &mut self,
                    list_kind,
                })?;
                continue;
            }
            let value: Box<RawValue> = map.next_value()?;
            if key == "kind" {
                kind = serde_json::from_str(value.get()).ok();
            }
            fields.push((key, value));
        }
        self.finish(&fields, kind, items).map_err(|e| self.fail(e))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, _: A) -> Result<(), A::Error> {
        Err(self.fail(anyhow!("{} a list", super::objects::NOT_AN_OBJECT)))
    }
}

impl Document<'_> {
    /// After the top-level mapping: the List's kind, or the one object it was,
    /// rebuilt from its fields.
    fn finish(
        &mut self,
        fields: &[(String, Box<RawValue>)],
        kind: Option<String>,
        items: bool,
    ) -> Result<()> {
        match kind {
            Some(k) if k.ends_with("List") => {
                if !items {
                    bail!("a {k} needs an `items` array");
                }
                let api_version = fields
                    .iter()
                    .find(|(key, _)| key == "apiVersion")
                    .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok());
                self.hand_on(Read::Listed(api_version, k))
            }
            Some(k) if items => bail!("`items` is read only in a List, not in a {k}"),
            None if items => {
                bail!("not a Kubernetes object: `apiVersion` and `kind` are required")
            }
            _ => self.hand_on(Read::Object(object_text(fields)?)),
        }
    }
}

/// The JSON text of an object from its fields, as they were read.
fn object_text(fields: &[(String, Box<RawValue>)]) -> Result<String> {
    let mut text = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(key)?);
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    Ok(text)
}

/// A List's `items`, each sent to be typed as it is read. Yields whether
/// there was an array (`null` is none).
struct Items<'d, 's> {
    doc: &'d mut Document<'s>,
    list_kind: String,
}

impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the `items` array of a {}", self.list_kind)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while let Some(item) = seq.next_element::<Box<RawValue>>()? {
            if let Err(e) = self.doc.hand_on(Read::Item(item)) {
                return Err(self.doc.fail(e));
            }
        }
        Ok(true)
    }
}
