"""The throttled editor: edits no faster than the platform's min_edit_interval, latest text shown."""

from __future__ import annotations

from bot.events import MessageRef, ThreadRef
from bot.loop.streaming import CURSOR, ThrottledEditor
from bot.ports import PlatformLimits
from bot.replies import DraftHeader, Reply, ReplyKind
from tests.fakes.recording_chat import RecordingChat


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _editor(interval: float, max_chars: int = 4000) -> tuple[ThrottledEditor, RecordingChat, ManualClock]:
    chat = RecordingChat(name="slack", limits=PlatformLimits(max_message_chars=max_chars, min_edit_interval=interval))
    ref = await chat.post(ThreadRef("slack", "C1", "t1"), Reply("Writing v1…"))
    clock = ManualClock()
    editor = ThrottledEditor(
        chat,
        ThreadRef("slack", "C1", "t1"),
        DraftHeader(1, "drafting", 1),
        message=MessageRef("slack", "C1", ref.message_id, "t1"),
        clock=clock,
    )
    return editor, chat, clock


async def test_edits_respect_the_minimum_interval_and_show_the_latest_text() -> None:
    interval, step, steps = 1.0, 0.1, 50  # a delta every 100 ms for 5 s
    editor, chat, clock = await _editor(interval)
    text = ""
    edit_times: list[float] = []
    for i in range(steps):
        clock.now += step
        text += f"word{i} "
        before = editor.edits
        await editor.update(text)
        if editor.edits > before:
            edit_times.append(clock.now)
            assert chat.sent[-1].reply.text == text + CURSOR  # the newest text, not a queued old one
    gaps = [b - a for a, b in zip(edit_times, edit_times[1:], strict=False)]
    assert all(gap >= interval - 1e-9 for gap in gaps)
    assert editor.edits == len(edit_times) <= int(steps * step / interval)
    assert editor.edits >= int(steps * step / interval) - 1
    assert all(s.reply.kind == ReplyKind.PROGRESS for s in chat.sent if s.op == "edit")


async def test_unchanged_text_is_not_sent_again() -> None:
    editor, chat, clock = await _editor(0.5)
    for _ in range(5):
        clock.now += 1.0
        await editor.update("same text")
    assert editor.edits == 1


async def test_long_text_shows_its_tail_within_the_message_limit() -> None:
    editor, chat, clock = await _editor(1.0, max_chars=200)
    clock.now += 2
    text = "".join(f"{i:04d} " for i in range(500))
    await editor.update(text)
    shown = chat.sent[-1].reply.text
    assert len(shown) <= 200 and shown.startswith("…") and shown.endswith(text[-20:] + CURSOR)


async def test_without_a_message_a_fast_draft_is_never_shown_half_done() -> None:
    chat = RecordingChat(name="slack", limits=PlatformLimits(min_edit_interval=1.0))
    clock = ManualClock()
    editor = ThrottledEditor(chat, ThreadRef("slack", "C1", "t1"), DraftHeader(1, "drafting", 1), clock=clock)
    for i in range(20):  # the whole draft within 0.95 s of its first words
        clock.now += 0.05
        await editor.update(f"words {i}")
    assert chat.sent == [] and editor.message is None


async def test_without_a_message_a_slow_draft_is_posted_after_one_interval_then_edited() -> None:
    chat = RecordingChat(name="slack", limits=PlatformLimits(min_edit_interval=1.0))
    clock = ManualClock()
    editor = ThrottledEditor(chat, ThreadRef("slack", "C1", "t1"), DraftHeader(1, "drafting", 1), clock=clock)
    text = ""
    for i in range(30):  # 3 s of streaming
        clock.now += 0.1
        text += f"w{i} "
        await editor.update(text)
    assert chat.sent[0].op == "post" and editor.message is not None
    assert chat.sent[0].message_id == editor.message.message_id
    assert chat.sent[0].reply.text.startswith("w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 ")  # after one interval
    assert [s.op for s in chat.sent[1:]] == ["edit"] * editor.edits and editor.edits == 1
    assert all(s.reply.kind == ReplyKind.PROGRESS for s in chat.sent)
