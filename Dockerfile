# One image for the hub and the spoke agent ("orchestrator"); the command picks the role:
#   python -m kindfleet.platform.hub ...      python -m kindfleet.platform.agent ...
# Built by `kindfleet deploy` (or `docker build -t kindfleet/platform:dev .`) from the
# locked dependencies in uv.lock, without the dev tools, to run as a non-root user.
#
# PYTHON_IMAGE is any Debian-like image with Python 3.11+ and its `venv` module: the
# official python:3.11-slim by default; `--build-arg PYTHON_IMAGE=...` for a mirror or a
# distribution's Python (which refuses system-wide pip installs: uv gets a venv of its own).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_PROJECT_ENVIRONMENT=/opt/kindfleet \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first (cached while only the code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --no-editable --python python3
COPY src ./src
# src/kindfleet/templates links to the example fleet files (`kindfleet init` writes them).
COPY examples ./examples
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable --python python3

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="kindfleet platform" \
      org.opencontainers.image.description="hub and spoke agent of the kindfleet hub-spoke AI platform" \
      org.opencontainers.image.source="https://github.com/kindfleet/kindfleet"
RUN groupadd --system --gid 10001 kindfleet \
 && useradd --system --uid 10001 --gid kindfleet --home-dir /var/lib/kindfleet --shell /usr/sbin/nologin kindfleet \
 && mkdir -p /var/lib/kindfleet /etc/kindfleet \
 && chown kindfleet:kindfleet /var/lib/kindfleet
COPY --from=build /opt/kindfleet /opt/kindfleet
# The hub's defaults match what `kindfleet deploy` mounts, so `docker run -v
# ./tokens:/etc/kindfleet/tokens:ro -p 8080:8080 IMAGE` runs a hub (file `client`). No
# fleet-wide spoke token by default: spokes join with per-spoke join tokens.
ENV PATH=/opt/kindfleet/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KINDFLEET_HUB_STORE=sqlite:////var/lib/kindfleet/hub.db \
    KINDFLEET_HUB_CLIENT_TOKEN_FILE=/etc/kindfleet/tokens/client
USER 10001:10001
WORKDIR /var/lib/kindfleet
EXPOSE 8080
# Hub: its /healthz. Agent: a fresh heartbeat in its state directory. Chosen by role.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-m", "kindfleet.platform.health"]
ENTRYPOINT ["python", "-m"]
CMD ["kindfleet.platform.hub", "--host", "0.0.0.0", "--port", "8080"]
