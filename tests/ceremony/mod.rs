//! A ceremony room for tests: its own SoftHSM2 token directory, a token provisioned 2-of-3 by
//! the real binary, a KEK medium, an output medium, a script and an answers file. The token is
//! SoftHSM2 2.7.0 (built by scripts/build-softhsm.sh: native CKM_RSA_AES_KEY_WRAP, byte-exact)
//! unless a test asks for the distro's 2.6.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use byok_ceremony::byok::kek::Kek;
use byok_ceremony::hsm::throwaway::SoftToken;

pub const KID: &str =
    "https://independent-test.vault.azure.net/keys/kek-2048/f2cd2c4345a5ee31c5fe5cbbb33f4f4a";
/// The distro's SoftHSM2 (2.6.1 on Debian bookworm: zero-pads before RFC 5649).
pub const SOFTHSM2: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// SoftHSM2 2.7.0 as scripts/build-softhsm.sh builds it.
pub fn native_module() -> String {
    SoftToken::find_built_softhsm()
        .expect("SoftHSM2 2.7.0 is not built: run scripts/test.sh (or scripts/build-softhsm.sh)")
        .display()
        .to_string()
}

/// The room's headless ceremony: its script, its answers, its state directory.
pub const HEADLESS_RUN: [&str; 6] = [
    "run",
    "ceremony.toml",
    "--answers",
    "answers.toml",
    "--state-dir",
    "state",
];

pub struct Room {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    /// The variable that names `conf` to the token: SOFTHSM2_CONF or KRYOPTIC_CONF.
    pub conf_env: &'static str,
    /// The PKCS#11 module the room's token lives in.
    pub module: String,
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

impl Room {
    /// A fresh room with a SoftHSM2 2.7.0 token provisioned 2-of-3 (carol, dave, erin).
    pub fn new(label: &str) -> Room {
        Room::on_module(label, &native_module())
    }

    /// A fresh room whose token is kryoptic's (its two-step wrap does OAEP SHA-256, which
    /// Google Cloud's and AWS's SHA-256 algorithms need).
    pub fn on_kryoptic(label: &str) -> Room {
        let module = SoftToken::Kryoptic
            .find_module()
            .expect("kryoptic is not built: run scripts/test.sh (or scripts/build-kryoptic.sh)");
        Room::build(label, &module.display().to_string(), "")
    }

    /// A fresh room whose token lives in `module` (a SoftHSM2 or kryoptic).
    pub fn on_module(label: &str, module: &str) -> Room {
        Room::build(label, module, "")
    }

    /// A fresh SoftHSM2 2.7.0 room whose provisioning also has the security officer import the
    /// test KEK as a trusted wrapping key (for `wrap_with_trusted` ceremonies).
    pub fn with_trusted_kek(label: &str) -> Room {
        let kek = Kek::load(&data("independent/kek-2048.public.pem"), None, None).expect("KEK");
        let table = format!(
            "\n[trusted_kek]\nfile = \"{}\"\nfingerprint_sha256 = \"{}\"\n",
            data("independent/kek-2048.public.pem").display(),
            kek.fingerprint().hex_groups()
        );
        Room::build(label, &native_module(), &table)
    }

    /// A room on `module`, its provisioning script followed by `provisioning_extra`.
    fn build(label: &str, module: &str, provisioning_extra: &str) -> Room {
        let dir = tempfile::Builder::new()
            .prefix("ceremony-room-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("tokens dir");
        let kryoptic = SoftToken::detect(Path::new(module)) == Some(SoftToken::Kryoptic);
        let (conf, conf_env, text) = if kryoptic {
            (
                dir.path().join("kryoptic.conf"),
                "KRYOPTIC_CONF",
                format!(
                    "[[slots]]\nslot = 42\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                    tokens.join("token.sql").display()
                ),
            )
        } else {
            (
                dir.path().join("softhsm2.conf"),
                "SOFTHSM2_CONF",
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
        };
        std::fs::write(&conf, text).expect("conf");
        let room = Room {
            dir,
            conf,
            conf_env,
            module: module.to_owned(),
        };
        for d in ["provisioning", "kek-usb", "out-usb", "state"] {
            std::fs::create_dir(room.path(d)).expect("dir");
        }
        let prov = room.path("provision.toml");
        std::fs::write(
            &prov,
            format!(
                "format = \"byok-ceremony provisioning script\"\nversion = 1\n\n[token]\nmodule = \"{module}\"\nmode = \"initialise\"\nlabel = \"{label}\"\n\n[user_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n\n[so_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n{provisioning_extra}"
            ),
        )
        .expect("provisioning script");
        let out = room.bin(&[
            "provision".as_ref(),
            prov.as_os_str(),
            "--headless".as_ref(),
            "--out".as_ref(),
            room.path("provisioning").as_os_str(),
        ]);
        assert!(out.status.success(), "provisioning failed");
        std::fs::copy(
            data("independent/kek-2048.public.pem"),
            room.path("kek-usb/kek.pem"),
        )
        .expect("KEK onto its medium");
        room.write_script(label, "RSA-HSM", "size = 2048", true);
        room.write_answers(&["carol", "dave"], None);
        room
    }

    /// Replaces `from` with `to` in the ceremony script (which must contain it).
    pub fn edit_script(&self, from: &str, to: &str) {
        let path = self.path("ceremony.toml");
        let text = std::fs::read_to_string(&path).expect("script");
        assert!(text.contains(from), "the script has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).expect("script");
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write_script(&self, token_label: &str, kty: &str, size_or_curve: &str, keep: bool) {
        let module = &self.module;
        let script = format!(
            r#"format = "byok-ceremony ceremony script"
version = 1
ceremony_id = "test-ceremony"
purpose = "integration test"
rehearsal = true

[roles]
administrator = "alice"
witness = "wendy"
custodians = ["carol", "dave", "erin"]

[quorum]
mode = "split-pin"
threshold = 2
record = "provisioning/provisioning-record.json"

[hsm]
module = "{module}"
label = "{token_label}"

[target]
kty = "{kty}"
{size_or_curve}
label = "test-target"
keep_in_hsm = {keep}

[kek]
file = "kek.pem"
expected_kid = "{KID}"

[outputs]
name = "test-ceremony"
"#
        );
        std::fs::write(self.path("ceremony.toml"), script).expect("script");
    }

    /// Answers with shares from `custodians` and an optional on_unfinished choice.
    pub fn write_answers(&self, custodians: &[&str], on_unfinished: Option<&str>) {
        let kek =
            Kek::load(&data("independent/kek-2048.public.pem"), None, Some(KID)).expect("KEK");
        let mut shares = String::new();
        for c in custodians {
            shares.push_str(&format!(
                "\n[[shares]]\ncustodian = \"{c}\"\nfile = \"provisioning/{c}.share.txt\"\n"
            ));
        }
        let recover = on_unfinished.map_or(String::new(), |r| format!("on_unfinished = \"{r}\"\n"));
        let answers = format!(
            r#"format = "byok-ceremony answers"
version = 1
present = ["alice", "wendy", "carol", "dave"]
kek_media = "kek-usb"
kek_fingerprint_read_aloud = "{}"
media = "out-usb"
sign_off = ["alice", "wendy", "carol", "dave"]
{recover}{shares}"#,
            kek.fingerprint().hex_groups()
        );
        std::fs::write(self.path("answers.toml"), answers).expect("answers");
    }

    pub fn command(&self, args: &[&std::ffi::OsStr]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"));
        c.args(args)
            .env(self.conf_env, &self.conf)
            .current_dir(self.dir.path());
        c
    }

    pub fn bin(&self, args: &[&std::ffi::OsStr]) -> Output {
        show(
            &format!("{args:?}"),
            self.command(args).output().expect("the binary runs"),
        )
    }

    /// The headless ceremony on a disconnected machine: in a network namespace of its own
    /// (`unshare -n`, with /sys remounted inside it so that /sys/class/net shows that namespace:
    /// loopback only), as a production ceremony's air-gap check requires. Needs root, as CI has.
    pub fn run_ceremony_offline(&self) -> Output {
        let mut c = Command::new("unshare");
        c.args([
            "-n",
            "-m",
            "sh",
            "-c",
            "mount -t sysfs sysfs /sys && exec \"$0\" \"$@\"",
        ])
        .arg(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args(HEADLESS_RUN)
        .env(self.conf_env, &self.conf)
        .current_dir(self.dir.path());
        show(
            "offline run",
            c.output().expect("unshare (util-linux) runs"),
        )
    }

    /// The headless ceremony with extra environment variables.
    pub fn run_ceremony_with(&self, env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut c = self.command(&[]);
        c.args(HEADLESS_RUN).envs(env.iter().copied());
        show(
            &format!("run with {env:?}"),
            c.output().expect("the binary runs"),
        )
    }

    pub fn run_ceremony(&self) -> Output {
        self.run_ceremony_with(&[])
    }

    pub fn audit_verify(&self, log: &Path) -> Output {
        self.bin(&[
            "audit".as_ref(),
            "verify".as_ref(),
            log.as_os_str(),
            "--record".as_ref(),
            self.path("provisioning/provisioning-record.json")
                .as_os_str(),
            "--media".as_ref(),
            self.path("out-usb").as_os_str(),
            "--script".as_ref(),
            self.path("ceremony.toml").as_os_str(),
        ])
    }

    /// The exported .byok unwraps, with the test KEK's private key, to the public key the
    /// manifest records from the HSM; byte-exact, but on the distro's SoftHSM2 2.6.1 (which
    /// zero-pads: rehearsal-grade is allowed there).
    pub fn assert_byok_unwraps_to_manifest_key(&self) {
        let media = self.path("out-usb");
        let manifest = byok_ceremony::manifest::Manifest::parse(
            &std::fs::read(media.join("test-ceremony.manifest.json")).expect("manifest"),
        )
        .expect("strict manifest");
        let pem = self.path("target.pem");
        std::fs::write(
            &pem,
            manifest.public_key_pem.as_deref().expect("public key"),
        )
        .expect("pem");
        let byok = media.join("test-ceremony.byok");
        let kek_public = data("independent/kek-2048.public.pem");
        let kek_private = data("independent/kek-2048.private.pem");
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "verify-byok".as_ref(),
            byok.as_os_str(),
            "--kek".as_ref(),
            kek_public.as_os_str(),
            "--kid".as_ref(),
            KID.as_ref(),
            "--kek-private".as_ref(),
            kek_private.as_os_str(),
            "--public-key".as_ref(),
            pem.as_os_str(),
        ];
        if self.module == SOFTHSM2 {
            args.push("--allow-zero-padding".as_ref());
        }
        let verify = self.bin(&args);
        assert!(
            verify.status.success(),
            "the .byok does not unwrap to the HSM's key"
        );
    }
}

/// Runs the ceremony until it has logged `event`, then kills it for real.
pub fn kill_after(room: &Room, event: &str) {
    let mut child = room
        .command(&[])
        .args(HEADLESS_RUN)
        .env(byok_ceremony::ceremony::runner::STALL_AFTER_ENV, event)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("STALLED") {
            break;
        }
    }
    assert!(
        seen.contains("STALLED"),
        "the run never reached {event}: {seen}"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// Prints what a run of the binary wrote (shown when a test fails), and hands it back.
fn show(what: &str, out: Output) -> Output {
    eprintln!(
        "--- {what}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Room {
    /// The token objects (CKA_TOKEN true) of the room's token, as "class label" lines, read
    /// with OpenSC's pkcs11-tool after logging in with the user PIN rebuilt from carol's and
    /// dave's share files.
    pub fn token_objects(&self) -> Vec<String> {
        use byok_ceremony::quorum::share::PinGroup;
        let shares: Vec<_> = ["carol", "dave"]
            .iter()
            .map(|c| {
                let text =
                    std::fs::read_to_string(self.path(&format!("provisioning/{c}.share.txt")))
                        .expect("share file");
                byok_ceremony::quorum::share_file::share_in(&text, PinGroup::UserPin)
                    .expect("a share")
            })
            .collect();
        let pin = byok_ceremony::quorum::split::combine_pin(&shares).expect("the user PIN");
        let out = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&self.module)
            .args(["--token-label", &self.token_label(), "--login", "--pin"])
            .arg(pin.text().as_str())
            .arg("--list-objects")
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("pkcs11-tool (Debian package opensc) runs");
        assert!(
            out.status.success(),
            "pkcs11-tool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut objects = Vec::new();
        let mut class = String::new();
        for line in text.lines() {
            if !line.starts_with(' ') && line.contains("Object") {
                class = line.split(';').next().unwrap_or("").trim().to_owned();
            } else if let Some(label) = line.trim().strip_prefix("label:") {
                objects.push(format!("{class} {}", label.trim()));
            }
        }
        objects.sort();
        objects
    }

    /// The token's label, as the room's provisioning script set it.
    pub fn token_label(&self) -> String {
        let script = std::fs::read_to_string(self.path("provision.toml")).expect("script");
        script
            .lines()
            .find_map(|l| l.strip_prefix("label = \""))
            .and_then(|l| l.strip_suffix('"'))
            .expect("a label")
            .to_owned()
    }
}

/// The room's wrapping keys for Google Cloud (3072 bits, PEM) and AWS (4096 bits, as the AWS
/// CLI prints it: base64 of the DER), beside the Azure KEK, with the AWS import token.
pub const GCP_KEK: &str = "independent/kek-3072.public.pem";
pub const GCP_KEK_PRIVATE: &str = "independent/kek-3072.private.pem";
pub const AWS_KEK: &str = "clouds/kek-4096.public.b64";
pub const AWS_KEK_PRIVATE: &str = "clouds/kek-4096.private.pem";

impl Room {
    /// Turns the room's Azure-only script into one for Azure, Google Cloud and AWS (in that
    /// order), with `job_created` and `parameters_valid_to` as given, puts the other clouds'
    /// wrapping keys and the import token on the KEK medium, and answers with each cloud's
    /// fingerprint as read aloud.
    pub fn three_clouds(&self, job_created: &str, parameters_valid_to: &str) {
        std::fs::copy(data(GCP_KEK), self.path("kek-usb/job.public.pem")).expect("gcp KEK");
        std::fs::copy(data(AWS_KEK), self.path("kek-usb/aws-wrapping-key.b64")).expect("aws KEK");
        std::fs::copy(
            data("clouds/import-token.bin"),
            self.path("kek-usb/aws-import-token.bin"),
        )
        .expect("token");
        self.edit_script(
            &format!("[kek]\nfile = \"kek.pem\"\nexpected_kid = \"{KID}\"\n"),
            &format!(
                r#"[[targets]]
cloud = "azure"
kek = "kek.pem"
kid = "{KID}"

[[targets]]
cloud = "gcp"
import_job = "projects/test/locations/global/keyRings/ring/importJobs/job"
import_method = "RSA_OAEP_3072_SHA256_AES_256"
protection_level = "HSM"
kek = "job.public.pem"
job_created = "{job_created}"

[[targets]]
cloud = "aws"
key = "arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-4000-8000-000000000000"
wrapping_algorithm = "RSA_AES_KEY_WRAP_SHA_256"
wrapping_key_spec = "RSA_4096"
kek = "aws-wrapping-key.b64"
import_token = "aws-import-token.bin"
parameters_valid_to = "{parameters_valid_to}"
"#
            ),
        );
        let fingerprint = |rel: &str| {
            Kek::load(&data(rel), None, None)
                .expect("KEK")
                .fingerprint()
                .hex_groups()
        };
        let answers = std::fs::read_to_string(self.path("answers.toml")).expect("answers");
        let table = format!(
            "kek_fingerprints_read_aloud = {{ gcp = \"{}\", aws = \"{}\" }}\n",
            fingerprint(GCP_KEK),
            fingerprint(AWS_KEK)
        );
        let answers = answers.replacen(
            "media = \"out-usb\"\n",
            &format!("media = \"out-usb\"\n{table}"),
            1,
        );
        std::fs::write(self.path("answers.toml"), answers).expect("answers");
    }
}

/// RFC 3339 of now plus `secs` (negative: in the past).
pub fn rfc3339_from_now(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs((now + secs) as u64);
    byok_ceremony::audit::time::rfc3339(t)
}
