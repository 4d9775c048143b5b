"""Images the tests need, built here from files on this machine (nothing is pulled).

- a node image: busybox (from Debian's busybox-static) with `/lib` and `/lib64` pointing
  into `/usr`, so the double can mount the host's `/usr` and run python3 in it;
- a registry image: Debian's docker-registry binary (the real distribution registry) with
  the libraries it links against and a config without auth.

Both are `docker import`ed from a tar built in memory; building takes about a second.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
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


def find(candidates: tuple[str, ...]) -> Path | None:
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


def busybox() -> Path | None:
    path = find(BUSYBOX_CANDIDATES)
    if path is None:
        return None
    out = subprocess.run([str(path), "--list"], capture_output=True, text=True, check=False)
    return path if out.returncode == 0 and "wget" in out.stdout else None


def registry_binary() -> Path | None:
    return find(REGISTRY_CANDIDATES)


class Rootfs:
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

    def link(self, path: str, target: str) -> None:
        self.directory(str(Path(path).parent))
        info = tarfile.TarInfo(path.strip("/"))
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tar.addfile(info)
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


def build_node_image(tag: str) -> None:
    path = busybox()
    if path is None:
        raise RuntimeError("busybox (with wget) not found: apt-get install busybox-static")
    fs = Rootfs()
    for d in ("tmp", "etc", "var/lib", "kind", "root", "usr", "etc/kubernetes"):
        fs.directory(d)
    fs.copy(path, "/bin/busybox")
    applets = subprocess.run([str(path), "--list"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        if applet not in ("busybox",):
            fs.link(f"/bin/{applet}", "busybox")
    fs.link("/lib", "usr/lib")  # the host's /usr is mounted by the double: python3 runs
    fs.link("/lib64", "usr/lib64")
    fs.file("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    fs.file("/etc/group", b"root:x:0:\n")
    docker_import(tag, fs.bytes(), ['CMD ["/bin/sh"]', "ENV PATH=/bin:/usr/bin"])


def _libraries(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    libs = []
    for line in out.stdout.splitlines():
        for word in line.split():
            if word.startswith("/"):
                libs.append(Path(word))
    return libs


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
    docker_import(
        tag,
        fs.bytes(),
        [
            'ENTRYPOINT ["/bin/registry"]',
            'CMD ["serve", "/etc/docker/registry/config.yml"]',
            "EXPOSE 5000",
        ],
    )


def remove_image(tag: str) -> None:
    if shutil.which("docker"):
        subprocess.run(["docker", "rmi", "--force", tag], capture_output=True, check=False)
