//! Finding the tables under a path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dmesh_connector_api::{Error, Result};

use crate::FileFormat;

/// A table found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableSource {
    /// The SQL name.
    pub name: String,
    /// The file, or the folder of files.
    pub path: PathBuf,
    /// The format of its files.
    pub format: FileFormat,
    /// Whether `path` is a folder.
    pub is_dir: bool,
}

/// The tables under `root`: the file itself, or each file and each folder of
/// like files directly inside it.
pub(crate) fn discover(root: &Path, format: Option<FileFormat>) -> Result<Vec<TableSource>> {
    let meta = std::fs::metadata(root).map_err(|e| io_error(root, &e))?;
    let mut found: BTreeMap<String, TableSource> = BTreeMap::new();
    if meta.is_file() {
        let format = format.or_else(|| format_of(root)).ok_or_else(|| {
            Error::invalid_argument(format!(
                "cannot tell the format of `{}` from its extension; set `format` to parquet, csv, json or avro",
                root.display()
            ))
            .with_reason("UNKNOWN_FORMAT")
        })?;
        insert(&mut found, root, format, false)?;
    } else {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|e| io_error(root, &e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !is_hidden(p))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() {
                if let Some(f) = folder_format(&entry, format)? {
                    insert(&mut found, &entry, f, true)?;
                }
            } else if let Some(f) = format_of(&entry).or(format) {
                insert(&mut found, &entry, f, false)?;
            }
        }
    }
    Ok(found.into_values().collect())
}

fn insert(found: &mut BTreeMap<String, TableSource>, path: &Path, format: FileFormat, is_dir: bool) -> Result<()> {
    let stem = if is_dir {
        path.file_name()
    } else {
        path.file_stem()
    };
    let name = table_name(&stem.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    if let Some(prev) = found.get(&name) {
        return Err(Error::invalid_argument(format!(
            "`{}` and `{}` would both be table `{name}`; rename one or serve them from different connectors",
            prev.path.display(),
            path.display()
        ))
        .with_reason("TABLE_NAME_CLASH"));
    }
    found.insert(
        name.clone(),
        TableSource {
            name,
            path: path.to_owned(),
            format,
            is_dir,
        },
    );
    Ok(())
}

/// The one format of the data files in a folder (searched recursively, so
/// Hive-style `key=value` partitions work), or `None` when it holds none.
fn folder_format(dir: &Path, forced: Option<FileFormat>) -> Result<Option<FileFormat>> {
    let mut formats = Vec::new();
    collect_formats(dir, &mut formats, 0)?;
    formats.sort_by_key(|f| f.as_str());
    formats.dedup();
    match (forced, formats.as_slice()) {
        (_, []) => Ok(None),
        (_, [one]) => Ok(Some(*one)),
        (Some(f), many) if many.contains(&f) => Ok(Some(f)),
        (_, many) => Err(Error::invalid_argument(format!(
            "folder `{}` mixes formats ({}); a folder table must hold files of one format",
            dir.display(),
            many.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
        ))
        .with_reason("MIXED_FORMATS")),
    }
}

fn collect_formats(dir: &Path, out: &mut Vec<FileFormat>, depth: usize) -> Result<()> {
    if depth > 8 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, &e))? {
        let path = entry.map_err(|e| io_error(dir, &e))?.path();
        if is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            collect_formats(&path, out, depth + 1)?;
        } else if let Some(f) = format_of(&path) {
            out.push(f);
        }
    }
    Ok(())
}

fn format_of(path: &Path) -> Option<FileFormat> {
    path.extension().and_then(|e| e.to_str()).and_then(FileFormat::from_extension)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

/// A file or folder name made into a SQL identifier that needs no quoting.
pub(crate) fn table_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "t_");
    }
    name
}

pub(crate) fn io_error(path: &Path, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(format!(
            "path `{}` does not exist on the gateway's host (relative paths are resolved from the gateway's working directory)",
            path.display()
        ))
        .with_reason("PATH_NOT_FOUND"),
        std::io::ErrorKind::PermissionDenied => Error::permission_denied(format!(
            "the gateway may not read `{}`: permission denied",
            path.display()
        ))
        .with_reason("PATH_NOT_READABLE"),
        _ => Error::unavailable(format!("cannot read `{}`: {e}", path.display())).with_reason("PATH_NOT_READABLE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_plain_identifiers() {
        assert_eq!(table_name("Order Items"), "order_items");
        assert_eq!(table_name("2024-sales"), "t_2024_sales");
        assert_eq!(table_name(""), "t_");
    }

    #[test]
    fn files_and_folders_become_tables() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.csv"), "x\n1\n").expect("write");
        std::fs::write(dir.path().join("B.jsonl"), "{\"x\":1}\n").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        std::fs::write(dir.path().join(".hidden.csv"), "x\n").expect("write");
        std::fs::create_dir(dir.path().join("parts")).expect("mkdir");
        std::fs::write(dir.path().join("parts/1.csv"), "x\n1\n").expect("write");
        std::fs::write(dir.path().join("parts/2.csv"), "x\n2\n").expect("write");
        std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
        let tables = discover(dir.path(), None).expect("discovers");
        let names: Vec<_> = tables.iter().map(|t| (t.name.as_str(), t.format, t.is_dir)).collect();
        assert_eq!(
            names,
            vec![
                ("a", FileFormat::Csv, false),
                ("b", FileFormat::Json, false),
                ("parts", FileFormat::Csv, true)
            ]
        );
    }

    #[test]
    fn clashes_mixed_folders_and_missing_paths_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("t.csv"), "x\n").expect("write");
        std::fs::write(dir.path().join("t.json"), "{}\n").expect("write");
        let e = discover(dir.path(), None).expect_err("clash");
        assert!(e.message().contains("would both be table `t`"), "{e}");

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("m")).expect("mkdir");
        std::fs::write(dir.path().join("m/1.csv"), "x\n").expect("write");
        std::fs::write(dir.path().join("m/2.json"), "{}\n").expect("write");
        let e = discover(dir.path(), None).expect_err("mixed");
        assert!(e.message().contains("mixes formats"), "{e}");

        let e = discover(&dir.path().join("nope"), None).expect_err("missing");
        assert_eq!(e.reason(), "PATH_NOT_FOUND");
    }
}
