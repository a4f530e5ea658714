"""Pure verification cores: bytes or arrays in, dataclasses out; no Flask or database imports."""
