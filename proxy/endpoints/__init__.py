"""Endpoints the sidecar answers itself: discovery documents and the OAuth token service."""
