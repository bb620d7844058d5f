"""The loop, one module per stage, in the order a request meets them:

workflow.py     hands each inbound event to its stage (and answers what cannot be handled)
intake.py       a request becomes a project, a thread and an acknowledgement
first_draft.py  the model asked as the request arrives, handed to the drafting with the intake's writes
drafting.py     leases and cycles: every version a project is owed
writing.py      one version: the model call, shown as it streams, stored with its feedback
publishing.py   the version shown in the thread (or the failure)
feedback.py     a reply: feedback that starts a revision, an aside, or a decision or command word
decisions.py    accept and reject
commands.py     help, status, digest, retry, cancel

and what they share: threads.py (projects and chat threads), registry.py (the running platforms),
transitions.py (every state change, through the state table), receipts.py (event keys, recorded
with their effect), memory.py (recent keys, people), turns.py (arrival order), streaming.py.
"""
