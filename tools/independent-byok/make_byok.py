#!/usr/bin/env python3
"""Independent implementation of the Azure BYOK wrap, to produce test data for byok-ceremony.

It shares no code with the Rust implementation: it uses Python's `cryptography` package
(OpenSSL) for RSA-OAEP and RFC 5649. The Rust verifier must accept every file it writes and
recover exactly the expected key.

Usage: python3 tools/independent-byok/make_byok.py [OUT_DIR]
       (default OUT_DIR: tests/data/independent, relative to the repository root)

Writes into OUT_DIR:
  kek-<bits>.private.pem / .public.pem   test KEKs (RSA 2048 and 3072, e = 65537)
  target-<name>.public.pem               the SPKI PEM of each RSA/EC target
  target-<name>.check-value.txt          the PKCS#11 check value (hex) of each AES target
  <name>.kek-<bits>.byok                 the target wrapped for that KEK
  manifest.json                          what each .byok should contain (read by the Rust tests)

The KEKs and targets are freshly random on every run: re-running replaces all files.

The wrap, exactly per Azure's BYOK specification (CKM_RSA_AES_KEY_WRAP):
  1. a fresh AES-256 key K;
  2. RSAES-OAEP(KEK, K) with SHA-1, MGF1-SHA-1 and an empty label;
  3. AES Key Wrap with Padding (RFC 5649) of the plaintext under K;
  4. ciphertext = (2) || (3), base64url without padding, in the JSON below.
Plaintext: PKCS#8 PrivateKeyInfo DER for RSA and EC keys, the raw bytes for AES keys.
"""

import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

GENERATOR = "tools/independent-byok/make_byok.py (Python cryptography {}); software keys".format(
    __import__("cryptography").__version__
)

# A Key Vault KEK and a Managed HSM KEK: AES targets import into a Managed HSM only.
KEKS = {
    2048: "https://independent-test.vault.azure.net/keys/kek-2048/",
    3072: "https://independent-test.managedhsm.azure.net/keys/kek-3072/",
}

EC_CURVES = {
    "ec-p256": (ec.SECP256R1(), "P-256"),
    "ec-p384": (ec.SECP384R1(), "P-384"),
    "ec-p521": (ec.SECP521R1(), "P-521"),
    "ec-p256k": (ec.SECP256K1(), "P-256K"),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def byok_json(kid: str, ciphertext: bytes) -> bytes:
    """The .byok file: compact JSON, fixed key order, no trailing newline."""
    document = {
        "schema_version": "1.0.0",
        "header": {"kid": kid, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
        "ciphertext": b64url(ciphertext),
        "generator": GENERATOR,
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def wrap(kek_public, plaintext: bytes) -> bytes:
    aes_key = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    encrypted_key = kek_public.encrypt(aes_key, oaep)
    assert len(encrypted_key) == kek_public.key_size // 8
    return encrypted_key + aes_key_wrap_with_padding(aes_key, plaintext)


def pkcs8_der(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def spki_pem(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_value(aes_key: bytes) -> str:
    encryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex()


def make_targets():
    """Yields (name, plaintext, expectation) for every target key."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    yield "rsa-2048", pkcs8_der(rsa_key), {
        "kind": "RSA",
        "bits": 2048,
        "public_pem": spki_pem(rsa_key.public_key()),
    }
    for name, (curve, azure_name) in EC_CURVES.items():
        ec_key = ec.generate_private_key(curve)
        yield name, pkcs8_der(ec_key), {
            "kind": "EC",
            "curve": azure_name,
            "public_pem": spki_pem(ec_key.public_key()),
        }
    for bits in (128, 256):
        aes_key = os.urandom(bits // 8)
        yield "aes-{}".format(bits), aes_key, {
            "kind": "oct",
            "bits": bits,
            "check_value": check_value(aes_key),
        }


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def write_keks(out_dir: str):
    keks = {}
    for bits, kid_prefix in KEKS.items():
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        kid = kid_prefix + os.urandom(16).hex()
        write(
            os.path.join(out_dir, "kek-{}.private.pem".format(bits)),
            private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        write(os.path.join(out_dir, "kek-{}.public.pem".format(bits)), spki_pem(private_key.public_key()))
        keks[bits] = (private_key.public_key(), kid)
    return keks


def write_target_expectation(out_dir: str, name: str, expect: dict) -> dict:
    entry = {key: value for key, value in expect.items() if key != "public_pem"}
    if "public_pem" in expect:
        entry["public_pem"] = "target-{}.public.pem".format(name)
        write(os.path.join(out_dir, entry["public_pem"]), expect["public_pem"])
    if "check_value" in expect:
        write(
            os.path.join(out_dir, "target-{}.check-value.txt".format(name)),
            (expect["check_value"] + "\n").encode("ascii"),
        )
    return entry


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "data", "independent")
    os.makedirs(out_dir, exist_ok=True)
    keks = write_keks(out_dir)
    manifest = []
    for name, plaintext, expect in make_targets():
        entry = write_target_expectation(out_dir, name, expect)
        for bits, (kek_public, kid) in keks.items():
            if expect["kind"] == "oct" and "managedhsm" not in kid:
                continue  # Key Vault refuses AES targets.
            file_name = "{}.kek-{}.byok".format(name, bits)
            write(os.path.join(out_dir, file_name), byok_json(kid, wrap(kek_public, plaintext)))
            manifest.append(dict(entry, file=file_name, kek_bits=bits, kid=kid, trailing_zero_bytes=0))
        if name == "ec-p256":
            manifest.append(write_zero_padded(out_dir, plaintext, entry, keks[2048]))
    manifest_text = json.dumps({"generator": GENERATOR, "files": manifest}, indent=2) + "\n"
    write(os.path.join(out_dir, "manifest.json"), manifest_text.encode("utf-8"))
    print("wrote {} .byok files to {}".format(len(manifest), out_dir))


def write_zero_padded(out_dir: str, plaintext: bytes, entry: dict, kek) -> dict:
    """What a token like SoftHSM2 2.6.1 produces: zero padding *before* the RFC 5649 wrap."""
    pad = -len(plaintext) % 8
    assert pad > 0, "a P-256 PKCS#8 is never a multiple of 8 bytes long"
    kek_public, kid = kek
    file_name = "ec-p256-zero-padded.kek-2048.byok"
    write(os.path.join(out_dir, file_name), byok_json(kid, wrap(kek_public, plaintext + bytes(pad))))
    return dict(entry, file=file_name, kek_bits=2048, kid=kid, trailing_zero_bytes=pad)


if __name__ == "__main__":
    main()
