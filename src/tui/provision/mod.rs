//! The guided terminal flow for provisioning a token: the script and its hash, attendance,
//! a typed confirmation before the token is changed, progress while the HSM works, then each
//! custodian's share handed out to that custodian alone, and a summary.
//!
//! A re-split (`--resplit RECORD`) is the same flow over the re-split core
//! ([`crate::quorum::resplit::resplit_with`]), with one more screen before the confirmation:
//! the old quorum presents its shares, typed masked one custodian at a time or from share
//! files ([`old_quorum`], [`resplit_people`], [`resplit_screens`]).
//!
//! The provisioning itself is the same core as the headless command
//! ([`crate::quorum::provision::provision_with`]), running on a worker thread behind
//! [`people::GuidedPeople`], the UI's side of the core's `ProvisionPeople` seam; it writes the
//! same share files and the same audit events. As for the ceremony, state and keys
//! ([`app`], [`handout`]), drawing ([`screens`], [`handout_screen`]) and the loop
//! ([`terminal`]) live apart.
//!
//! A share is on screen only while its custodian shows it; it lives in zeroizing strings that
//! the screen borrows, and the terminal (screen and scrollback) is cleared as soon as it is
//! hidden. The terminal's own buffers are outside our reach: provision on the air-gapped
//! machine only.
pub mod app;
pub mod handout;
pub mod handout_screen;
pub mod old_quorum;
pub mod people;
pub mod resplit_people;
pub mod resplit_screens;
pub mod screens;
pub mod terminal;

pub use terminal::{Ending, run, run_resplit};
