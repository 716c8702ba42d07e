"""The rules of NGNPro: callers and scope, customers, properties, credits. Plain functions
over a SQLAlchemy Session that raise NGNError; nothing here knows SOAP."""
