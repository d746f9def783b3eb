"""The paper venue: simulated fills with the shared fill model."""

from tradejet.adapters.paper.venue import PaperVenue, ReplayFeed, parse_speed

__all__ = ["PaperVenue", "ReplayFeed", "parse_speed"]
