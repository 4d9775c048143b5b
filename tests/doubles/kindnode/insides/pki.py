"""Certificates the way kubeadm lays them out, made with the node's openssl (ECDSA P-256,
so that a cluster's PKI takes a fraction of a second) and kubeconfig files holding them.

Real X.509: the real kubectl verifies the API server's certificate against the CA in
admin.conf, with the SANs kubeadm would put in it.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path

import yaml

from .common import write

PKI = Path("/etc/kubernetes/pki")
MINIMAL_CONFIG = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".cnf") as config:
        config.write(MINIMAL_CONFIG)
        config.flush()
        proc = subprocess.run(["openssl", *args, "-config", config.name],
                              capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.strip()}")


def ca(name: str, common_name: str) -> None:
    """A self-signed CA at PKI/<name>.crt and .key (kept if it exists: kind copies the
    cluster's CAs to the other control planes before they join)."""
    crt, key = PKI / f"{name}.crt", PKI / f"{name}.key"
    if crt.exists() and key.exists():
        return
    crt.parent.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *CURVE, "-days", "3650", "-subj", f"/CN={common_name}",
             "-keyout", str(key), "-out", str(crt),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign")  # fmt: skip


def leaf(name: str, ca_name: str, subject: str, usage: str, *,
         dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> None:  # fmt: skip
    """A certificate signed by PKI/<ca_name>: usage `serverAuth`, `clientAuth` or both."""
    crt, key = PKI / f"{name}.crt", PKI / f"{name}.key"
    crt.parent.mkdir(parents=True, exist_ok=True)
    extensions = ["-addext", "basicConstraints=critical,CA:FALSE",
                  "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                  "-addext", f"extendedKeyUsage={usage}"]  # fmt: skip
    sans = [f"DNS:{d}" for d in dict.fromkeys(dns) if d] + [
        f"IP:{i}" for i in dict.fromkeys(ips) if i
    ]
    if sans:
        extensions += ["-addext", "subjectAltName=" + ",".join(sans)]
    _openssl("req", "-x509", *CURVE, "-days", "365", "-subj", subject,
             "-CA", str(PKI / f"{ca_name}.crt"), "-CAkey", str(PKI / f"{ca_name}.key"),
             "-keyout", str(key), "-out", str(crt), *extensions)  # fmt: skip


def service_account_keys() -> None:
    if (PKI / "sa.key").exists():
        return
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-out", str(PKI / "sa.key")],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["openssl", "pkey", "-in", str(PKI / "sa.key"), "-pubout", "-out",
                    str(PKI / "sa.pub")], check=True, capture_output=True)  # fmt: skip


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig(path: str | Path, server: str, user: str, *, cert: str | None = None,
               token: str | None = None, cluster: str = "kubernetes") -> None:  # fmt: skip
    """A kubeconfig the way kubeadm writes them: cluster `kubernetes`, the CA inline, the
    user's client certificate inline (or a bootstrap token)."""
    credentials: dict[str, str] = {}
    if cert is not None:
        credentials = {"client-certificate-data": _b64(PKI / f"{cert}.crt"),
                       "client-key-data": _b64(PKI / f"{cert}.key")}  # fmt: skip
    if token is not None:
        credentials = {"token": token}
    context = f"{user}@{cluster}"
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"certificate-authority-data": _b64(PKI / "ca.crt"),
                                                   "server": server}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context, "preferences": {},
        "users": [{"name": user, "user": credentials}],
    }  # fmt: skip
    write(path, yaml.safe_dump(config, sort_keys=False), mode=0o600)
