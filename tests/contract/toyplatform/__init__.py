"""A chat platform that exists only in the tests: proof that a platform is one package (its server, its
`ChatPlatform`, its service and its policy) and nothing in `bot/`. The contract suite runs every scenario
over it beside console, Slack and Discord."""
