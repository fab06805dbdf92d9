//! SHA-256 fingerprints of DER objects (the KEK's SubjectPublicKeyInfo above all), shown to
//! custodians as hex and as PGP words so they can be read aloud and compared across a room.

use std::fmt;

use sha2::{Digest, Sha256};

/// A fingerprint given as hex text that is not 64 hex digits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FingerprintError {
    #[error(
        "fingerprint {0:?} is not 64 hexadecimal digits: copy the SHA-256 fingerprint exactly (spaces are allowed)"
    )]
    BadHex(String),
}

/// SHA-256 over some DER encoding. For the KEK, over its SPKI DER (the bytes of
/// `az keyvault key download --encoding DER`), so `sha256sum` gives the same value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(bytes).into())
    }

    /// Parses 64 hex digits; ASCII whitespace between them (as in [`Fingerprint::hex_groups`]) is ignored.
    pub fn from_hex(text: &str) -> Result<Fingerprint, FingerprintError> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let mut out = [0u8; 32];
        hex::decode_to_slice(&compact, &mut out)
            .map_err(|_| FingerprintError::BadHex(text.to_owned()))?;
        Ok(Fingerprint(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Lowercase hex in groups of four separated by spaces: easier to read aloud and compare.
    pub fn hex_groups(&self) -> String {
        let hex = self.hex();
        let groups: Vec<&str> = hex
            .as_bytes()
            .chunks(4)
            .filter_map(|chunk| std::str::from_utf8(chunk).ok())
            .collect();
        groups.join(" ")
    }

    /// The 32 PGP words of the fingerprint (see [`pgp_words_for`]).
    pub fn pgp_words(&self) -> Vec<&'static str> {
        pgp_words_for(&self.0)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.hex())
    }
}

/// The PGP word list encoding of `bytes`: byte 0 (and every even position) from the
/// two-syllable list, byte 1 (and every odd position) from the three-syllable list. The
/// alternation lets a listener notice a dropped or swapped word.
pub fn pgp_words_for(bytes: &[u8]) -> Vec<&'static str> {
    bytes
        .iter()
        .enumerate()
        .map(|(position, &byte)| {
            let list = if position % 2 == 0 {
                &PGP_EVEN_WORDS
            } else {
                &PGP_ODD_WORDS
            };
            list[usize::from(byte)]
        })
        .collect()
}

// The PGP word list (Juola and Zimmermann, 1995), indexed by byte value. Transcribed from
// IANA's DNSSEC key-ceremony tools (dnssec-keytools, common/sha2wordlist.h) and checked word for
// word against a second, independent transcription (magic-wormhole's PGP word list).

/// Two-syllable words, used for bytes at even positions (0, 2, 4, ...).
#[rustfmt::skip]
pub const PGP_EVEN_WORDS: [&str; 256] = [
    "aardvark", "absurd", "accrue", "acme", "adrift", "adult", "afflict", "ahead", "aimless",
    "Algol", "allow", "alone", "ammo", "ancient", "apple", "artist", "assume", "Athens", "atlas",
    "Aztec", "baboon", "backfield", "backward", "banjo", "beaming", "bedlamp", "beehive",
    "beeswax", "befriend", "Belfast", "berserk", "billiard", "bison", "blackjack", "blockade",
    "blowtorch", "bluebird", "bombast", "bookshelf", "brackish", "breadline", "breakup",
    "brickyard", "briefcase", "Burbank", "button", "buzzard", "cement", "chairlift", "chatter",
    "checkup", "chisel", "choking", "chopper", "Christmas", "clamshell", "classic", "classroom",
    "cleanup", "clockwork", "cobra", "commence", "concert", "cowbell", "crackdown", "cranky",
    "crowfoot", "crucial", "crumpled", "crusade", "cubic", "dashboard", "deadbolt", "deckhand",
    "dogsled", "dragnet", "drainage", "dreadful", "drifter", "dropper", "drumbeat", "drunken",
    "Dupont", "dwelling", "eating", "edict", "egghead", "eightball", "endorse", "endow", "enlist",
    "erase", "escape", "exceed", "eyeglass", "eyetooth", "facial", "fallout", "flagpole",
    "flatfoot", "flytrap", "fracture", "framework", "freedom", "frighten", "gazelle", "Geiger",
    "glitter", "glucose", "goggles", "goldfish", "gremlin", "guidance", "hamlet", "highchair",
    "hockey", "indoors", "indulge", "inverse", "involve", "island", "jawbone", "keyboard",
    "kickoff", "kiwi", "klaxon", "locale", "lockup", "merit", "minnow", "miser", "Mohawk", "mural",
    "music", "necklace", "Neptune", "newborn", "nightbird", "Oakland", "obtuse", "offload",
    "optic", "orca", "payday", "peachy", "pheasant", "physique", "playhouse", "Pluto", "preclude",
    "prefer", "preshrunk", "printer", "prowler", "pupil", "puppy", "python", "quadrant", "quiver",
    "quota", "ragtime", "ratchet", "rebirth", "reform", "regain", "reindeer", "rematch", "repay",
    "retouch", "revenge", "reward", "rhythm", "ribcage", "ringbolt", "robust", "rocker", "ruffled",
    "sailboat", "sawdust", "scallion", "scenic", "scorecard", "Scotland", "seabird", "select",
    "sentence", "shadow", "shamrock", "showgirl", "skullcap", "skydive", "slingshot", "slowdown",
    "snapline", "snapshot", "snowcap", "snowslide", "solo", "southward", "soybean", "spaniel",
    "spearhead", "spellbind", "spheroid", "spigot", "spindle", "spyglass", "stagehand", "stagnate",
    "stairway", "standard", "stapler", "steamship", "sterling", "stockman", "stopwatch", "stormy",
    "sugar", "surmount", "suspense", "sweatband", "swelter", "tactics", "talon", "tapeworm",
    "tempest", "tiger", "tissue", "tonic", "topmost", "tracker", "transit", "trauma", "treadmill",
    "Trojan", "trouble", "tumor", "tunnel", "tycoon", "uncut", "unearth", "unwind", "uproot",
    "upset", "upshot", "vapor", "village", "virus", "Vulcan", "waffle", "wallet", "watchword",
    "wayside", "willow", "woodlark", "Zulu",
];

/// Three-syllable words, used for bytes at odd positions (1, 3, 5, ...).
#[rustfmt::skip]
pub const PGP_ODD_WORDS: [&str; 256] = [
    "adroitness", "adviser", "aftermath", "aggregate", "alkali", "almighty", "amulet", "amusement",
    "antenna", "applicant", "Apollo", "armistice", "article", "asteroid", "Atlantic", "atmosphere",
    "autopsy", "Babylon", "backwater", "barbecue", "belowground", "bifocals", "bodyguard",
    "bookseller", "borderline", "bottomless", "Bradbury", "bravado", "Brazilian", "breakaway",
    "Burlington", "businessman", "butterfat", "Camelot", "candidate", "cannonball", "Capricorn",
    "caravan", "caretaker", "celebrate", "cellulose", "certify", "chambermaid", "Cherokee",
    "Chicago", "clergyman", "coherence", "combustion", "commando", "company", "component",
    "concurrent", "confidence", "conformist", "congregate", "consensus", "consulting", "corporate",
    "corrosion", "councilman", "crossover", "crucifix", "cumbersome", "customer", "Dakota",
    "decadence", "December", "decimal", "designing", "detector", "detergent", "determine",
    "dictator", "dinosaur", "direction", "disable", "disbelief", "disruptive", "distortion",
    "document", "embezzle", "enchanting", "enrollment", "enterprise", "equation", "equipment",
    "escapade", "Eskimo", "everyday", "examine", "existence", "exodus", "fascinate", "filament",
    "finicky", "forever", "fortitude", "frequency", "gadgetry", "Galveston", "getaway", "glossary",
    "gossamer", "graduate", "gravity", "guitarist", "hamburger", "Hamilton", "handiwork",
    "hazardous", "headwaters", "hemisphere", "hesitate", "hideaway", "holiness", "hurricane",
    "hydraulic", "impartial", "impetus", "inception", "indigo", "inertia", "infancy", "inferno",
    "informant", "insincere", "insurgent", "integrate", "intention", "inventive", "Istanbul",
    "Jamaica", "Jupiter", "leprosy", "letterhead", "liberty", "maritime", "matchmaker", "maverick",
    "Medusa", "megaton", "microscope", "microwave", "midsummer", "millionaire", "miracle",
    "misnomer", "molasses", "molecule", "Montana", "monument", "mosquito", "narrative", "nebula",
    "newsletter", "Norwegian", "October", "Ohio", "onlooker", "opulent", "Orlando", "outfielder",
    "Pacific", "pandemic", "Pandora", "paperweight", "paragon", "paragraph", "paramount",
    "passenger", "pedigree", "Pegasus", "penetrate", "perceptive", "performance", "pharmacy",
    "phonetic", "photograph", "pioneer", "pocketful", "politeness", "positive", "potato",
    "processor", "provincial", "proximate", "puberty", "publisher", "pyramid", "quantity",
    "racketeer", "rebellion", "recipe", "recover", "repellent", "replica", "reproduce", "resistor",
    "responsive", "retraction", "retrieval", "retrospect", "revenue", "revival", "revolver",
    "sandalwood", "sardonic", "Saturday", "savagery", "scavenger", "sensation", "sociable",
    "souvenir", "specialist", "speculate", "stethoscope", "stupendous", "supportive", "surrender",
    "suspicious", "sympathy", "tambourine", "telephone", "therapist", "tobacco", "tolerance",
    "tomorrow", "torpedo", "tradition", "travesty", "trombonist", "truncated", "typewriter",
    "ultimate", "undaunted", "underfoot", "unicorn", "unify", "universe", "unravel", "upcoming",
    "vacancy", "vagabond", "vertigo", "Virginia", "visitor", "vocalist", "voyager", "warranty",
    "Waterloo", "whimsical", "Wichita", "Wilmington", "Wyoming", "yesteryear", "Yucatan",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn lists_have_256_unique_entries() {
        for list in [&PGP_EVEN_WORDS, &PGP_ODD_WORDS] {
            let unique: HashSet<String> = list.iter().map(|w| w.to_lowercase()).collect();
            assert_eq!(unique.len(), 256);
        }
        let even: HashSet<&str> = PGP_EVEN_WORDS.iter().copied().collect();
        assert!(
            PGP_ODD_WORDS.iter().all(|w| !even.contains(w)),
            "lists are disjoint"
        );
    }

    #[test]
    fn known_entries() {
        let cases: [(u8, &str, &str); 9] = [
            (0x00, "aardvark", "adroitness"),
            (0x01, "absurd", "adviser"),
            (0x17, "banjo", "bookseller"),
            (0x3f, "cowbell", "customer"),
            (0x7e, "locale", "insurgent"),
            (0x80, "merit", "intention"),
            (0xb6, "Scotland", "potato"),
            (0xfe, "woodlark", "yesteryear"),
            (0xff, "Zulu", "Yucatan"),
        ];
        for (byte, even, odd) in cases {
            assert_eq!(PGP_EVEN_WORDS[usize::from(byte)], even, "even {byte:#04x}");
            assert_eq!(PGP_ODD_WORDS[usize::from(byte)], odd, "odd {byte:#04x}");
        }
    }

    #[test]
    fn positions_alternate_lists() {
        assert_eq!(pgp_words_for(&[0, 0]), ["aardvark", "adroitness"]);
        assert_eq!(pgp_words_for(&[0xff, 0xfe]), ["Zulu", "yesteryear"]);
        assert_eq!(
            pgp_words_for(&[0xe5, 0x82, 0x94]),
            ["topmost", "Istanbul", "Pluto"]
        );
        assert!(pgp_words_for(&[]).is_empty());
    }

    #[test]
    fn published_example_vectors() {
        // Vectors from Decred's walletseed tests (which use the same list); their last word is
        // a checksum word appended by that format, so it is left off here.
        let cases = [
            (
                "e58294f2e9a227486e8b061b31cc528fd7fa3f19",
                "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa \
                 afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless",
            ),
            (
                "e34cd132128c1929ec96865ced5c4d0bf40a5d021fcef58d27dbfee371d210",
                "tissue disbelief stairway component atlas megaton bedlamp certify tumor monument \
                 necklace fascinate tunnel fascinate dreadful armistice upshot Apollo exceed aftermath \
                 billiard sardonic vapor microscope brackish suspicious woodlark torpedo hamlet \
                 sensation assume",
            ),
        ];
        for (data, expected) in cases {
            let bytes = hex::decode(data).expect("hex");
            assert_eq!(pgp_words_for(&bytes).join(" "), expected);
        }
    }

    #[test]
    fn sha256_of_empty_input() {
        let fp = Fingerprint::of(b"");
        assert_eq!(
            fp.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(fp.hex().len(), 64);
        assert!(fp.hex_groups().starts_with("e3b0 c442 98fc 1c14 "));
        assert_eq!(fp.hex_groups().split(' ').count(), 16);
        assert_eq!(fp.pgp_words().len(), 32);
        assert_eq!(fp.pgp_words()[0], "tissue");
        assert_eq!(fp.to_string(), fp.hex());
    }

    #[test]
    fn hex_round_trip() {
        let fp = Fingerprint::of(b"kek");
        assert_eq!(Fingerprint::from_hex(&fp.hex()), Ok(fp));
        assert_eq!(Fingerprint::from_hex(&fp.hex_groups()), Ok(fp));
        assert_eq!(Fingerprint::from_hex(&fp.hex().to_uppercase()), Ok(fp));
        assert!(Fingerprint::from_hex("abcd").is_err());
        assert!(Fingerprint::from_hex(&format!("{}00", fp.hex())).is_err());
    }
}
