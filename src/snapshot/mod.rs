//! Reads a snapshot (a directory in the layout of DESIGN.md, or one file) into a
//! ClusterView. Every error names the file, and the line or object, that broke.

mod objects;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

use crate::cluster::{ClusterView, LogKey};

pub use objects::{ObjectSink, parse_documents};

/// The observation files at the root of a snapshot directory.
pub const KAFKA_FILE: &str = "kafka.yaml";
pub const PROBES_FILE: &str = "probes.yaml";
pub const COVERAGE_FILE: &str = "coverage.yaml";
const LOGS_DIR: &str = "logs";

/// How much of a log file is kept: its tail, as `kubectl logs --tail` would give.
pub const MAX_LOG_BYTES: u64 = 256 * 1024;

/// Load a snapshot directory or a single object file.
pub fn load(path: &Path) -> Result<ClusterView> {
    let meta = fs::metadata(path).with_context(|| {
        format!(
            "cannot read snapshot {}: check the path passed to --snapshot",
            path.display()
        )
    })?;
    let mut view = ClusterView::default();
    let mut sink = ObjectSink::new(&mut view);
    if meta.is_file() {
        load_object_file(&mut sink, path)?;
    } else {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        for file in &files {
            let rel = file.strip_prefix(path).unwrap_or(file);
            let rel_str = rel.to_string_lossy();
            match rel_str.as_ref() {
                KAFKA_FILE => sink.view().kafka = Some(read_yaml_file(file)?),
                PROBES_FILE => sink.view().probes = read_yaml_file(file)?,
                COVERAGE_FILE => sink.view().coverage = read_yaml_file(file)?,
                _ if rel.starts_with(LOGS_DIR) => load_log(sink.view(), rel, file)?,
                _ if is_object_file(file) => load_object_file(&mut sink, file)?,
                _ => {}
            }
        }
    }
    view.finish();
    Ok(view)
}

fn is_object_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// All files below `dir`, sorted, skipping hidden ones.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot list snapshot directory {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list snapshot directory {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn load_object_file(sink: &mut ObjectSink<'_>, file: &Path) -> Result<()> {
    let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let json = file.extension().is_some_and(|e| e == "json");
    parse_documents(&bytes, json, &mut |doc| sink.add(doc))
        .with_context(|| format!("in snapshot file {}", file.display()))
}

/// `logs/NAMESPACE/POD/CONTAINER[.previous].log`
fn load_log(view: &mut ClusterView, rel: &Path, file: &Path) -> Result<()> {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let [_, namespace, pod, file_name] = parts.as_slice() else {
        bail!(
            "{}: log files must be at logs/NAMESPACE/POD/CONTAINER.log or CONTAINER.previous.log",
            file.display()
        );
    };
    let (container, previous) = match file_name.strip_suffix(".previous.log") {
        Some(c) => (c, true),
        None => match file_name.strip_suffix(".log") {
            Some(c) => (c, false),
            None => bail!(
                "{}: a log file name must end in .log or .previous.log",
                file.display()
            ),
        },
    };
    let text = read_tail(file, MAX_LOG_BYTES)?;
    view.logs.insert(
        LogKey {
            namespace: namespace.clone(),
            pod: pod.clone(),
            container: container.to_string(),
            previous,
        },
        text,
    );
    Ok(())
}

/// The last `max` bytes of a file, from the first whole line, decoded lossily
/// (logs are not always UTF-8).
pub fn read_tail(file: &Path, max: u64) -> Result<String> {
    let mut f = fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let len = f.metadata()?.len();
    let mut buf = Vec::new();
    if len > max {
        f.seek(SeekFrom::Start(len - max))?;
        f.read_to_end(&mut buf)?;
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            buf.drain(..=nl);
        }
    } else {
        f.read_to_end(&mut buf)?;
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Read one of the observation files, with the line of any error.
fn read_yaml_file<T: DeserializeOwned>(file: &Path) -> Result<T> {
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    crate::yaml::from_str(&text).with_context(|| format!("in {}", file.display()))
}
