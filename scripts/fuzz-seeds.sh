#!/usr/bin/env bash
# Regenerates the kept seed corpus, fuzz/seeds/<target>/, from real outputs of the tool:
#
#   - a ceremony room run by the real binary, as tests/ceremony/mod.rs does: a SoftHSM2 token
#     provisioned 2-of-3 (user and SO PIN) by `provision --headless`, then a headless
#     `run SCRIPT --answers FILE` against the test KEK tests/data/independent/kek-2048; its share
#     files, record, provisioning log, ceremony log, .byok and manifest become seeds;
#   - a headless rehearsal (`rehearse --headless`, simulated KEK) for a second set of outputs;
#   - the repository's fixtures: tests/data (KEKs in every form, the independent .byok files,
#     a recorded ceremony log with its record and script) and ceremony-scripts/.
#
#   scripts/fuzz-seeds.sh            (BYOK_BIN=PATH: use that binary instead of building one)
#
# Needs SoftHSM2 (BYOK_SOFTHSM_MODULE, or 2.7.0 under target/tools, else the distro's 2.6.1),
# python3, and for the byok_plaintext seeds the Python `cryptography` package (skipped without
# it). Every key in the seeds is a throwaway test or rehearsal key; every share protects a
# token that was deleted with the room. Outputs carry random values (PINs, keys, times), so a
# new run changes the files; commit them only when a format changed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${PWD}"
seeds="${root}/fuzz/seeds"
data="${root}/tests/data"

bin="${BYOK_BIN:-}"
if [[ -z "${bin}" ]]; then
    cargo build --quiet --bin byok-ceremony
    bin="${root}/target/debug/byok-ceremony"
fi
module="${BYOK_SOFTHSM_MODULE:-}"
if [[ -z "${module}" && -f target/tools/softhsm-2.7.0/lib/softhsm/libsofthsm2.so ]]; then
    module="${root}/target/tools/softhsm-2.7.0/lib/softhsm/libsofthsm2.so"
fi
module="${module:-/usr/lib/softhsm/libsofthsm2.so}"
echo "fuzz-seeds: binary ${bin}, token module ${module}"

room="$(mktemp -d -t byok-fuzz-room-XXXXXX)"
trap 'rm -rf "${room}"' EXIT
rm -rf "${seeds}"
targets=(byok_parse byok_verify byok_plaintext kek ceremony_script provisioning_script answers
    share share_file audit_line audit_log audit_verify checkpoint record manifest current_pins
    pkcs11_uri)
for t in "${targets[@]}"; do mkdir -p "${seeds}/${t}"; done
seed() { cp "$2" "${seeds}/$1/$3"; }

# --- The ceremony room -----------------------------------------------------------------------
kid="https://independent-test.vault.azure.net/keys/kek-2048/f2cd2c4345a5ee31c5fe5cbbb33f4f4a"
mkdir -p "${room}"/{tokens,provisioning,kek-usb,out-usb,state}
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "${room}/tokens" >"${room}/softhsm2.conf"
export SOFTHSM2_CONF="${room}/softhsm2.conf"
cat >"${room}/provision.toml" <<EOF
format = "byok-ceremony provisioning script"
version = 1

[token]
module = "${module}"
mode = "initialise"
label = "fuzz-seeds"

[user_pin]
threshold = 2
custodians = ["carol", "dave", "erin"]

[so_pin]
threshold = 2
custodians = ["carol", "dave", "erin"]
EOF
(cd "${room}" && "${bin}" provision provision.toml --headless --out provisioning >/dev/null)
cp "${data}/independent/kek-2048.public.pem" "${room}/kek-usb/kek.pem"
fingerprint="$(python3 - "${room}/kek-usb/kek.pem" <<'EOF'
import base64, hashlib, sys
body = "".join(l for l in open(sys.argv[1]) if not l.startswith("-----"))
h = hashlib.sha256(base64.b64decode(body)).hexdigest()
print(" ".join(h[i:i + 4] for i in range(0, 64, 4)))
EOF
)"
cat >"${room}/ceremony.toml" <<EOF
format = "byok-ceremony ceremony script"
version = 1
ceremony_id = "fuzz-seeds"
purpose = "seed corpus for the fuzz targets"
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
module = "${module}"
label = "fuzz-seeds"

[target]
kty = "RSA-HSM"
size = 2048
label = "fuzz-target"
keep_in_hsm = true

[kek]
file = "kek.pem"
expected_kid = "${kid}"

[outputs]
name = "fuzz-seeds"

[[steps]]
phase = "attendance"
instruction = "Check photo ID."
EOF
cat >"${room}/answers.toml" <<EOF
format = "byok-ceremony answers"
version = 1
present = ["alice", "wendy", "carol", "dave"]
kek_media = "kek-usb"
kek_fingerprint_read_aloud = "${fingerprint}"
media = "out-usb"
sign_off = ["alice", "wendy", "carol", "dave"]

[[shares]]
custodian = "carol"
file = "provisioning/carol.share.txt"

[[shares]]
custodian = "dave"
file = "provisioning/dave.share.txt"

[[deviations]]
phase = "attendance"
text = "erin is absent"
EOF
(cd "${room}" && "${bin}" run ceremony.toml --answers answers.toml --state-dir state >/dev/null)
(cd "${room}" && "${bin}" audit verify out-usb/fuzz-seeds.audit.jsonl \
    --record provisioning/provisioning-record.json --media out-usb --script ceremony.toml >/dev/null)

# --- A rehearsal (its own token, simulated KEK) ----------------------------------------------
mkdir "${room}/rehearsal"
"${bin}" rehearse --headless --out "${room}/rehearsal" --key-type EC-HSM --curve P-384 >/dev/null

# --- Seeds -------------------------------------------------------------------------------------
r="${room}/rehearsal"
seed byok_parse "${room}/out-usb/fuzz-seeds.byok" room.byok
seed byok_parse "${r}/rehearsal-ec-p384.byok" rehearsal-ec-p384.byok
for f in "${data}"/independent/*.byok; do seed byok_parse "${f}" "$(basename "${f}")"; done
# byok_verify: option byte 3 (zero padding allowed, kid given), then a file for kek-2048.
for f in "${room}/out-usb/fuzz-seeds.byok" "${data}"/independent/*.kek-2048.byok; do
    { printf '\003'; cat "${f}"; } >"${seeds}/byok_verify/$(basename "${f}")"
done
if python3 -c 'import cryptography' 2>/dev/null; then
    python3 - "${data}/independent/kek-2048.private.pem" "${seeds}/byok_plaintext" \
        "${room}/out-usb/fuzz-seeds.byok" "${data}"/independent/*.kek-2048.byok <<'EOF'
# The plaintext inside each .byok: RSA-OAEP-SHA-1 gives the AES key, RFC 5649 the PKCS#8.
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
kek = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
for path in sys.argv[3:]:
    text = json.load(open(path))["ciphertext"]
    blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    n = kek.key_size // 8
    oaep = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    aes = kek.decrypt(blob[:n], oaep)
    plain = aes_key_unwrap_with_padding(aes, blob[n:])
    name = os.path.basename(path).replace(".byok", ".plaintext")
    open(os.path.join(sys.argv[2], name), "wb").write(plain)
EOF
else
    echo "fuzz-seeds: no Python cryptography package: byok_plaintext keeps no seeds" >&2
fi
for f in "${data}"/kek/*.pem "${data}"/kek/*.der "${data}"/kek/*.json "${data}"/independent/kek-*.public.pem; do
    [[ "$(basename "${f}")" == kids.json || "${f}" == *private* ]] && continue
    seed kek "${f}" "$(basename "${f}")"
done
python3 - "${data}/kek/kids.json" "${seeds}/kek" "${kid}" <<'EOF'
import json, sys
kids = list(json.load(open(sys.argv[1])).values()) + [sys.argv[3]]
for i, kid in enumerate(kids):
    open(f"{sys.argv[2]}/kid-{i}.txt", "w").write(kid)
EOF
for f in ceremony-scripts/*.toml "${data}/replay/ceremony.toml" "${room}/ceremony.toml" \
    "${room}/provision.toml"; do
    case "$(basename "${f}")" in
        provision*) seed provisioning_script "${f}" "$(basename "${f}")" ;;
        *)
            dir="$(basename "$(dirname "${f}")")"
            [[ "$(dirname "${f}")" == "${room}" ]] && dir=room
            seed ceremony_script "${f}" "$(basename "${f%.toml}")-${dir}.toml"
            ;;
    esac
done
seed answers "${room}/answers.toml" answers.toml
sed 's/^media = "out-usb"$/media = "out-usb"\nsecond_media = "copy-usb"\non_unfinished = "resume"/' \
    "${room}/answers.toml" >"${seeds}/answers/answers-resume.toml"
for f in "${room}"/provisioning/*.share.txt; do
    name="$(basename "${f}")"
    seed share_file "${f}" "${name}"
    grep -iE '^ *byok1' "${f}" | sed 's/^ *//' | awk -v d="${seeds}/share" -v n="${name}" \
        '{ f = d "/" n "-" NR; printf "%s", $0 > f; close(f) }'
done
seed record "${room}/provisioning/provisioning-record.json" room.json
seed record "${data}/replay/provisioning-record.json" replay.json
[[ -f "${r}/rehearsal-ec-p384.provisioning-record.json" ]] &&
    seed record "${r}/rehearsal-ec-p384.provisioning-record.json" rehearsal.json
seed manifest "${room}/out-usb/fuzz-seeds.manifest.json" room.json
seed manifest "${r}/rehearsal-ec-p384.manifest.json" rehearsal.json
seed audit_log "${room}/out-usb/fuzz-seeds.audit.jsonl" room.jsonl
seed audit_log "${room}/provisioning/provisioning-audit.jsonl" room-provisioning.jsonl
seed audit_log "${data}/replay/test-ceremony.audit.jsonl" replay.jsonl
seed audit_log "${r}/rehearsal-ec-p384.audit.jsonl" rehearsal.jsonl
# A log whose last line was cut off (resuming tolerates it).
head -c -40 "${room}/out-usb/fuzz-seeds.audit.jsonl" >"${seeds}/audit_log/room-torn.jsonl"
python3 - "${seeds}" "${room}/out-usb/fuzz-seeds.audit.jsonl" \
    "${room}/provisioning/provisioning-record.json" "${data}/replay/test-ceremony.audit.jsonl" \
    "${data}/replay/provisioning-record.json" "${room}/provisioning/provisioning-audit.jsonl" \
    "${r}/rehearsal-ec-p384.audit.jsonl" "${r}/rehearsal-ec-p384.provisioning-record.json" <<'EOF'
# audit_line: each line; audit_verify: record NUL log; checkpoint: what it is checked against
# (ceremony id, size, head, key name, audit key PEM) NUL the note.
import json, os, sys
seeds, args = sys.argv[1], sys.argv[2:]
for n, (log, record) in enumerate([(args[0], args[1]), (args[2], args[3]), (args[5], args[6])]):
    raw = open(log, "rb").read()
    rec = open(record, "rb").read()
    open(f"{seeds}/audit_verify/log{n}", "wb").write(rec + b"\0" + raw)
    open(f"{seeds}/audit_verify/log{n}-no-record", "wb").write(raw)
    pem = json.loads(rec)["audit_key"]["public_key_pem"]
    lines = raw.split(b"\n")[:-1]
    for i, line in enumerate(lines):
        open(f"{seeds}/audit_line/log{n}-{i:03}", "wb").write(line)
        entry = json.loads(line)
        if entry["event"].get("event") != "checkpoint":
            continue
        note = entry["event"]["note"]
        origin = note.split("\n", 1)[0]
        name = note.rstrip("\n").rsplit("\n", 1)[1][2:].rsplit(" ", 1)[0]
        params = "\n".join([origin.split("/", 1)[1], str(entry["seq"]), entry["prev"], name, pem])
        open(f"{seeds}/checkpoint/log{n}-{i:03}", "wb").write(params.encode() + b"\0" + note.encode())
for i, line in enumerate(open(args[4], "rb").read().split(b"\n")[:-1][:4]):
    open(f"{seeds}/audit_line/provisioning-{i:03}", "wb").write(line)
EOF
printf 'user=1234-5678\n' >"${seeds}/current_pins/user"
printf '# the adopted token\nuser=correct horse\nso=battery staple  # SO\n' >"${seeds}/current_pins/user-so"
printf 'pkcs11:token=byok-2026;serial=1234567890' >"${seeds}/pkcs11_uri/token-serial"
printf 'pkcs11:token=My%%20Token;serial=abc123;slot-id=7?module-path=/x.so' >"${seeds}/pkcs11_uri/all"
printf 'pkcs11:model=SoftHSM%%20v2;manufacturer=SoftHSM%%20project;token=fuzz' >"${seeds}/pkcs11_uri/model"

for t in "${targets[@]}"; do
    printf 'fuzz-seeds: %-20s %3d files %7d bytes\n' "${t}" "$(find "${seeds}/${t}" -type f | wc -l)" \
        "$(cat "${seeds}/${t}"/* 2>/dev/null | wc -c)"
done
