//! The rehearsal's scratch room: a private temporary directory (mode 0700) that holds the
//! throwaway token's store, the custodians' share files and the log while a rehearsal runs.
//!
//! Nothing in it may outlive the rehearsal: it is removed when the rehearsal ends, on Ctrl-C
//! (SIGINT) and SIGTERM, and, when a run was killed outright (SIGKILL, a power cut), by the
//! next rehearsal, which finds the room whose owner process is gone and removes it.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, Once, PoisonError};

use signal_hook::consts::{SIGINT, SIGTERM};

/// Every rehearsal room starts with this.
pub const PREFIX: &str = "byok-rehearsal-";
/// The owner's process id, so that a later run can tell a stale room from a live one.
const OWNER_FILE: &str = "owner.pid";

/// The rooms of this process, for the signal thread to remove.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Set by the signal thread before it removes the rooms: the rehearsal's own thread, whose
/// files vanish under it, then waits for the signal thread to end the process instead of
/// ending it first with its own error.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The exit code (128 + the signal) once the rooms are gone; 0 before.
static REMOVED_EXIT: AtomicI32 = AtomicI32::new(0);

/// A rehearsal room; removed on drop.
#[derive(Debug)]
pub struct Room {
    dir: tempfile::TempDir,
}

/// What opening a room found and did.
#[derive(Debug)]
pub struct Opened {
    pub room: Room,
    /// Rooms of interrupted runs that were removed.
    pub removed_stale: Vec<PathBuf>,
}

impl Room {
    /// Removes stale rooms in the temporary directory, then makes a new private one and
    /// arranges for Ctrl-C and SIGTERM to remove it.
    pub fn open() -> std::io::Result<Opened> {
        let removed_stale = remove_stale(&std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()?;
        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
        watch_signals();
        LIVE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dir.path().to_owned());
        Ok(Opened {
            room: Room { dir },
            removed_stale,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        if INTERRUPTED.load(Ordering::SeqCst) {
            // The signal thread is removing the room: once it has, this thread ends the
            // process (exiting from the main thread, not while it still uses the token's
            // library from another).
            loop {
                let code = REMOVED_EXIT.load(Ordering::SeqCst);
                if code != 0 {
                    std::process::exit(code);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        LIVE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| p != self.dir.path());
    }
}

/// On the first room: a thread that, on SIGINT or SIGTERM, removes every live room and ends
/// the process with the shell's code for the signal (130, 143).
fn watch_signals() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                INTERRUPTED.store(true, Ordering::SeqCst);
                let rooms = std::mem::take(
                    &mut *LIVE.lock().unwrap_or_else(PoisonError::into_inner),
                );
                for room in &rooms {
                    // Renamed away first: the rehearsal's own thread is still running, and a
                    // file it writes after this fails instead of re-creating the room.
                    let mut gone = room.as_os_str().to_owned();
                    gone.push(".removing");
                    let gone = PathBuf::from(gone);
                    let target = if std::fs::rename(room, &gone).is_ok() {
                        &gone
                    } else {
                        room
                    };
                    for _ in 0..10 {
                        if std::fs::remove_dir_all(target).is_ok() || !target.exists() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
                crate::tell!(
                    "interrupted: the rehearsal stopped and its temporary directory (token store, share files, log) was removed"
                );
                REMOVED_EXIT.store(128 + signal, Ordering::SeqCst);
                // The rehearsal's thread ends the process when it next drops its room; if it
                // is stuck elsewhere, end it from here after a moment.
                std::thread::sleep(std::time::Duration::from_secs(5));
                std::process::exit(128 + signal);
            }
        });
    });
}

/// Removes the rooms in `tmp` whose owner process is gone; returns them.
pub fn remove_stale(tmp: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_room = entry.file_name().to_string_lossy().starts_with(PREFIX)
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && owned_by_us(&m));
        if is_room && !owner_alive(&path) && std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

fn owned_by_us(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|me| me.uid() == meta.uid())
}

/// True while the process that made the room runs (a room without its owner file is being
/// made right now, or is not ours to judge: kept).
fn owner_alive(room: &Path) -> bool {
    match std::fs::read_to_string(room.join(OWNER_FILE)) {
        Ok(pid) => match pid.trim().parse::<u32>() {
            Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            Err(_) => false,
        },
        Err(_) => {
            // Give a room being created a moment: only an old one without an owner is stale.
            std::fs::metadata(room)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age.as_secs() < 3600)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_of_a_dead_process_is_stale_and_a_live_one_is_kept() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let dead = child.id();
        child.wait().expect("wait");
        let stale = tmp.path().join(format!("{PREFIX}stale"));
        std::fs::create_dir(&stale).expect("dir");
        std::fs::write(stale.join(OWNER_FILE), dead.to_string()).expect("pid");
        std::fs::write(stale.join("alice.share.txt"), "secret").expect("share");
        let live = tmp.path().join(format!("{PREFIX}live"));
        std::fs::create_dir(&live).expect("dir");
        std::fs::write(live.join(OWNER_FILE), std::process::id().to_string()).expect("pid");
        let other = tmp.path().join("someone-else");
        std::fs::create_dir(&other).expect("dir");
        assert_eq!(remove_stale(tmp.path()), vec![stale.clone()]);
        assert!(!stale.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn a_room_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let opened = Room::open().expect("room");
        let mode = std::fs::metadata(opened.room.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
