"""Modbus TCP collector: request planner (pure), decoder, framing (pure) and the connection."""
