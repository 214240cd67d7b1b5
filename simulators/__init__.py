"""Simulators: physically plausible Modbus TCP and OPC UA devices for every device class.

Never imports collectors or gateway.
"""
