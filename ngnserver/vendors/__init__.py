"""Vendor API clients, one module per vendor: wire format and errors only, no database."""
