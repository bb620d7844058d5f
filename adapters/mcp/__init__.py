"""The outside front doors: any agent can ask the team for review.

Both call the same core operations (bot/loop/external.py) and hold no copy of the loop:

tools.py       the four tools: schemas, descriptions, and `call`, shared by both doors
arguments.py   reading a tool's arguments, one sentence per mistake
server.py      the MCP server (official SDK, low-level Server): tools and project transcripts
run.py         `draftloop mcp`: stdio, or streamable HTTP with --http
platforms.py   the chat platform `draftloop mcp` posts to ([mcp] channel, else the console on stderr)
auth.py        the bearer token (DRAFTLOOP_MCP_TOKEN) for both doors over HTTP
http_api.py    the JSON API mounted on `draftloop serve` (/api/projects…)
"""
