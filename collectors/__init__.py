"""Collectors: poll or subscribe to devices (Modbus TCP, OPC UA) and publish readings to MQTT.

Built in the collectors issue; never writes to InfluxDB or SQL directly.
"""
