//! Reads the QR codes a screen shows, from its text (a rendered test buffer, or a tmux
//! capture): each half-block character is two modules, dark where the block is filled. Used to
//! prove that every QR drawn encodes the very value printed beside it.
#![allow(dead_code)]

/// Pixels per module in the picture handed to the decoder, and the light margin around it.
const SCALE: usize = 4;
const MARGIN: usize = 8;

/// The contents of every QR code in `lines` (the screen's rows), in no particular order.
pub fn decode_all(lines: &[String]) -> Vec<String> {
    let rows: Vec<Vec<char>> = lines.iter().map(|l| l.chars().collect()).collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    // Two module rows per text row.
    let mut modules = vec![vec![false; width]; rows.len() * 2];
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            let (top, bottom) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                _ => (false, false),
            };
            modules[2 * y][x] = top;
            modules[2 * y + 1][x] = bottom;
        }
    }
    let w = width * SCALE + 2 * MARGIN;
    let h = modules.len() * SCALE + 2 * MARGIN;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let inside = x >= MARGIN && y >= MARGIN && x < w - MARGIN && y < h - MARGIN;
        let dark = inside && modules[(y - MARGIN) / SCALE][(x - MARGIN) / SCALE];
        if dark { 0 } else { 255 }
    });
    image
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, content)| content))
        .collect()
}

/// The one QR code on the screen, lowercased (the tool encodes hex in uppercase, QR's compact
/// alphanumeric mode); panics, showing the screen, when there is not exactly one.
pub fn decode_one(lines: &[String]) -> String {
    let found = decode_all(lines);
    assert_eq!(
        found.len(),
        1,
        "expected one QR code on the screen, found {found:?}:\n{}",
        lines.join("\n")
    );
    found[0].to_lowercase()
}
