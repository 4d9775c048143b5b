"""The Debian base the node and load balancer images are built on, made here because no
image can be pulled: `debootstrap --variant=minbase` of bookworm from Debian's mirror
with the packages the node's programs run on, `docker import`ed under a tag keyed by
that package list. About 80 s the first time; kept under its tag afterwards
(`docker rmi` it to make it anew).

Packages: python3 (every program of the node is Python), python3-yaml (kubeadm's config,
manifests, envoy's config), openssl (kubeadm's certificates), procps (`pgrep`, which
kind runs before restarting containerd). minbase brings bash, coreutils and tar (kind's
`cp /dev/stdin`, `mkdir -p`, `tar -chf -` of /var/log for `kind export logs`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

MIRROR = os.environ.get("KINDFLEET_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("python3", "python3-yaml", "openssl", "procps")
SUITE = "bookworm"
TRIM = ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man",
        "usr/share/locale", "usr/share/info")  # fmt: skip
CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
)


def tag() -> str:
    key = hashlib.sha256(f"{SUITE} {','.join(PACKAGES)} {CHANGES}".encode()).hexdigest()[:10]
    return f"kindfleet-test/kindnode-base:{SUITE}-{key}"


def exists(image: str) -> bool:
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False)
    return probe.returncode == 0


def install_debootstrap() -> None:
    """As root with apt-get (a CI machine, a fresh clone), install debootstrap if missing."""
    if shutil.which("debootstrap") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], capture_output=True,
                   check=False, env=env)  # fmt: skip


def unavailable() -> str | None:
    """Why the base cannot be built here (None when it can, or is already built)."""
    if shutil.which("docker") is None:
        return "docker CLI not found"
    if exists(tag()):
        return None
    if os.geteuid() != 0:
        return "debootstrap needs root"
    install_debootstrap()
    if shutil.which("debootstrap") is None:
        return "debootstrap not installed (apt-get install debootstrap)"
    return None


def run(*argv: str, timeout: float = 900) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise RuntimeError(f"`{' '.join(argv[:3])} ...` failed: " + " | ".join(lines))


def build(image: str) -> None:
    with tempfile.TemporaryDirectory(prefix="kindnode-base-") as tmp:
        root = Path(tmp) / "root"
        run("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
            str(root), MIRROR)  # fmt: skip
        for path in TRIM:
            for child in (root / path).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        argv = ["docker", "import"]
        for change in CHANGES:
            argv += ["--change", change]
        run(*argv, str(archive), image)


def ensure() -> str:
    """The base image's tag, built first if missing (RuntimeError when it cannot be)."""
    image = tag()
    if not exists(image):
        reason = unavailable()
        if reason:
            raise RuntimeError(f"cannot build {image}: {reason}")
        build(image)
    return image
