//! File access for genesis and key files. Every error names the path.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::ValidationError;

/// Reading or writing a genesis or key file failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: the file is over the limit of {max} bytes", path.display())]
    TooLarge { path: PathBuf, max: usize },
    #[error("{}: {}", path.display(), describe_json_error(source))]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        source: ValidationError,
    },
    #[error("{}: {reason}", path.display())]
    BadKeyFile { path: PathBuf, reason: String },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    AlreadyExists { path: PathBuf },
}

impl FileError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Says whether the text was not JSON at all or JSON of the wrong shape.
fn describe_json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {e}")
        }
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            format!("unexpected content: {e}")
        }
    }
}

/// Reads a UTF-8 file of at most `max` bytes without ever holding more.
pub(crate) fn read_to_string_limited(path: &Path, max: usize) -> Result<String, FileError> {
    let file = fs::File::open(path).map_err(|e| FileError::io(path, e))?;
    let meta = file.metadata().map_err(|e| FileError::io(path, e))?;
    if meta.is_dir() {
        return Err(FileError::io(
            path,
            io::Error::new(io::ErrorKind::IsADirectory, "is a directory, not a file"),
        ));
    }
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io(path, e))?;
    if bytes.len() > max {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    String::from_utf8(bytes).map_err(|_| {
        FileError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"),
        )
    })
}

/// Whether a file may be written to `path`: it must not exist unless
/// `overwrite` is set.
pub(crate) fn check_writable(path: &Path, overwrite: bool) -> Result<(), FileError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(FileError::io(
            path,
            io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory; it cannot be replaced by a file",
            ),
        )),
        Ok(_) if !overwrite => Err(FileError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FileError::io(path, e)),
    }
}

/// Writes `contents` to a new file at `path`, replacing an existing file
/// only if `overwrite` is set. A replaced file is removed first, so the new
/// file never inherits the old one's permissions. On unix a `secret` file is
/// created with mode 0600.
pub(crate) fn write_new_file(
    path: &Path,
    contents: &[u8],
    overwrite: bool,
    secret: bool,
) -> Result<(), FileError> {
    check_writable(path, overwrite)?;
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(FileError::io(path, e)),
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| FileError::io(path, e))?;
    file.write_all(contents)
        .map_err(|e| FileError::io(path, e))?;
    file.sync_all().map_err(|e| FileError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_names_the_path_and_enforces_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let msg = read_to_string_limited(&missing, 10)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing.json"), "{msg}");

        let big = dir.path().join("big.json");
        fs::write(&big, "x".repeat(11)).unwrap();
        assert!(matches!(
            read_to_string_limited(&big, 10),
            Err(FileError::TooLarge { max: 10, .. })
        ));
        assert_eq!(read_to_string_limited(&big, 11).unwrap().len(), 11);

        let msg = read_to_string_limited(dir.path(), 10)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("is a directory"), "{msg}");

        let binary = dir.path().join("bin.json");
        fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert!(
            read_to_string_limited(&binary, 10)
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
    }

    #[test]
    fn writing_refuses_to_replace_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_new_file(&path, b"one", false, false).unwrap();
        let err = write_new_file(&path, b"two", false, false).unwrap_err();
        assert!(matches!(err, FileError::AlreadyExists { .. }));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_new_file(&path, b"two", true, false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(
            write_new_file(dir.path(), b"x", true, false)
                .unwrap_err()
                .to_string()
                .contains("is a directory")
        );
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_private_even_when_replacing_a_public_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_new_file(&path, b"secret", true, true).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
