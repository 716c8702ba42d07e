"""ngnserver: a provisioning server wire-compatible with AG Projects' NGNPro SOAP interface."""

__version__ = "0.1.0"
