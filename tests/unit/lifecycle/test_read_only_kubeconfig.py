"""A kubeconfig its owner made read-only (0400, through a symlink too) was replaced by a
0600 file: as root no mode stops a write, and kindfleet undid what the owner meant. Now
`up` refuses before it makes anything, and the file stays as it was."""

from __future__ import annotations

import pytest

from kindfleet.kubeconfig import KubeconfigError
from kindfleet.lifecycle import UpOptions, up
from tests.doubles.fakeprovider import FakeProvider


def test_up_refuses_a_read_only_kubeconfig_before_making_anything(spec, tmp_path, calico_manifest):
    real = tmp_path / "dotfiles" / "config"
    real.parent.mkdir()
    real.write_text("apiVersion: v1\nkind: Config\n")
    real.chmod(0o400)
    link = tmp_path / "config"
    link.symlink_to(real)
    provider = FakeProvider()
    with pytest.raises(KubeconfigError, match="is read-only \\(mode 0400\\)") as caught:
        up(spec, provider, UpOptions(kubeconfig=link, calico_manifest=calico_manifest))
    assert "chmod u+w" in (caught.value.hint or "")
    assert provider.log == [] and provider.clusters == {}
    assert (real.stat().st_mode & 0o777) == 0o400 and link.is_symlink()
    assert real.read_text() == "apiVersion: v1\nkind: Config\n"
