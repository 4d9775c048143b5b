#!/usr/bin/env python3
"""Reports drift in the pins only the network can confirm (`kindfleet.pins.PINS`): reads
each pin's source and prints one line per pin that no longer holds, has a newer release,
or whose source could not be read. Exit 0: no drift; 1: drift (the lines say which).

Run nightly by .github/workflows/pins-nightly.yml; by hand: `python scripts/pins_drift.py`.
GITHUB_TOKEN, when set, is sent to api.github.com (its anonymous limit is 60 an hour).
The comparison itself is `kindfleet.pins.drift`, tested offline in tests/unit/test_pins.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kindfleet import pins
from kindfleet.pins import Observed, Pin

TIMEOUT = 30


def fetch(url: str) -> bytes:
    headers = {"User-Agent": "kindfleet-pins-drift"}
    token = os.environ.get("GITHUB_TOKEN")
    if token and url.startswith("https://api.github.com/"):
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT) as r:
        return bytes(r.read())


def exists(url: str) -> bool:
    try:
        fetch(url)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def github_release(repo: str, tag: str) -> Callable[[Pin], Observed]:
    def read(pin: Pin) -> Observed:
        api = f"https://api.github.com/repos/{repo}/releases"
        latest = json.loads(fetch(f"{api}/latest"))["tag_name"]
        return Observed(pin, holds=exists(f"{api}/tags/{tag}"), latest=str(latest))

    return read


def in_release_notes(repo: str, tag: str) -> Callable[[Pin], Observed]:
    def read(pin: Pin) -> Observed:
        body = json.loads(fetch(f"https://api.github.com/repos/{repo}/releases/tags/{tag}"))
        return Observed(pin, holds=pin.value in str(body.get("body") or ""))

    return read


def sha256_of(url: str) -> Callable[[Pin], Observed]:
    return lambda pin: Observed(pin, holds=hashlib.sha256(fetch(url)).hexdigest() == pin.value)


def in_text(url: str) -> Callable[[Pin], Observed]:
    return lambda pin: Observed(pin, holds=pin.value in fetch(url).decode(errors="replace"))


def pypi(project: str) -> Callable[[Pin], Observed]:
    def read(pin: Pin) -> Observed:
        data = json.loads(fetch(f"https://pypi.org/pypi/{project}/json"))
        return Observed(pin, holds=pin.value in data["releases"], latest=data["info"]["version"])

    return read


def docker_hub_tag(image: str) -> Callable[[Pin], Observed]:
    name, _, tag = image.partition(":")
    url = f"https://hub.docker.com/v2/repositories/library/{name}/tags/{tag}"
    return lambda pin: Observed(pin, holds=exists(url))


def reader(pin: Pin) -> Callable[[Pin], Observed]:
    if pin.name.startswith("node image "):
        return in_release_notes("kubernetes-sigs/kind", pins.KIND_VERSION)
    raw = pin.source.replace("github.com", "raw.githubusercontent.com").replace("/blob/", "/")
    readers: dict[str, Callable[[], Callable[[Pin], Observed]]] = {
        "kind": lambda: github_release("kubernetes-sigs/kind", pin.value),
        "calico": lambda: github_release("projectcalico/calico", pin.value),
        "calico manifest sha256": lambda: sha256_of(pin.source),
        "uv": lambda: pypi("uv"),
        "registry image": lambda: in_text(raw),
        "python base image": lambda: docker_hub_tag(pin.value),
    }
    if pin.name not in readers:
        raise SystemExit(f"no way to read the source of pin {pin.name!r}: add one to {__file__}")
    return readers[pin.name]()


def observe(pin: Pin) -> Observed:
    try:
        return reader(pin)(pin)
    except (OSError, ValueError, KeyError) as exc:
        return Observed(pin, error=f"{type(exc).__name__}: {exc}")


def main() -> int:
    lines = pins.drift([observe(pin) for pin in pins.PINS])
    for line in lines:
        print(line)
    if not lines:
        print(f"{len(pins.PINS)} pins checked: no drift")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
