"""Local stand-ins for Slack's side: a fake Web API server and signed app requests."""
