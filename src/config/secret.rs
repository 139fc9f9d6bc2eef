//! Secrets: a value kept out of logs (`Secret`), and the session key generated once and kept in
//! the data directory when none is set.

use std::path::Path;

use anyhow::Context;

/// A value that must not be printed: `Debug` shows only that it is there.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Without OFFSTAGE_SECRET_KEY, a random key is generated once and kept in the data directory,
/// so sessions survive restarts; several processes on one machine then share it.
pub(super) fn persisted_secret_key(data_dir: &Path) -> anyhow::Result<Secret> {
    let path = data_dir.join("secret_key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 32 {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("OFFSTAGE_DATA_DIR: cannot create {}", data_dir.display()))?;
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    write_private(&path, &key).with_context(|| format!("OFFSTAGE_SECRET_KEY: cannot write {}", path.display()))?;
    tracing::warn!(
        "OFFSTAGE_SECRET_KEY is not set: generated one and saved it in {}; set it explicitly in production",
        path.display()
    );
    Ok(Secret::new(key))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}
