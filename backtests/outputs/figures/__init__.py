"""The figures of the optional stages (attributions, risk, universes); plots.py is their base."""
