"""The orchestrator (issue 16): which agent drafts a request (learned routing), whether a draft
needs the experts at once, a check before experts see a draft, escalation and decision deadlines,
and the digest's account of it. It sits under the loop and the reports (both call it) and over the
core modules; what it stores is storage/routing.py's."""
