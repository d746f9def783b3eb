"""Kraken Spot: REST (httpx), WebSocket v2 and a local Kraken-compatible sandbox."""
