"""The service layer: the only code that commits. Views and CLI commands call one service each."""
