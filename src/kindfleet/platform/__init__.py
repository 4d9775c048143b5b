"""The reference hub-spoke AI platform: a hub that places work on spokes, and a spoke
agent that pulls it, runs it and reports back only status and telemetry."""
