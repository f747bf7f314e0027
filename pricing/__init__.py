"""The pure billing engine: frozen value objects in, value objects out; no IO, no clock."""
