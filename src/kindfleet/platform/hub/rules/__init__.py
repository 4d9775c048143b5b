"""The hub's rules as pure functions: placement, the workload state machine, spoke leases
and the disruption guard, delivery, times, views. No store, no web, no clock, no I/O: every
function takes `now` and plain values, so tests walk every edge without a database or a sleep.
"""
