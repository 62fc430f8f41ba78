"""Throwaway TLS for sandboxes that must speak HTTPS (WooCommerce basic auth needs it)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import trustme


@dataclass(frozen=True)
class SandboxTLS:
    server_context: ssl.SSLContext
    ca_pem: bytes

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context


def make_tls(*hostnames: str) -> SandboxTLS:
    """A fresh CA and a server certificate for `hostnames` (default: localhost, 127.0.0.1)."""
    authority = trustme.CA()
    certificate = authority.issue_cert(*(hostnames or ("localhost", "127.0.0.1")))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    return SandboxTLS(server_context=context, ca_pem=authority.cert_pem.bytes())
