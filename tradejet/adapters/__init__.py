"""Execution venues behind the engine's ExecutionVenue Protocol."""
