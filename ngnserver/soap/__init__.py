"""The wire: SOAP 1.1 RPC/encoded (SOAP section 5) in and out, for services declared with
spyne. Knows XML and spyne's type declarations; knows nothing of customers or records."""

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC_NS = "http://schemas.xmlsoap.org/soap/encoding/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
TYPES_NS = "urn:AGProjects:NGNPro"
