"""Where the Calico manifest comes from: Calico's pinned release, or the user's file or URL.

Fetched once per version for the whole `up` (three Calico spokes, one download), then
patched per cluster by the pure transform in `render.calico`. A download that fails says
how to do without one (`--calico-manifest FILE`), which is also how air-gapped machines
and tests supply it.

A download of a version kindfleet pins (`kindfleet.pins`) must have the pinned sha256,
from Calico's URL or a mirror's: a release asset that changed, or a proxy that rewrote
it, is refused before anything reaches a cluster. A file given with --calico-manifest is
the user's own and is applied as it is.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.error
import urllib.request
from pathlib import Path

from kindfleet import pins
from kindfleet.errors import KindfleetError
from kindfleet.render import calico

TIMEOUT_SECONDS = 60.0


class ManifestError(KindfleetError):
    """The Calico manifest could not be had."""


class CalicoManifests:
    def __init__(
        self,
        source: str | None = None,
        *,
        timeout: float = TIMEOUT_SECONDS,
        checksums: dict[str, str] | None = None,
    ) -> None:
        """`source`: a file path or URL, where `{version}` is replaced; None: Calico's own.
        `checksums`: sha256 by version that downloads must have (default: the pins)."""
        self.source = source
        self.timeout = timeout
        self.checksums = pins.CALICO_MANIFEST_SHA256 if checksums is None else checksums
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}

    def location(self, version: str) -> str:
        if self.source is None:
            return calico.manifest_url(version)
        return self.source.replace("{version}", version)

    def get(self, version: str) -> str:
        with self._lock:
            if version not in self._cache:
                self._cache[version] = self._read(self.location(version), version)
            return self._cache[version]

    def _read(self, where: str, version: str) -> str:
        hint = (
            "download calico.yaml yourself and pass --calico-manifest FILE "
            "(or set KINDFLEET_CALICO_MANIFEST)"
        )
        if "://" not in where:
            try:
                return Path(where).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                raise ManifestError(
                    f"cannot read Calico manifest {where}: {exc.strerror}"
                ) from None
        try:
            with urllib.request.urlopen(where, timeout=self.timeout) as response:
                body: bytes = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ManifestError(f"cannot download {where}: {reason}", hint=hint) from None
        self._verify(where, version, body)
        return body.decode("utf-8")

    def _verify(self, where: str, version: str, body: bytes) -> None:
        expected = self.checksums.get(version)
        found = hashlib.sha256(body).hexdigest()
        if expected is None or found == expected:
            return
        raise ManifestError(
            f"the Calico {version} manifest from {where} is not the one kindfleet pins: "
            f"sha256 {found}, expected {expected}",
            hint="a changed release asset or a proxy rewriting it; check the file and pass it "
            "with --calico-manifest FILE if you trust it",
        )
