"""OPC UA collector: subscriptions (or batched reads) on one session per server.

``collector.py`` (sessions, supervisor, devices), ``model.py`` (the pure core: status codes,
readings, browse paths, batching), ``security.py`` (policies, certificate folders, trust),
``session.py`` (the only module importing asyncua). See docs/collectors-opcua.md.
"""

from collectors.opcua.collector import OpcuaCollector, OpcuaDevice
from collectors.opcua.security import OpcuaSecurity, SecurityMode, SecurityPolicy

__all__ = ["OpcuaCollector", "OpcuaDevice", "OpcuaSecurity", "SecurityMode", "SecurityPolicy"]
