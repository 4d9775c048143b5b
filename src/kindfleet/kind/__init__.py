"""What kindfleet knows about KIND itself: its config schema and its published node images."""
