//! Quorum control on a real SoftHSM2 token, through the real binary:
//! provision 3-of-5 (SO PIN 2-of-3) → log in with 3 shares, refuse 2 cleanly → re-split to new
//! custodians → the old shares no longer log in, the new ones do; an adopted token too. Every
//! file the tool wrote and everything it printed is scanned for the PINs and every share.
//!
//! One test function: this process points SOFTHSM2_CONF at its own token directory once,
//! before anything else runs, and the spawned binary gets the same variable.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use byok_ceremony::hsm::ffi::set_token_config_env;
use byok_ceremony::hsm::throwaway::SoftToken;
use byok_ceremony::hsm::{Hsm, HsmSession};
use byok_ceremony::hsm_types::token::TokenSelector;
use byok_ceremony::quorum::outputs::read_share;
use byok_ceremony::quorum::share_file;
use byok_ceremony::quorum::split::combine_pin;
use byok_ceremony::quorum::{
    LoginError, LoginPolicy, PinGroup, ProvisioningRecord, QuorumLogin, Share,
};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use secrecy::ExposeSecret;

struct Env {
    root: tempfile::TempDir,
    conf: PathBuf,
    module: PathBuf,
}

impl Env {
    fn new() -> Env {
        let module = SoftToken::SoftHsm2
            .find_module()
            .expect("SoftHSM2 is not installed: run scripts/test.sh (it installs softhsm2)");
        let root = tempfile::Builder::new()
            .prefix("quorum-softhsm-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let tokens = root.path().join("tokens");
        std::fs::create_dir(&tokens).expect("token dir");
        let conf = root.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .expect("conf");
        // Before any module is loaded and while this is the only test thread.
        set_token_config_env("SOFTHSM2_CONF", conf.as_os_str());
        Env { root, conf, module }
    }

    fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.path().join(name);
        std::fs::create_dir(&d).expect("out dir");
        d
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.root.path().join(name);
        std::fs::write(
            &path,
            format!(
                "format = \"byok-ceremony provisioning script\"\nversion = 1\n\n[token]\nmodule = \"{}\"\n{body}",
                self.module.display()
            ),
        )
        .expect("script");
        path
    }

    fn run(&self, args: &[&std::ffi::OsStr]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("the binary runs");
        eprintln!(
            "--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

fn share_file(dir: &Path, custodian: &str) -> PathBuf {
    dir.join(share_file::file_name(custodian))
}

fn typed(dir: &Path, custodian: &str, group: PinGroup) -> String {
    read_share(&share_file(dir, custodian), group)
        .expect("share file")
        .to_text()
        .expect("text")
        .grouped()
        .to_string()
}

fn record(dir: &Path) -> ProvisioningRecord {
    ProvisioningRecord::parse(&std::fs::read(dir.join("provisioning-record.json")).expect("record"))
        .expect("strict record parse")
}

/// Presents the shares of `custodians` and logs in; logs out again on success.
fn quorum_login(
    session: &HsmSession<'_>,
    rec: &ProvisioningRecord,
    group: PinGroup,
    dir: &Path,
    custodians: &[&str],
) -> Result<(), LoginError> {
    let mut q = QuorumLogin::new(rec, group)?;
    for c in custodians {
        q.offer(&typed(dir, c, group))?;
    }
    q.login(session, LoginPolicy::default())?;
    session.session().logout().expect("log out");
    Ok(())
}

/// The secrets of one provisioning: every share (by owner) and each PIN rebuilt.
struct Secrets {
    /// (path of the owner's file, share)
    shares: Vec<(String, Share)>,
    pins: Vec<AuthPin>,
}

fn secrets(dir: &Path, rec: &ProvisioningRecord) -> Secrets {
    let mut shares = Vec::new();
    let mut pins = Vec::new();
    for (group, g) in rec.groups() {
        let mut of_group = Vec::new();
        for c in &g.custodians {
            let path = share_file(dir, &c.name);
            if !path.exists() {
                continue; // an SO share from an earlier provisioning
            }
            let s = read_share(&path, group).expect("share");
            of_group.push(s.clone());
            shares.push((path.display().to_string(), s));
        }
        if !of_group.is_empty() {
            pins.push(combine_pin(&of_group).expect("rebuild").auth_pin());
        }
    }
    Secrets { shares, pins }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file in `dirs` and every captured output: the PINs nowhere, each share only in its
/// custodian's own file (in any of its spellings, or as raw bytes or hex).
fn scan(dirs: &[&Path], outputs: &[&Output], s: &Secrets) {
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for d in dirs {
        for entry in std::fs::read_dir(d).expect("list") {
            let p = entry.expect("entry").path();
            places.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
    for (i, o) in outputs.iter().enumerate() {
        places.push((format!("stdout #{i}"), o.stdout.clone()));
        places.push((format!("stderr #{i}"), o.stderr.clone()));
    }
    assert!(places.len() > 4);
    for (name, bytes) in &places {
        let lower = String::from_utf8_lossy(bytes)
            .to_lowercase()
            .replace([' ', '-', '\n'], "");
        for pin in &s.pins {
            let pin = pin.expose_secret();
            assert!(!contains(bytes, pin.as_bytes()), "a PIN is in {name}");
            assert!(!lower.contains(&pin.to_lowercase()), "a PIN is in {name}");
        }
        for (owner, share) in &s.shares {
            if owner == name {
                continue;
            }
            let text = share.to_text().expect("text");
            assert!(
                !lower.contains(text.canonical()),
                "{owner}'s share is in {name}"
            );
            assert!(
                !contains(bytes, share.value()),
                "{owner}'s share bytes are in {name}"
            );
            assert!(
                !lower.contains(&hex::encode(share.value())),
                "{owner}'s share hex is in {name}"
            );
        }
    }
}

#[test]
fn provision_login_resplit_and_adopt_on_softhsm2() {
    let env = Env::new();
    let t0 = std::time::Instant::now();

    // --- Provision 3-of-5 for the user PIN, 2-of-3 for the SO PIN (alice is in both).
    let script = env.script(
        "provision.toml",
        "mode = \"initialise\"\nlabel = \"quorum test\"\n\n[user_pin]\nthreshold = 3\ncustodians = [\"alice\", \"bob\", \"carol\", \"dave\", \"erin\"]\n\n[so_pin]\nthreshold = 2\ncustodians = [\"frank\", \"alice\", \"grace\"]\n",
    );
    let out1 = env.dir("out1");
    let provisioned = env.run(&[
        os("provision"),
        script.as_os_str(),
        os("--headless"),
        os("--out"),
        out1.as_os_str(),
    ]);
    assert!(provisioned.status.success(), "provision failed");
    let mut names: Vec<String> = std::fs::read_dir(&out1)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alice.share.txt",
            "bob.share.txt",
            "carol.share.txt",
            "dave.share.txt",
            "erin.share.txt",
            "frank.share.txt",
            "grace.share.txt",
            "provisioning-audit.jsonl",
            "provisioning-record.json",
        ]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(share_file(&out1, "bob"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o400,
        "share files are readable by their owner only"
    );
    let rec1 = record(&out1);
    assert_eq!((rec1.user_pin.threshold, rec1.user_pin.shares), (3, 5));
    let so = rec1.so_pin.as_ref().expect("SO split");
    assert_eq!((so.threshold, so.shares), (2, 3));
    assert_eq!(
        rec1.user_pin.custodian(2).map(|c| c.name.as_str()),
        Some("bob")
    );
    assert!(
        rec1.audit_key
            .public_key_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(rec1.token.label, "quorum test");
    // alice's one file holds both of her shares.
    let alice = std::fs::read_to_string(share_file(&out1, "alice")).expect("alice");
    assert_eq!(alice.matches("byok1 ").count(), 2);
    eprintln!("provisioned in {:?}", t0.elapsed());

    // --- Quorum login in this process: 2 shares are refused without asking the token,
    //     3 log in; the SO PIN with 2 of 3.
    {
        let hsm = Hsm::load(&env.module).expect("load");
        let slot = hsm
            .find_token(&TokenSelector::Serial(rec1.token.serial.clone()))
            .expect("token");
        let session = hsm.open_session(slot).expect("session");
        let e = quorum_login(&session, &rec1, PinGroup::UserPin, &out1, &["bob", "dave"])
            .expect_err("2 of 3");
        assert!(
            matches!(e, LoginError::NotEnough { have: 2, need: 3 }),
            "{e}"
        );
        quorum_login(
            &session,
            &rec1,
            PinGroup::UserPin,
            &out1,
            &["erin", "bob", "dave"],
        )
        .expect("3 of 5 log in");
        quorum_login(&session, &rec1, PinGroup::SoPin, &out1, &["grace", "alice"])
            .expect("SO 2 of 3");
        // The audit key is a sensitive, non-extractable signing key.
        let mut q = QuorumLogin::new(&rec1, PinGroup::UserPin).expect("q");
        for c in ["alice", "carol", "erin"] {
            q.offer(&typed(&out1, c, PinGroup::UserPin)).expect("share");
        }
        q.login(&session, LoginPolicy::default()).expect("login");
        let audit = byok_ceremony::quorum::audit_key::find(&session).expect("audit key");
        assert_eq!(audit, rec1.audit_key);
        session.session().logout().expect("logout");
    }

    let secrets1 = secrets(&out1, &rec1);
    assert_eq!(secrets1.shares.len(), 8);
    assert_eq!(secrets1.pins.len(), 2);

    // --- Re-split with only 2 old shares: refused cleanly, the token untouched.
    let resplit_script = env.script(
        "resplit.toml",
        "mode = \"adopt\"\nlabel = \"quorum test\"\n\n[user_pin]\nthreshold = 3\ncustodians = [\"bob\", \"carol\", \"dave\", \"erin\", \"zoe\"]\n",
    );
    let record1 = out1.join("provisioning-record.json");
    let out_fail = env.dir("out-fail");
    let two = env.run(&[
        os("provision"),
        resplit_script.as_os_str(),
        os("--headless"),
        os("--out"),
        out_fail.as_os_str(),
        os("--resplit"),
        record1.as_os_str(),
        os("--share"),
        share_file(&out1, "alice").as_os_str(),
        os("--share"),
        share_file(&out1, "bob").as_os_str(),
    ]);
    assert_eq!(two.status.code(), Some(1));
    let err = String::from_utf8_lossy(&two.stderr);
    assert!(err.contains("2 of 3 shares are present"), "{err}");
    // Nothing written but the audit trail of the failed attempt: two shares presented.
    let left: Vec<String> = std::fs::read_dir(&out_fail)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["provisioning-audit.jsonl"], "only the audit trail");
    let trail = out_fail.join("provisioning-audit.jsonl");
    let (entries, _) = byok_ceremony::audit::log::verify_chain::<
        byok_ceremony::quorum::events::QuorumEvent,
    >(&trail)
    .expect("the attempt's trail verifies");
    assert_eq!(entries, 2, "both presented shares are recorded");

    // --- Re-split with 3 old shares to a new group (zoe joins, alice leaves).
    let out2 = env.dir("out2");
    let resplit = env.run(&[
        os("provision"),
        resplit_script.as_os_str(),
        os("--headless"),
        os("--out"),
        out2.as_os_str(),
        os("--resplit"),
        record1.as_os_str(),
        os("--share"),
        share_file(&out1, "alice").as_os_str(),
        os("--share"),
        share_file(&out1, "carol").as_os_str(),
        os("--share"),
        share_file(&out1, "erin").as_os_str(),
    ]);
    assert!(resplit.status.success(), "re-split failed");
    let rec2 = record(&out2);
    assert_eq!(rec2.supersedes, Some(rec1.user_pin.split_id));
    assert_ne!(rec2.user_pin.split_id, rec1.user_pin.split_id);
    assert_eq!(rec2.so_pin, rec1.so_pin, "the SO split is carried over");
    assert_eq!(rec2.audit_key, rec1.audit_key);

    // --- The old shares no longer log in; the new ones do.
    {
        let hsm = Hsm::load(&env.module).expect("load");
        let slot = hsm
            .find_token(&TokenSelector::Serial(rec1.token.serial.clone()))
            .expect("token");
        let session = hsm.open_session(slot).expect("session");
        let e = quorum_login(
            &session,
            &rec1,
            PinGroup::UserPin,
            &out1,
            &["bob", "dave", "erin"],
        )
        .expect_err("old shares");
        assert!(matches!(e, LoginError::Refused { .. }), "{e}");
        // An old share offered against the new record is named as such.
        let mut q = QuorumLogin::new(&rec2, PinGroup::UserPin).expect("q");
        let e = q
            .offer(&typed(&out1, "bob", PinGroup::UserPin))
            .expect_err("old split");
        assert!(matches!(e, LoginError::WrongSplit { .. }), "{e}");
        quorum_login(
            &session,
            &rec2,
            PinGroup::UserPin,
            &out2,
            &["zoe", "carol", "dave"],
        )
        .expect("new shares");
    }
    // The binary agrees: a re-split from the old record and old shares fails.
    let out_old = env.dir("out-old");
    let stale = env.run(&[
        os("provision"),
        resplit_script.as_os_str(),
        os("--headless"),
        os("--out"),
        out_old.as_os_str(),
        os("--resplit"),
        record1.as_os_str(),
        os("--share"),
        share_file(&out1, "bob").as_os_str(),
        os("--share"),
        share_file(&out1, "carol").as_os_str(),
        os("--share"),
        share_file(&out1, "dave").as_os_str(),
    ]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("refused the rebuilt user PIN"));

    // --- Adopt a token initialised elsewhere, with its current PINs from a file.
    let (user_now, so_now) = ("current-user-pin-1234", "current-so-pin-5678");
    {
        let hsm = Hsm::load(&env.module).expect("load");
        let free = hsm
            .context()
            .get_slots_with_token()
            .expect("slots")
            .into_iter()
            .find(|s| {
                !hsm.context()
                    .get_token_info(*s)
                    .expect("info")
                    .token_initialized()
            })
            .expect("a free slot");
        hsm.context()
            .init_token(free, &AuthPin::from(so_now), "adopted")
            .expect("init");
        let slot = hsm
            .find_token(&TokenSelector::Label("adopted".into()))
            .expect("token");
        let s = hsm.context().open_rw_session(slot).expect("session");
        s.login(UserType::So, Some(&AuthPin::from(so_now)))
            .expect("so");
        s.init_pin(&AuthPin::from(user_now)).expect("init pin");
        s.logout().expect("logout");
    }
    let pins_file = env.root.path().join("current-pins.txt");
    std::fs::write(&pins_file, format!("user={user_now}\nso={so_now}\n")).expect("pins");
    let adopt_script = env.script(
        "adopt.toml",
        "mode = \"adopt\"\nlabel = \"adopted\"\n\n[user_pin]\nthreshold = 2\ncustodians = [\"ann\", \"ben\", \"cat\"]\n\n[so_pin]\nthreshold = 2\ncustodians = [\"ann\", \"dan\"]\n",
    );
    let out3 = env.dir("out3");
    let adopted = env.run(&[
        os("provision"),
        adopt_script.as_os_str(),
        os("--headless"),
        os("--out"),
        out3.as_os_str(),
        os("--current-pins"),
        pins_file.as_os_str(),
    ]);
    assert!(adopted.status.success(), "adopt failed");
    let rec3 = record(&out3);
    {
        let hsm = Hsm::load(&env.module).expect("load");
        let slot = hsm
            .find_token(&TokenSelector::Label("adopted".into()))
            .expect("token");
        let session = hsm.open_session(slot).expect("session");
        assert!(
            session
                .session()
                .login(UserType::User, Some(&AuthPin::from(user_now)))
                .is_err(),
            "old user PIN replaced"
        );
        quorum_login(&session, &rec3, PinGroup::UserPin, &out3, &["cat", "ann"])
            .expect("new user PIN");
        quorum_login(&session, &rec3, PinGroup::SoPin, &out3, &["dan", "ann"]).expect("new SO PIN");
    }
    // Writing over existing outputs is refused before the token is touched.
    let again = env.run(&[
        os("provision"),
        adopt_script.as_os_str(),
        os("--headless"),
        os("--out"),
        out3.as_os_str(),
        os("--current-pins"),
        pins_file.as_os_str(),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    // --- Nothing secret anywhere it should not be.
    let all_outputs = [&provisioned, &two, &resplit, &stale, &adopted, &again];
    let dirs = [
        out1.as_path(),
        out2.as_path(),
        out3.as_path(),
        out_fail.as_path(),
        out_old.as_path(),
    ];
    scan(&dirs, &all_outputs, &secrets1);
    scan(&dirs, &all_outputs, &secrets(&out2, &rec2));
    scan(&dirs, &all_outputs, &secrets(&out3, &rec3));
    eprintln!("whole flow in {:?}", t0.elapsed());
}
