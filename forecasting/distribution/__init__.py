"""Forecast distributions of h-session log returns: the frame, the methods, their scores."""
