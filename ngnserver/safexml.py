"""The one XML parser configuration for everything we read from outside (SOAP requests,
vendor answers): entities are never resolved, nothing is fetched, no DTD is loaded, and
lxml's own limits (depth 256, 10 MB text nodes) stay on because huge_tree is off. Callers
still refuse documents that declare a DOCTYPE."""

from lxml import etree


def parser() -> etree.XMLParser:
    """A new hardened parser (lxml keeps a parsing context per thread, so one may serve a
    module shared by threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
