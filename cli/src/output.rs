//! Output files are written whole or not at all: to a temporary name beside the target,
//! flushed, then renamed over it (a rename within a directory is atomic on POSIX).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Each chart as NAME.png and NAME.svg in `dir`.
pub fn write_charts(dir: &Path, charts: &[reports::Chart]) -> Result<()> {
    for c in charts {
        write_atomic(&dir.join(format!("{}.png", c.name)), &c.png)?;
        write_atomic(&dir.join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
    }
    Ok(())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
