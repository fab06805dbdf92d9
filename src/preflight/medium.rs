//! The medium the tool runs from: a ceremony boots and runs it from read-only media, so that
//! nothing on the station can change the tool between ceremonies. A writable one is a warning,
//! not a failure (rehearsals and tests run from a build directory).
use std::path::Path;

use crate::ceremony::machine::Check;

pub const NAME: &str = "read-only medium";

pub fn check() -> Check {
    match std::env::current_exe() {
        Ok(exe) => judge(&exe),
        Err(e) => super::check(
            NAME,
            false,
            format!("the tool cannot find its own file ({e}): run it from its medium by its path"),
        ),
    }
}

fn judge(exe: &Path) -> Check {
    match rustix::fs::statvfs(exe) {
        Ok(vfs) if vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) => super::check(
            NAME,
            true,
            format!("{} is on a read-only filesystem", exe.display()),
        ),
        Ok(_) => super::check(
            NAME,
            true,
            format!(
                "warning: {} is on a writable filesystem: for a ceremony, boot and run the tool from read-only media",
                exe.display()
            ),
        ),
        Err(e) => super::check(
            NAME,
            false,
            format!(
                "cannot tell whether {} is on a read-only filesystem (statvfs: {e}): run the tool from a mounted medium",
                exe.display()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_build_directory_is_a_warning_and_a_missing_file_fails() {
        // The test binary lives in the build directory, which cargo has just written to.
        let exe = std::env::current_exe().expect("exe");
        let c = judge(&exe);
        assert!(c.is_warning(), "{}", c.detail);
        let missing = judge(Path::new("/nonexistent/byok-ceremony"));
        assert!(!missing.passed, "{}", missing.detail);
    }
}
