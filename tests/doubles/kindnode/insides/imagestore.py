"""containerd's image store as kind's `ctr images import` and `crictl inspecti` see it.

Content is kept for real: every file of an imported archive (`docker save` output, legacy
or OCI layout) lands in the content store by its sha256, and images are recorded per
namespace under their normalized names (`busybox:1` -> `docker.io/library/busybox:1`)
with their ID (the config's digest: the same as `docker image inspect -f {{.Id}}`), a
manifest digest and their size.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path("/var/lib/containerd")
BLOBS = ROOT / "io.containerd.content.v1.content/blobs/sha256"
META = ROOT / "io.containerd.metadata.v1.kindnode"
Image = dict[str, Any]


def normalize(ref: str) -> str:
    """containerd's normalized name: docker.io/library/ for bare names, :latest if untagged."""
    name = ref
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in name:
        name += ":latest"
    return name


@contextlib.contextmanager
def locked(namespace: str) -> Iterator[dict[str, Image]]:
    """The namespace's images, read and written back under an exclusive lock."""
    META.mkdir(parents=True, exist_ok=True)
    path = META / f"{namespace}.json"
    with (META / f"{namespace}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        images = json.loads(path.read_text()) if path.exists() else {}
        yield images
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(images, indent=1))
        tmp.replace(path)


def images(namespace: str) -> dict[str, Image]:
    path = META / f"{namespace}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _store(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    BLOBS.mkdir(parents=True, exist_ok=True)
    target = BLOBS / digest
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return f"sha256:{digest}"


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    for candidate in (name, f"./{name}", name.removeprefix("./")):
        try:
            member = tar.extractfile(candidate)
        except KeyError:
            continue
        if member is not None:
            return member.read()
    raise ValueError(f"{name}: not a file in the archive")


def parse_archive(path: Path) -> list[tuple[list[str], str, str, int]]:
    """Store the archive's content; per image: (names, id, manifest digest, size)."""
    found = []
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        for member in tar.getmembers():
            if member.isfile():
                _store(_read(tar, member.name))
        if "manifest.json" in names:
            for entry in json.loads(_read(tar, "manifest.json")):
                config = _read(tar, entry["Config"])
                layers = [_read(tar, layer) for layer in entry.get("Layers") or []]
                manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                            "config": {"digest": _store(config), "size": len(config)},
                            "layers": [{"digest": _store(data), "size": len(data)} for data in layers]}  # fmt: skip
                size = len(config) + sum(len(data) for data in layers)
                found.append(([normalize(t) for t in entry.get("RepoTags") or []],
                              _store(config), _store(json.dumps(manifest).encode()), size))  # fmt: skip
        elif "index.json" in names:
            for desc in json.loads(_read(tar, "index.json")).get("manifests") or []:
                annotations = desc.get("annotations") or {}
                name = annotations.get("io.containerd.image.name") or annotations.get(
                    "org.opencontainers.image.ref.name"
                )
                manifest = json.loads(_read(tar, f"blobs/sha256/{desc['digest'].split(':')[1]}"))
                config = manifest.get("config") or {}
                size = int(config.get("size", 0)) + sum(
                    int(x.get("size", 0)) for x in manifest.get("layers") or []
                )
                found.append(
                    (
                        [normalize(name)] if name else [],
                        config.get("digest", ""),
                        desc["digest"],
                        size,
                    )
                )
        else:
            raise ValueError("unrecognized image format: neither manifest.json nor index.json")
    return found


def import_archive(namespace: str, path: Path, digests: bool) -> list[tuple[str, str]]:
    """Record the archive's images: [(name, manifest digest)] in import order."""
    imported = []
    with locked(namespace) as known:
        for tags, image_id, digest, size in parse_archive(path):
            names = tags
            if digests or not tags:
                names = [*tags, f"import-{time.strftime('%Y-%m-%d')}@{digest}"]
            for name in names:
                known[name] = {
                    "id": image_id,
                    "digest": digest,
                    "size": size,
                    "created": time.time(),
                }
                imported.append((name, digest))
    return imported


def resolve(namespace: str, ref: str) -> tuple[str, Image] | None:
    """An image by name (as given or normalized), by ID or by an ID prefix."""
    known = images(namespace)
    for candidate in (ref, normalize(ref)):
        if candidate in known:
            return candidate, known[candidate]
    wanted = ref if ref.startswith("sha256:") else f"sha256:{ref}"
    for name, image in known.items():
        if image["id"].startswith(wanted) and len(wanted) > 10:
            return name, image
    return None


def tags_of(namespace: str, image_id: str) -> list[str]:
    return sorted(n for n, i in images(namespace).items() if i["id"] == image_id and "@" not in n)
