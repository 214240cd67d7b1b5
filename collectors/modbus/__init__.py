"""Modbus TCP collector: request planner (pure), decoder, and the pymodbus shell."""
