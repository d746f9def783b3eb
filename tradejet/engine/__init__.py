"""Universe, schedule, regimes, selection, risk, portfolio, the step and the drivers."""
