"""The paper venue: simulated fills with the shared fill model."""
