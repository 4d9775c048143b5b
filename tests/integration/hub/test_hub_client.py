"""The user-side client against a real hub process: results, and every failure turned
into a KindfleetError that says what happened and what to do."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from kindfleet.errors import EXIT_BAD_INPUT, EXIT_PREREQUISITE
from kindfleet.platform.client import (
    ConflictError,
    HubAuthError,
    HubClient,
    HubUnavailable,
    InvalidRequest,
    NotFoundError,
)
from kindfleet.platform.hub.testing import HubProcess
from kindfleet.platform.wire import BatchItem, WorkloadSpec

SPEC = {"name": "train", "command": ["python", "train.py"], "labels": {"team": "ml"}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    process = HubProcess(tmp_path_factory.mktemp("hub")).start()
    yield process
    process.kill()


@pytest.fixture
def client(hub):
    with HubClient(hub.url, hub.client_token) as c:
        yield c


def test_workload_calls(client):
    first = client.submit(SPEC, idempotency_key="client-1")
    assert first.created and first.workload.spec.name == "train"
    assert (
        client.submit(WorkloadSpec.model_validate(SPEC), idempotency_key="client-1").created
        is False
    )
    wid = first.workload.id
    assert client.get(wid).id == wid
    assert client.explain(wid).queue_position is not None
    batch = client.submit_batch(
        [SPEC, BatchItem(idempotency_key="client-b", spec=WorkloadSpec.model_validate(SPEC))]
    )
    assert [r.created for r in batch] == [True, True]
    listed = client.list_workloads(labels={"team": "ml"}, state="Pending", limit=2)
    assert len(listed.items) == 2 and listed.next_cursor is not None
    assert wid in {w.id for w in client.iter_workloads(labels={"team": "ml"}, limit=2)}
    assert client.cancel(wid).state.value == "Cancelled"
    assert client.spokes() == []
    assert client.telemetry(workload=wid) == []
    assert "kindfleet_hub_submissions_total" in client.metrics()


def test_errors_say_what_happened(client, hub):
    for call in (client.get, lambda w: client.telemetry(workload=w)):  # telemetry: "none"
        with pytest.raises(NotFoundError) as nf:
            call("wl-00000000000000000000")
        assert nf.value.exit_code == EXIT_BAD_INPUT and "no workload" in str(nf.value)
    assert client.telemetry(workload=client.submit(SPEC).workload.id) == []  # known, none yet
    client.submit(SPEC, idempotency_key="client-c")
    with pytest.raises(ConflictError, match="different spec"):
        client.submit({**SPEC, "command": ["other"]}, idempotency_key="client-c")
    selector = {"match_expressions": [{"key": "a", "operator": "In", "values": []}]}
    with pytest.raises(InvalidRequest) as bad:  # what the hub refuses comes back by field
        client.submit({**SPEC, "selector": selector})
    assert bad.value.errors[0]["path"] == "selector.match_expressions[0].values"
    with pytest.raises(HubAuthError) as auth, HubClient(hub.url, "wrong-token") as other:
        other.spokes()
    assert "refused the token (401)" in str(auth.value) and auth.value.hint
    wid = client.submit(SPEC).workload.id
    client.cancel(wid)
    with pytest.raises(ConflictError, match="already ended"):
        client.cancel(wid)


def test_a_spec_that_cannot_be_sent_is_refused_locally(client):
    from kindfleet.errors import UsageError

    with pytest.raises(UsageError, match=r"resources\.gpu"):
        client.submit({**SPEC, "resources": {"gpu": -1}})
    with pytest.raises(UsageError, match="not a workload id"):
        client.get("../spokes")
    for malformed in ("wl-nope", "WL-0123456789ABCDEF0123", "wl-0123456789abcdef012", ""):
        for call in (client.get, client.cancel, client.explain):  # named as the user typed it
            with pytest.raises(UsageError, match=f"{malformed!r} is not a workload id"):
                call(malformed)
    with pytest.raises(UsageError, match="not a workload state"):
        client.list_workloads(state="Sleeping")
    for name in ("a\nb", "b\t", "é", "a/b", "", "x" * 64):  # newlines were a bug (InvalidURL)
        for action in (client.drain, client.approve, client.remove, client.join_token):
            with pytest.raises(UsageError, match="is not a spoke name"):
                action(name)
        with pytest.raises(UsageError, match="is not a spoke name"):
            client.telemetry(spoke=name)
    with pytest.raises(UsageError, match="is not a workload id"):
        client.telemetry(workload="wl-x")
    for ttl in (8 * 86400, 0, float("nan")):  # a week and more was pydantic's, "a bug"
        with pytest.raises(UsageError, match="at most 604800 s"):
            client.join_token("s1", ttl_seconds=ttl)
    for key, says in (("", "is required"), ("é", "printable ASCII"), ("k" * 201, "at most")):
        with pytest.raises(UsageError, match=says):  # "" made a fresh key, each time anew
            client.submit(SPEC, idempotency_key=key)


def test_no_hub_listening():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with HubClient(f"http://127.0.0.1:{port}", "t", timeout=1) as client:
        assert client.ready() is False
        with pytest.raises(HubUnavailable) as err:
            client.spokes()
    assert err.value.exit_code == EXIT_PREREQUISITE
    assert "cannot reach the hub" in str(err.value) and "kindfleet up" in str(err.value)


def test_a_hub_behind_a_certificate_nobody_vouches_for_is_refused(self_signed):
    """Every client shares one TLS context (built once per process): it still verifies."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = self_signed.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for _ in range(2):  # the first client builds the context, the second reuses it
            with HubClient(f"https://127.0.0.1:{server.server_port}", "t", timeout=5) as c:
                with pytest.raises(HubUnavailable, match="TLS certificate is not trusted") as e:
                    c.list_workloads()
                assert "self-signed" in str(e.value) and "SSL_CERT_FILE" in e.value.hint
    finally:
        server.shutdown()
