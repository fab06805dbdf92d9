#!/usr/bin/env python3
"""CycloneDX 1.5 SBOM (JSON) of the station binary, for scripts/release.sh.

Usage: scripts/sbom.py BINARY COMMIT SOURCE_DATE_EPOCH > byok-ceremony.cdx.json

It lists every crate in byok-ceremony's normal and build dependency closure for the station's
target, exactly as the release build resolves it (`cargo tree -p byok-ceremony`, per-package
features; the same closure tests/dependency_allowlist.rs checks): name, version, purl, licence,
the SHA-256 of the crate file from Cargo.lock (what cargo verified), its repository, and who
depends on whom. Crates linked into the binary have scope "required"; build scripts' and
proc-macros' crates, which run only while building, have scope "excluded".

Written here rather than by cargo-cyclonedx so that it is deterministic (dist/ is checksummed
and must come out the same on every build machine): no wall-clock time (the timestamp is the
commit's, SOURCE_DATE_EPOCH), a serial number derived from the commit and the binary's SHA-256,
not random, sorted components, no build-machine paths; and it needs nothing but Python 3 and
cargo. Dev-dependencies do not ship and are not listed.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone

TARGET = "x86_64-unknown-linux-gnu"
ROOT = "byok-ceremony"
LINE = re.compile(r"^(\d+)(\S+) v(\S+)(.*)$")


def fail(message):
    sys.stderr.write(f"sbom.py: {message}\n")
    sys.exit(1)


def cargo_tree(edges):
    """[(depth, name, version, licence, repository)] in cargo tree's order."""
    cmd = [
        os.environ.get("CARGO", "cargo"), "tree", "-p", ROOT, "-e", edges, "--target", TARGET,
        "--prefix", "depth", "--format", "{p}\t{l}\t{r}", "--locked", "--offline",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"{' '.join(cmd)} failed:\n{out.stderr}")
    rows = []
    for line in out.stdout.splitlines():
        if not line.strip():
            continue
        package, licence, repository = (line.split("\t") + ["", ""])[:3]
        match = LINE.match(package)
        if not match:
            fail(f"unexpected cargo tree line: {line!r}")
        repository = repository.removesuffix(" (*)").strip()
        rows.append((int(match.group(1)), match.group(2), match.group(3), licence.strip(),
                     repository))
    if not rows or rows[0][1] != ROOT:
        fail(f"cargo tree did not start at {ROOT}")
    return rows


def lock_checksums(path):
    """{(name, version): sha256} from Cargo.lock (registry crates only)."""
    sums, entry = {}, {}
    with open(path, encoding="utf-8") as lock:
        for line in lock.read().splitlines() + ["[[package]]"]:
            if line == "[[package]]":
                if "checksum" in entry:
                    sums[(entry["name"], entry["version"])] = entry["checksum"]
                entry = {}
                continue
            match = re.match(r'^(name|version|checksum) = "(.*)"$', line)
            if match:
                entry[match.group(1)] = match.group(2)
    return sums


def spdx(licence):
    # Old crates write "MIT/Apache-2.0", which means "MIT OR Apache-2.0" (cargo's own reading).
    return re.sub(r"\s*/\s*", " OR ", licence)


def main():
    if len(sys.argv) != 4:
        fail("usage: sbom.py BINARY COMMIT SOURCE_DATE_EPOCH")
    binary, commit, epoch = sys.argv[1], sys.argv[2], sys.argv[3]
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        fail(f"COMMIT must be a full 40-hex commit id, not {commit!r}")
    if not epoch.isdigit():
        fail(f"SOURCE_DATE_EPOCH must be seconds since 1970, not {epoch!r}")
    with open(binary, "rb") as f:
        binary_sha256 = hashlib.sha256(f.read()).hexdigest()
    sums = lock_checksums("Cargo.lock")

    rows = cargo_tree("normal,build")
    linked = {(name, version) for _, name, version, _, _ in cargo_tree("normal,no-proc-macro")}
    packages, depends = {}, {}
    stack = []
    for depth, name, version, licence, repository in rows:
        key = (name, version)
        packages[key] = (licence, repository)
        depends.setdefault(key, set())
        del stack[depth:]
        if stack:
            depends[stack[-1]].add(key)
        stack.append(key)

    def ref(key):
        return f"pkg:cargo/{key[0]}@{key[1]}"

    root_key = (ROOT, rows[0][2])
    components = []
    for key in sorted(packages):
        if key == root_key:
            continue
        licence, repository = packages[key]
        if key not in sums:
            fail(f"{key[0]} {key[1]} has no checksum in Cargo.lock: only crates.io crates may ship")
        component = {
            "type": "library",
            "bom-ref": ref(key),
            "name": key[0],
            "version": key[1],
            "purl": ref(key),
            "scope": "required" if key in linked else "excluded",
            "hashes": [{"alg": "SHA-256", "content": sums[key]}],
        }
        if licence:
            component["licenses"] = [{"expression": spdx(licence)}]
        if repository:
            component["externalReferences"] = [{"type": "vcs", "url": repository}]
        components.append(component)

    root_licence = packages[root_key][0]
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:"
        + str(uuid.uuid5(uuid.NAMESPACE_URL, f"byok-ceremony:{commit}:{binary_sha256}")),
        "version": 1,
        "metadata": {
            "timestamp": datetime.fromtimestamp(int(epoch), timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "scripts/sbom.py",
                                      "version": commit}]},
            "component": {
                "type": "application",
                "bom-ref": ref(root_key),
                "name": ROOT,
                "version": root_key[1],
                "purl": ref(root_key),
                "licenses": [{"expression": spdx(root_licence)}],
                "hashes": [{"alg": "SHA-256", "content": binary_sha256}],
                "properties": [
                    {"name": "byok:commit", "value": commit},
                    {"name": "byok:target", "value": TARGET},
                ],
            },
        },
        "components": components,
        "dependencies": [
            {"ref": ref(key), "dependsOn": sorted(ref(d) for d in depends[key])}
            for key in sorted(packages)
        ],
    }
    json.dump(bom, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
