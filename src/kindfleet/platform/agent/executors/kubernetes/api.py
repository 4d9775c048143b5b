"""How kindfleet reaches a Kubernetes API: the one place that chooses credentials and turns
the client's errors into short, secret-free sentences.

In a pod (the orchestrator's Deployment) the ServiceAccount is the identity; elsewhere a
kubeconfig file and context, chosen like kubectl does (`--kubeconfig`, else `$KUBECONFIG`,
else `~/.kube/config`). Either way the settings go into a private `Configuration`, never
the client library's global default, so two clusters can be talked to from one process (the
fleet deploy does) and nothing else in the process is redirected by accident. The kubeconfig
is only read: refreshed tokens are not written back to the user's file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from kindfleet.errors import PrerequisiteError, UsageError

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
TRANSIENT_STATUS = frozenset({0, 408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class KubeTarget:
    """Which cluster: a kubeconfig file and context, or (both None, in a pod) in-cluster."""

    kubeconfig: Path | None = None
    context: str | None = None


def in_cluster(env: dict[str, str] | None = None, token: Path = SERVICE_ACCOUNT_TOKEN) -> bool:
    env = dict(os.environ) if env is None else env
    return bool(env.get("KUBERNETES_SERVICE_HOST")) and token.is_file()


def check_target(target: KubeTarget) -> None:
    """The cheap part of the choice, done before anything starts: a named file must exist."""
    if target.kubeconfig is not None and not target.kubeconfig.is_file():
        raise UsageError(
            f"--kubeconfig {target.kubeconfig} does not exist",
            hint="pass the kubeconfig of the spoke cluster, e.g. from `kind get kubeconfig`",
        )


def _default_kubeconfig() -> list[Path]:
    text = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return [Path(p).expanduser() for p in text.split(os.pathsep) if p]


async def load_configuration(target: KubeTarget) -> Configuration:
    """A private client configuration for `target`; PrerequisiteError when there is none."""
    check_target(target)
    cfg = Configuration()
    if target.kubeconfig is None and target.context is None and in_cluster():
        # Re-reads the (rotated) token file as it ages. The loader has no annotations.
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        return cfg
    paths = [target.kubeconfig] if target.kubeconfig else _default_kubeconfig()
    if not any(p.is_file() for p in paths):
        raise PrerequisiteError(
            "no Kubernetes API to talk to: not running in a pod and no kubeconfig found"
            f" ({os.pathsep.join(map(str, paths))})",
            hint="pass --kubeconfig FILE [--context NAME]",
        )
    try:
        await config.load_kube_config(
            config_file=os.pathsep.join(map(str, paths)),
            context=target.context,
            client_configuration=cfg,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError, KeyError) as exc:
        where = f"context {target.context!r} of " if target.context else ""
        raise PrerequisiteError(
            f"cannot use {where}kubeconfig {os.pathsep.join(map(str, paths))}: {exc}",
            hint="check the file and the context name (`kubectl config get-contexts`)",
        ) from None
    return cfg


async def open_client(target: KubeTarget) -> ApiClient:
    """An ApiClient over a private configuration; the caller closes it (`await api.close()`)."""
    return ApiClient(configuration=await load_configuration(target))


async def read_json(response: Any) -> dict[str, Any]:
    """The JSON body of a call made with `_preload_content=False` (an aiohttp response).

    Reading the API's JSON as it is, rather than the client's models, keeps an object the
    models would refuse (a field they do not know, a required one a fake server leaves out)
    readable, and costs nothing to build. Such calls do not raise on an error status, so
    this does: ApiException, with the server's Status as its body.
    """
    try:
        data = await response.read()
        if response.status >= 400:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = data.decode("utf-8", "replace")
            raise error
    finally:
        response.release()
    body = json.loads(data)
    return body if isinstance(body, dict) else {}


def transient(exc: BaseException) -> bool:
    """Worth retrying: the API server was unreachable, overloaded or timed out."""
    if isinstance(exc, ApiException):
        return exc.status in TRANSIENT_STATUS or exc.status is None
    return isinstance(exc, aiohttp.ClientError | TimeoutError | OSError)


def describe(exc: BaseException) -> str:
    """One short line about a failed API call, with the server's own message when it sent
    one (a Status object holds no credentials)."""
    if isinstance(exc, ApiException):
        message = ""
        try:
            body = json.loads(exc.body) if exc.body else {}
            message = str(body.get("message") or "") if isinstance(body, dict) else ""
        except (TypeError, ValueError):
            message = ""
        head = f"HTTP {exc.status} {exc.reason or ''}".strip()
        return f"{head}: {message[:300]}" if message else head
    if isinstance(exc, TimeoutError):
        return "the API server did not answer in time"
    return f"{type(exc).__name__}: {str(exc)[:300]}" if str(exc) else type(exc).__name__
