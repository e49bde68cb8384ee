"""Renderings of results: terminal text, JSON, CSV, Zeek conn.log, ladder diagrams."""
