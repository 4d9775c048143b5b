"""Kubernetes resource quantities ("500m", "8Gi") as plain numbers.

Workloads and spokes state cpu and memory the way Kubernetes users write them; the
placement core wants numbers it can add and compare exactly, so cpu becomes integer
millicores and memory integer bytes.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_CPU = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m)?$")


# Kept per value (and type: True is not 1): every submission parses its quantities twice
# (the wire check and the request), and most fleets write a handful of them.
@lru_cache(maxsize=4096, typed=True)
def parse_memory(value: str | int) -> int:
    """Bytes in a memory quantity: 512Mi, 8Gi, 1G, 1048576."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"memory {value} must not be negative")
        return value
    match = _MEMORY.match(str(value).strip())
    if not match:
        raise ValueError(f"memory {value!r} is not a quantity; write e.g. 512Mi, 8Gi or 1G")
    number, suffix = match.groups()
    factor = _BINARY.get(suffix or "") or _DECIMAL.get(suffix or "") or 1
    size = float(number) * factor
    if not size < _LARGEST:  # inf too (400 digits of Ei): int() raised OverflowError
        raise ValueError(f"memory {_short(value)} is larger than any machine's: at most 8Ei")
    return int(size)


@lru_cache(maxsize=4096, typed=True)
def parse_cpu(value: str | float) -> int:
    """Millicores in a cpu quantity: 500m, 2, 0.5."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"cpu {value} must not be negative")
        millis = float(value) * 1000
    else:
        match = _CPU.match(str(value).strip())
        if not match:
            raise ValueError(f"cpu {value!r} is not a quantity; write e.g. 500m, 2 or 0.5")
        number, milli = match.groups()
        millis = float(number) * (1 if milli else 1000)
    if not millis < _LARGEST:  # inf and nan too: round() raised OverflowError
        raise ValueError(f"cpu {_short(value)} is more than any machine has")
    return round(millis)


_LARGEST = float(2**63)  # bytes or millicores: what an int64 (Kubernetes' too) holds


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def format_memory(size: int) -> str:
    for suffix in ("Gi", "Mi", "Ki"):
        factor = _BINARY[suffix]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def format_cpu(millicores: int) -> str:
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"
