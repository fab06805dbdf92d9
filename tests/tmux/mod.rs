//! A real pseudo-terminal for end-to-end tests: one tmux session running one shell command,
//! read with `capture-pane` and typed into with `send-keys`, as people at the keyboard would.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a screen may take to appear: the suite runs tests in parallel on two cores.
const PATIENCE: Duration = Duration::from_secs(60);

pub struct Tmux {
    session: String,
}

impl Tmux {
    /// Runs `command` in `dir` in a `width`x`height` pane. When it ends the pane prints
    /// `EXIT=<code>` and stays 30 s, so a test can read the last screen.
    pub fn start(name: &str, dir: &Path, width: u16, height: u16, command: &str) -> Tmux {
        let session = format!("byok-{name}-{}", std::process::id());
        let (w, h) = (width.to_string(), height.to_string());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", &w, "-y", &h])
            .arg(format!(
                "cd '{}' && {command}; echo EXIT=$?; sleep 30",
                dir.display()
            ))
            .status()
            .expect("tmux runs (package tmux)")
            .success();
        assert!(ok, "tmux could not start");
        Tmux { session }
    }

    fn capture(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .args(args)
            .output()
            .expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pid of the pane's process (the command itself when it was started with `exec`).
    pub fn pane_pid(&self) -> String {
        let out = Command::new("tmux")
            .args(["list-panes", "-t", &self.session, "-F", "#{pane_pid}"])
            .output()
            .expect("list-panes");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// What is on the screen now.
    pub fn screen(&self) -> String {
        self.capture(&[])
    }

    /// Everything the pane holds: the screen and all its scrollback.
    pub fn scrollback(&self) -> String {
        self.capture(&["-S", "-3000"])
    }

    /// Waits until `ready` holds for the screen, and returns that screen.
    pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{what} never appeared; the screen is:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Waits until every one of `texts` is on the same screen.
    pub fn wait_for_all(&self, texts: &[&str]) -> String {
        self.wait_until(&format!("{texts:?}"), |s| {
            texts.iter().all(|t| s.contains(t))
        })
    }

    /// Presses keys (tmux key names: "Enter", "Down", "q"), a short pause after each.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .expect("send-keys");
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Resizes the pane's window (the program gets SIGWINCH and redraws).
    pub fn resize(&self, width: u16, height: u16) {
        let ok = Command::new("tmux")
            .args(["resize-window", "-t", &self.session])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .status()
            .expect("resize-window")
            .success();
        assert!(ok, "tmux could not resize the window");
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .expect("send-keys");
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}
