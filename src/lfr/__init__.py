"""lfr: Live Facial Recognition deployments with the framework's safeguards built in."""

__version__ = "0.1.0"
