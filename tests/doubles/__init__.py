"""Test doubles: stand-ins for what cannot run on a test machine."""
