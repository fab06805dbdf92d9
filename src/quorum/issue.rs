//! Issuing a split: split a PIN among a group's custodians, commit to every share, and check
//! that every set of M shares rebuilds the PIN before anything is handed out.
use super::commitment;
use super::events::{EventSink, QuorumEvent};
use super::pin::{PinSecret, text_len};
use super::record::{CustodianRecord, GroupRecord};
use super::script::CustodianGroup;
use super::share::{PinGroup, Share};
use super::split::{self, Split, SplitError, SplitPolicy};

/// Why a split could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("{0}")]
    Split(#[from] SplitError),
    #[error(
        "the operating system's random generator failed ({0}); do not run a ceremony on this machine"
    )]
    Random(getrandom::Error),
    #[error(
        "the shares {indices:?} did not rebuild the PIN ({source}); nothing was handed out: report this"
    )]
    Verify {
        indices: Vec<u8>,
        source: SplitError,
    },
}

/// A split ready to hand out: each custodian's share and the group's public record.
#[derive(Debug)]
pub struct IssuedSplit {
    pub split: Split,
    pub record: GroupRecord,
    /// (custodian, share) in the script's order; share i goes to custodian i.
    pub custodians: Vec<String>,
}

impl IssuedSplit {
    /// The share for `custodian`, if they are in this group.
    pub fn share_of(&self, custodian: &str) -> Option<&Share> {
        let i = self.custodians.iter().position(|c| c == custodian)?;
        self.split.shares.get(i)
    }
}

/// Splits `pin` among `group`, commits to the shares, and verifies every M-subset.
pub fn issue(
    pin: &PinSecret,
    which: PinGroup,
    group: &CustodianGroup,
    policy: SplitPolicy,
    events: &mut EventSink,
) -> Result<IssuedSplit, IssueError> {
    let split = split::split_pin(pin, which, group.threshold, group.custodians.len(), policy)?;
    let mut custodians = Vec::with_capacity(group.custodians.len());
    for (name, share) in group.custodians.iter().zip(&split.shares) {
        let c = commitment::commit(share).map_err(IssueError::Random)?;
        custodians.push(CustodianRecord::new(name, share, &c));
    }
    let subsets_checked = verify_all_subsets(&split, pin)?;
    events.push(QuorumEvent::SplitMade {
        group: which,
        split_id: split.split_id,
        threshold: split.threshold,
        shares: split.shares.len() as u8,
    });
    events.push(QuorumEvent::SplitVerified {
        group: which,
        split_id: split.split_id,
        subsets_checked,
    });
    Ok(IssuedSplit {
        record: GroupRecord {
            split_id: split.split_id,
            threshold: split.threshold,
            shares: split.shares.len() as u8,
            pin_length: text_len(pin.bytes().len()),
            custodians,
        },
        custodians: group.custodians.clone(),
        split,
    })
}

/// Combines every set of exactly M shares (at most C(16, 8) = 12870) and checks each gives
/// `pin`. Returns how many sets were checked.
pub fn verify_all_subsets(split: &Split, pin: &PinSecret) -> Result<u64, IssueError> {
    let n = split.shares.len();
    let m = usize::from(split.threshold);
    let mut checked = 0u64;
    for mask in 0u32..(1u32 << n) {
        if mask.count_ones() as usize != m {
            continue;
        }
        let subset: Vec<Share> = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .filter_map(|i| split.shares.get(i).cloned())
            .collect();
        let indices = || subset.iter().map(|s| s.index).collect::<Vec<u8>>();
        match split::combine_pin(&subset) {
            Ok(rebuilt) if rebuilt == *pin => checked += 1,
            Ok(_) => {
                return Err(IssueError::Verify {
                    indices: indices(),
                    source: SplitError::WrongPin,
                });
            }
            Err(source) => {
                return Err(IssueError::Verify {
                    indices: indices(),
                    source,
                });
            }
        }
    }
    Ok(checked)
}
