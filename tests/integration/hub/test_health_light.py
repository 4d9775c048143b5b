"""The probe's module starts fast: in a fresh interpreter, importing it loads neither the
fleet tooling nor the platform's dependencies (the liveness probe of every orchestrator
runs it, on nodes that may be busy)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "kindfleet.fleet", "kindfleet.deploy", "kindfleet.lifecycle", "kindfleet.providers",
    "kindfleet.fleetspec", "kindfleet.platform.agent", "kindfleet.platform.hub",
    "kindfleet.platform.wire", "pydantic", "yaml", "fastapi", "uvicorn", "sqlalchemy",
    "kubernetes_asyncio", "httpx2", "rich", "typer", "urllib.request", "http.client", "ssl",
    "email",
)  # fmt: skip


def test_importing_the_health_check_loads_nothing_heavy():
    script = (
        "import json, sys, time\n"
        "started = time.perf_counter()\n"
        "import kindfleet.platform.health\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'seconds': time.perf_counter() - started}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    heavy = [m for m in loaded["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []
    kindfleet = [m for m in loaded["modules"] if m.startswith("kindfleet")]
    assert kindfleet == ["kindfleet", "kindfleet._version", "kindfleet.platform",
                         "kindfleet.platform.health"]  # fmt: skip
    print(f"import kindfleet.platform.health: {loaded['seconds'] * 1000:.0f} ms")


def test_the_hub_check_reads_the_status_line_of_a_real_server():
    import http.server
    import threading

    from kindfleet.platform import health

    class Handler(http.server.BaseHTTPRequestHandler):
        code = 200

        def do_GET(self):
            self.send_response(Handler.code if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        assert health.check_hub(port) is None
        Handler.code = 503
        assert "answered HTTP/1.0 503" in (health.check_hub(port) or "")
    finally:
        server.shutdown()
        server.server_close()
    assert "did not answer" in (health.check_hub(port, timeout=1) or "")
