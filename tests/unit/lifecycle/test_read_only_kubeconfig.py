"""A kubeconfig its owner made read-only (0400, through a symlink too) was replaced by a
0600 file: as root no mode stops a write, and kindfleet undid what the owner meant. Now
`up` refuses before it makes anything, and the file stays as it was."""

from __future__ import annotations

import functools

import pytest

from kindfleet import kubeconfig as kc
from kindfleet.kubeconfig import KubeconfigError
from kindfleet.lifecycle import UpOptions, context, up
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


def test_up_refuses_a_lock_nobody_lets_go_of_before_making_anything(
    spec, tmp_path, monkeypatch, calico_manifest
):
    """A crashed kubectl's `<file>.lock`: every cluster was built, each merge waited and
    failed, every cluster was removed, and the hint said clusters that are up are kept."""
    monkeypatch.setattr(
        context, "KubeconfigFile", functools.partial(kc.KubeconfigFile, lock_timeout=0.3)
    )
    target = tmp_path / "config"
    target.with_name("config.lock").write_text("")
    provider = FakeProvider()
    with pytest.raises(KubeconfigError, match=r"config\.lock is held by another writer") as caught:
        up(spec, provider, UpOptions(kubeconfig=target, calico_manifest=calico_manifest))
    assert "if no kubectl or kind is running, remove" in (caught.value.hint or "")
    assert provider.log == [] and provider.clusters == {}
