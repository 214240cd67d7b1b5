"""Gateway: MQTT in/out, alarm engine, InfluxDB writer with spool, notifications.

Built in the historian and alarm issues; never renders UI.
"""
