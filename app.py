"""Run the labkit web app: `python app.py` (or `make serve`, or `labkit serve`)."""

from labkit.ui.app import launch

launch()
