"""Pure renderers: the resolved fleet in, documents other tools read out."""
