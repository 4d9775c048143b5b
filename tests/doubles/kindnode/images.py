"""Build (or reuse) the simulated node image and the load balancer image.

The node image: the Debian base (`base`), this folder's `rootfs/` (containerd's config,
the unit files, kind's manifests), the node's programs (`insides/`, as
/usr/lib/kindnode/insides with a shim per executable), /kind/version, and the host's
kubectl (kind runs `kubectl` inside nodes). Its tag is keyed by a hash of all of that,
so it is rebuilt only when something changes; a build from a present base takes a few
seconds (most of it sending kubectl to the engine).

The load balancer image: the same base with `envoy` (insides/envoy.py), under the exact
tag the kind binary in use will run (read from the binary, so kind finds it present and
does not pull), labelled with its content hash: another checkout's different build under
that tag is replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import base

HERE = Path(__file__).resolve().parent
INSIDES = HERE / "insides"
ROOTFS = HERE / "rootfs"
DEFAULT_VERSION = "v1.35.8"
HASH_LABEL = "dev.kindfleet.kindnode.hash"
ENVOY_DEFAULT = "docker.io/envoyproxy/envoy:v1.36.2"  # kind fed2688's loadbalancer.Image
SHIM = """#!/usr/bin/python3
import sys
sys.path.insert(0, "/usr/lib/kindnode")
from insides.{module} import {function}
{function}()
"""
NODE_PROGRAMS = {
    "usr/local/bin/entrypoint": ("init", "main"),
    "usr/bin/systemctl": ("systemctl", "main"),
    "usr/bin/journalctl": ("journalctl", "main"),
    "usr/local/bin/containerd": ("containerd", "main"),
    "usr/local/bin/ctr": ("ctr", "main"),
    "usr/local/bin/crictl": ("crictl", "main"),
    "usr/bin/kubeadm": ("kubeadm", "main"),
    "usr/bin/kubelet": ("kubelet", "main"),
    "usr/local/bin/etcd": ("etcd", "main"),
    "usr/local/bin/kube-apiserver": ("apiserver", "main"),
    "usr/local/bin/kube-controller-manager": ("controllers", "controller_manager"),
    "usr/local/bin/kube-scheduler": ("controllers", "scheduler"),
}
LB_PROGRAMS = {"usr/local/bin/envoy": ("envoy", "main")}
NODE_DOCKERFILE = """FROM {base}
COPY rootfs/ /
RUN python3 -m compileall -q /usr/lib/kindnode/insides
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
LABEL {label}={digest} io.x-k8s.kind.kindnode.version={version}
"""
LB_DOCKERFILE = """FROM {base}
COPY rootfs/ /
RUN python3 -m compileall -q /usr/lib/kindnode/insides && mkdir -p /home/envoy
LABEL {label}={digest}
"""


def kubectl_binary() -> Path:
    """The kubectl to put in the node: the one on PATH, or, when that is a version
    dispatcher (Google Cloud SDK's), the newest versioned kubectl beside it."""
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found on PATH (the node image carries the host's)")
    path = Path(found).resolve()
    versioned = sorted(path.parent.glob("kubectl.1.*"), key=lambda p: int(p.suffix[1:] or 0))
    return versioned[-1] if versioned else path


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_digest(*roots: Path) -> str:
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _image_id(image: str) -> str:
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return out.stdout.strip()


def _label(image: str) -> str:
    out = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}', image],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return out.stdout.strip() if out.returncode == 0 else ""


def _context(tmp: Path, programs: dict[str, tuple[str, str]], rootfs: Path | None) -> Path:
    """A build context: rootfs/ with the static files, the insides package and shims."""
    root = tmp / "rootfs"
    if rootfs is not None:
        shutil.copytree(rootfs, root)
    shutil.copytree(INSIDES, root / "usr/lib/kindnode/insides",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for where, (module, function) in programs.items():
        shim = root / where
        shim.parent.mkdir(parents=True, exist_ok=True)
        shim.write_text(SHIM.format(module=module, function=function))
        shim.chmod(0o755)
    return root


def _build(context: Path, tag: str) -> None:
    proc = subprocess.run(["docker", "build", "--force-rm", "--quiet", "--tag", tag, str(context)],
                          capture_output=True, text=True, check=False, timeout=600,
                          env={**os.environ, "DOCKER_BUILDKIT": "0"})  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(
            f"docker build of {tag} failed: {(proc.stdout + proc.stderr).strip()[-800:]}"
        )


def node_image(version: str = DEFAULT_VERSION) -> str:
    """The node image's tag for Kubernetes `version` (what /kind/version says), built
    when no image with that content exists yet."""
    if not re.fullmatch(r"v\d+\.\d+\.\d+(-[\w.]+)?", version):
        raise ValueError(f"not a Kubernetes version: {version!r}")
    base_image = base.ensure()
    kubectl = kubectl_binary()
    digest = hashlib.sha256("\0".join([
        _tree_digest(INSIDES, ROOTFS), _file_digest(kubectl), version, _image_id(base_image),
        NODE_DOCKERFILE, SHIM, repr(sorted(NODE_PROGRAMS.items())),
    ]).encode()).hexdigest()[:12]  # fmt: skip
    tag = f"kindfleet-test/kindnode:{version}-{digest}"
    if _image_id(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="kindnode-image-") as tmp:
        root = _context(Path(tmp), NODE_PROGRAMS, ROOTFS)
        (root / "kind/version").write_text(version + "\n")
        (root / "usr/bin").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kubectl, root / "usr/bin/kubectl")
        (root / "usr/bin/kubectl").chmod(0o755)
        (Path(tmp) / "Dockerfile").write_text(NODE_DOCKERFILE.format(
            base=base_image, label=HASH_LABEL, digest=digest, version=version))  # fmt: skip
        _build(Path(tmp), tag)
    return tag


def load_balancer_tag(kind: str | Path | None) -> str:
    """The load balancer image the given kind binary runs (read from the binary)."""
    if kind is not None and Path(kind).is_file():
        found = re.search(
            rb"(?:docker\.io/)?envoyproxy/envoy:v\d+\.\d+\.\d+", Path(kind).read_bytes()
        )
        if found:
            return found.group().decode()
    return ENVOY_DEFAULT


def load_balancer_image(kind: str | Path | None = None) -> str:
    """The envoy stand-in under the tag the kind binary uses, built when missing or when
    the image under that tag holds other content."""
    tag = load_balancer_tag(kind)
    base_image = base.ensure()
    digest = hashlib.sha256("\0".join([
        _tree_digest(INSIDES), _image_id(base_image), LB_DOCKERFILE, SHIM,
    ]).encode()).hexdigest()[:12]  # fmt: skip
    if _label(tag) == digest:
        return tag
    with tempfile.TemporaryDirectory(prefix="kindnode-lb-") as tmp:
        _context(Path(tmp), LB_PROGRAMS, None)
        (Path(tmp) / "Dockerfile").write_text(LB_DOCKERFILE.format(base=base_image, label=HASH_LABEL,
                                                                   digest=digest))  # fmt: skip
        _build(Path(tmp), tag)
    return tag
