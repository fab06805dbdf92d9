#!/usr/bin/env python3
"""KEK fixtures for byok-ceremony's KEK loader tests (tests/byok_kek.rs).

Usage: python3 tools/independent-byok/make_kek_fixtures.py [OUT_DIR]
       (default OUT_DIR: tests/data/kek, relative to the repository root)

Writes good KEKs in every accepted form and bad ones the loader must reject. Keys are random on
every run; kids.json records the kid each JSON fixture carries.

The `*.keyshow.json` files have the shape `az keyvault key show` prints (azure-cli 2.x): top-level
attributes/key/managed/releasePolicy/tags; the JWK with every field, null where unused; `keyOps`
in camelCase; `n` and `e` in *standard* base64 with '=' padding (the CLI's rendering of bytes).
The `*.jwk.json` files are bare REST-style JWKs: `key_ops`, unpadded base64url.
"""

import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

VAULT_KID = "https://contoso-byok.vault.azure.net/keys/kek-{bits}/{version}"
HSM_KID = "https://contoso-byok.managedhsm.azure.net/keys/kek-{bits}/{version}"


def write(out_dir: str, name: str, data: bytes) -> None:
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)


def spki(public_key, encoding=serialization.Encoding.PEM) -> bytes:
    return public_key.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)


def int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def key_show(public_key, kid: str) -> dict:
    """`az keyvault key show` output for a KEK made with --kty RSA-HSM --ops import."""
    numbers = public_key.public_numbers()
    std = lambda value: base64.b64encode(int_bytes(value)).decode("ascii")
    return {
        "attributes": {
            "created": "2026-03-30T15:57:29+00:00",
            "enabled": True,
            "expires": None,
            "exportable": False,
            "hsmPlatform": "2",
            "notBefore": None,
            "recoverableDays": 90,
            "recoveryLevel": "Recoverable+Purgeable",
            "updated": "2026-03-30T15:57:29+00:00",
        },
        "key": {
            "crv": None,
            "d": None,
            "dp": None,
            "dq": None,
            "e": std(numbers.e),
            "k": None,
            "keyOps": ["import"],
            "kid": kid,
            "kty": "RSA-HSM",
            "n": std(numbers.n),
            "p": None,
            "q": None,
            "qi": None,
            "t": None,
            "x": None,
            "y": None,
        },
        "managed": None,
        "releasePolicy": None,
        "tags": None,
    }


def bare_jwk(public_key, kid: str) -> dict:
    numbers = public_key.public_numbers()
    url = lambda value: base64.urlsafe_b64encode(int_bytes(value)).rstrip(b"=").decode("ascii")
    return {"kid": kid, "kty": "RSA-HSM", "key_ops": ["import"], "n": url(numbers.n), "e": url(numbers.e)}


def self_signed_certificate_pem(private_key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a KEK")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def json_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def good_keks(out_dir: str) -> dict:
    kids = {}
    for bits in (2048, 3072, 4096):
        public_key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
        template = HSM_KID if bits == 3072 else VAULT_KID
        kid = template.format(bits=bits, version=os.urandom(16).hex())
        kids["kek-{}".format(bits)] = kid
        pem = spki(public_key)
        write(out_dir, "kek-{}.public.pem".format(bits), pem)
        write(out_dir, "kek-{}.keyshow.json".format(bits), json_bytes(key_show(public_key, kid)))
        if bits == 2048:
            write(out_dir, "kek-2048.public.der", spki(public_key, serialization.Encoding.DER))
            write(out_dir, "kek-2048.public.crlf.pem", pem.replace(b"\n", b"\r\n"))
            write(
                out_dir,
                "kek-2048.pkcs1.pem",
                public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
            )
            write(out_dir, "kek-2048.jwk.json", json_bytes(bare_jwk(public_key, kid)))
    return kids


def bad_keks(out_dir: str) -> None:
    for bits in (1024, 2560):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        write(out_dir, "rsa-{}.public.pem".format(bits), spki(key.public_key()))
    e3 = rsa.generate_private_key(public_exponent=3, key_size=2048)
    write(out_dir, "rsa-2048-e3.public.pem", spki(e3.public_key()))
    write(out_dir, "ec-p256.public.pem", spki(ec.generate_private_key(ec.SECP256R1()).public_key()))
    write(out_dir, "ed25519.public.pem", spki(ed25519.Ed25519PrivateKey.generate().public_key()))
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write(
        out_dir,
        "rsa-2048.private.pem",
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write(out_dir, "certificate.pem", self_signed_certificate_pem(private))


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "data", "kek")
    os.makedirs(out_dir, exist_ok=True)
    kids = good_keks(out_dir)
    bad_keks(out_dir)
    write(out_dir, "kids.json", json_bytes(kids))
    print("wrote KEK fixtures to {}".format(out_dir))


if __name__ == "__main__":
    main()
