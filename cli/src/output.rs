//! Files in and out. Output files are written whole or not at all: to a temporary name
//! beside the target (`.NAME.tmp.PID`), flushed, then renamed over it (a rename within a
//! directory is atomic on POSIX). Temporary files left by a killed simctl are removed on the
//! next write into the same directory. Input files are read up to a stated size.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Largest scenario file read (64 MiB; the bundled ones are a few KiB). A bound, so that
/// `simctl run /dev/zero` or a mistaken path to a huge file fails at once.
pub const MAX_SCENARIO_BYTES: u64 = 64 << 20;
/// Largest saved result `simctl chart` reads (1 GiB: a run's series is bounded by
/// validation to 50 M values).
pub const MAX_RESULTS_BYTES: u64 = 1 << 30;

/// The text of `path`, refusing more than `limit` bytes or text that is not UTF-8.
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "larger than the {} MiB limit for this input (is it the right file?)",
            limit >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::other(format!("not UTF-8 text ({e})")))
}

/// Makes sure `dir` can receive output before any work starts: it is created if missing,
/// and must be a writable directory.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    let fail = |why: String| -> anyhow::Error {
        crate::InputError::msg(format!("simctl: --out {}: {why}", dir.display())).into()
    };
    if dir.exists() && !dir.is_dir() {
        return Err(fail("exists and is not a directory".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create it ({e})")))?;
    let probe = dir.join(format!(".simctl-probe.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail(format!("cannot write there ({e})")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Whether process `pid` is running. Only Linux is asked (through /proc); elsewhere every
/// process counts as alive, so nothing of another's is ever removed.
pub fn pid_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes `.NAME.tmp.PID` files in `dir` whose process is gone (a killed simctl).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = name.starts_with('.')
            && name
                .rsplit_once(".tmp.")
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| pid != std::process::id() && !pid_alive(pid));
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Each chart as NAME.png and NAME.svg in `dir`.
pub fn write_charts(dir: &Path, charts: &[reports::Chart]) -> Result<()> {
    for c in charts {
        write_atomic(&dir.join(format!("{}.png", c.name)), &c.png)?;
        write_atomic(&dir.join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
    }
    Ok(())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// As [`write_atomic`], with the bytes written by `write` through a buffer as they are made
/// (a long run's summary.json is never held whole in memory).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
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
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))?;
    remove_stale_temporaries(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("simctl-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_write_removes_temporaries_of_dead_processes_only() {
        let dir = scratch("stale");
        // PIDs above the kernel's maximum (4194304) are never alive.
        let dead = dir.join(".runs.csv.tmp.4999999");
        let ours = dir.join(format!(".other.tmp.{}", std::process::id()));
        let parent = dir.join(format!(".x.tmp.{}", std::os::unix::process::parent_id()));
        for f in [&dead, &ours, &parent] {
            std::fs::write(f, b"partial").unwrap();
        }
        write_atomic(&dir.join("a.json"), b"{}").unwrap();
        assert_eq!(std::fs::read(dir.join("a.json")).unwrap(), b"{}");
        assert!(!dead.exists(), "a dead process's temporary is removed");
        assert!(
            ours.exists() && parent.exists(),
            "live processes' files are kept"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn inputs_past_the_limit_are_refused() {
        let dir = scratch("limit");
        let f = dir.join("big.ron");
        std::fs::write(&f, vec![b'x'; 2 << 20]).unwrap();
        assert_eq!(read_limited(&f, 2 << 20).unwrap().len(), 2 << 20);
        let err = read_limited(&f, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("1 MiB limit"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
