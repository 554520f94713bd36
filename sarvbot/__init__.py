"""sarvbot: run a team's Sarv TES SMTP users from Slack."""

__version__ = "0.1.0"
