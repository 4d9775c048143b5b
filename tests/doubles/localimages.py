"""Images the Docker tests use, made here from files on this machine (nothing can be
pulled): the fleet's registry and small one-file images to load into clusters.

- the registry: Debian's `docker-registry` binary (the real CNCF distribution registry
  that `registry:3` packages) with the libraries it links against and a config without
  auth, listening on :5000 as the official image does;
- a one-file image under any tag, for `kind load docker-image` and for pushes.

Both are `docker import`ed from a tar built in memory; building takes about a second.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

REGISTRY_CANDIDATES = ("/usr/bin/docker-registry",)
REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
"""


def registry_binary() -> Path | None:
    for candidate in REGISTRY_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


class Rootfs:
    """A root filesystem built as a tar in memory."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w")  # noqa: SIM115 (closed in bytes())
        self.seen: set[str] = set()

    def directory(self, path: str, mode: int = 0o755) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub in self.seen:
                continue
            self.seen.add(sub)
            info = tarfile.TarInfo(sub)
            info.type, info.mode = tarfile.DIRTYPE, (0o1777 if sub == "tmp" else mode)
            self.tar.addfile(info)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.directory(str(Path(path).parent))
        info = tarfile.TarInfo(path.strip("/"))
        info.size, info.mode = len(data), mode
        self.tar.addfile(info, io.BytesIO(data))
        self.seen.add(path.strip("/"))

    def copy(self, source: Path, path: str | None = None) -> None:
        self.file(path or str(source), Path(source).resolve().read_bytes(), mode=0o755)

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


def docker_import(tag: str, data: bytes, changes: list[str]) -> None:
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    subprocess.run([*argv, "-", tag], input=data, capture_output=True, check=True)


def _libraries(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    return [Path(w) for line in out.stdout.splitlines() for w in line.split() if w.startswith("/")]


def build_registry_image(tag: str) -> None:
    binary = registry_binary()
    if binary is None:
        raise RuntimeError("docker-registry not found: apt-get install docker-registry")
    fs = Rootfs()
    fs.directory("tmp")
    fs.directory("var/lib/registry")
    fs.copy(binary, "/bin/registry")
    for lib in _libraries(binary):
        fs.copy(lib, str(lib))
    fs.file("/etc/docker/registry/config.yml", REGISTRY_CONFIG.encode())
    changes = ['ENTRYPOINT ["/bin/registry"]', 'CMD ["serve", "/etc/docker/registry/config.yml"]',
               "EXPOSE 5000"]  # fmt: skip
    docker_import(tag, fs.bytes(), changes)


def one_file_image(tag: str, text: str | None = None) -> str:
    """A one-file image under `tag`; returns its ID (what containerd calls it too)."""
    fs = Rootfs()
    fs.file("/hello.txt", (text or f"made for {tag}\n").encode())
    docker_import(tag, fs.bytes(), [])
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", tag],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


def remove_image(tag: str) -> None:
    if shutil.which("docker"):
        subprocess.run(["docker", "rmi", "--force", tag], capture_output=True, check=False)
