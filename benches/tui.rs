//! The guided UI's costs: the time to draw each screen at 120x40, and the CPU the UI uses
//! while it waits for people (goal: about 0%).
//!
//! Run: `cargo bench --bench tui` (scripts/bench-tui.sh). Needs SoftHSM2 and tmux (the idle
//! part runs the real binary in a 120x40 tmux pane on a provisioned token). Prints Markdown
//! tables for docs/benchmarks.md.
#![forbid(unsafe_code)]

#[path = "../tests/ceremony/mod.rs"]
mod ceremony;
#[path = "../tests/tmux/mod.rs"]
mod tmux;
#[path = "../tests/tui_fixtures/mod.rs"]
mod tui_fixtures;

use std::process::Command;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::{CrosstermBackend, TestBackend};

use byok_ceremony::tui::app::App;
use byok_ceremony::tui::screens;

const FRAMES: u32 = 2_000;

fn main() {
    render_per_screen();
    idle_cpu();
}

/// Per screen: a steady frame (widgets drawn, then diffed against the last frame, as when
/// the clock ticks) and a full repaint into a byte sink (the escape sequences a terminal
/// would receive after a resize or a clear).
fn render_per_screen() {
    println!(
        "| screen (120x40) | steady frame (µs, mean) | steady frame (µs, max) | full repaint (µs, mean) | full repaint (bytes) |"
    );
    println!("|---|---|---|---|---|");
    for (name, app, _) in tui_fixtures::screens() {
        let (mean, max) = steady(&app);
        let (full, bytes) = full_repaint(&app);
        println!("| {name} | {mean:.1} | {max:.1} | {full:.1} | {bytes} |");
    }
}

fn steady(app: &App) -> (f64, f64) {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    terminal
        .draw(|f| screens::draw(f, app))
        .expect("first frame");
    let mut total = Duration::ZERO;
    let mut max = Duration::ZERO;
    for _ in 0..FRAMES {
        let start = Instant::now();
        terminal.draw(|f| screens::draw(f, app)).expect("frame");
        let took = start.elapsed();
        total += took;
        max = max.max(took);
    }
    (micros(total) / f64::from(FRAMES), micros(max))
}

/// A byte sink that counts what a terminal would receive.
#[derive(Clone, Default)]
struct Counted(std::rc::Rc<std::cell::Cell<usize>>);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn full_repaint(app: &App) -> (f64, usize) {
    let mut bytes = 0;
    let mut total = Duration::ZERO;
    for _ in 0..FRAMES / 10 {
        let sink = Counted::default();
        let backend = CrosstermBackend::new(sink.clone());
        let mut terminal = Terminal::with_options(
            backend,
            ratatui::TerminalOptions {
                viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 120, 40)),
            },
        )
        .expect("terminal");
        let start = Instant::now();
        terminal.draw(|f| screens::draw(f, app)).expect("frame");
        total += start.elapsed();
        bytes = sink.0.get();
    }
    (micros(total) / f64::from(FRAMES / 10), bytes)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// CPU used by the real binary over 10 s while it waits: on the script screen (only the
/// clock ticks) and at attendance (the runner's thread waits for the people too).
fn idle_cpu() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux not found; idle CPU skipped");
        return;
    }
    let room = ceremony::Room::new("bench idle");
    let command = format!(
        "SOFTHSM2_CONF='{}' exec '{}' run ceremony.toml --state-dir state",
        room.conf.display(),
        env!("CARGO_BIN_EXE_byok-ceremony")
    );
    let ui = tmux::Tmux::start("bench-idle", room.dir.path(), 120, 40, &command);
    let pid = ui.pane_pid();
    println!();
    println!("| UI waiting on | CPU over 10 s (%) | wakeups |");
    println!("|---|---|---|");
    ui.wait_for("Enter: open the ceremony");
    println!("| script screen (clock ticking) | {} |", cpu_over_10s(&pid));
    ui.keys(&["Enter"]);
    ui.wait_for("Enter: continue to attendance");
    ui.keys(&["Enter"]);
    ui.wait_for("Enter: check in");
    println!(
        "| attendance (runner waiting for people) | {} |",
        cpu_over_10s(&pid)
    );
}

/// The process's user+system CPU time and its context switches over 10 s, from /proc.
fn cpu_over_10s(pid: &str) -> String {
    let read = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let switches: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        (ticks, switches)
    };
    let (t0, s0) = read();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let (t1, s1) = read();
    let secs = start.elapsed().as_secs_f64();
    // CLK_TCK is 100 on Linux.
    let cpu = (t1 - t0) as f64 / 100.0 / secs * 100.0;
    format!("{cpu:.2} | {} (main thread)", s1 - s0)
}
