"""NUL bytes and undecodable text in user input are cleaned and stored, never a failure, on SQLite
and PostgreSQL; and no log line carries a failed statement's parameters (people's briefs)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from sqlalchemy import select, text

from bot import texts
from bot.app.runtime import Runtime
from bot.events import Actor, Attachment, Locator, MessageRef, RequestPosted, ThreadReply
from bot.settings import Settings
from bot.text_hygiene import clean_event
from storage import projects as store
from storage.engine import Database
from storage.hygiene import clean_text
from storage.models import Feedback, Person, Project, Version
from tests.core._process_log import process_log


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    yield from process_log()


# What arrives: a NUL, other control bytes, and a byte that is not UTF-8 read the way Python reads
# undecodable input (surrogateescape) - a lone surrogate no database driver can encode.
BAD_BYTE = b"\xff".decode("utf-8", "surrogateescape")
HOSTILE = f"[writing] a post on\x00 onboarding\x07 with {BAD_BYTE} and\r\nmore"


async def _one(db: Database, model: Any) -> Any:
    async with db.session() as s:
        return (await s.execute(select(model))).scalars().one()


# ---------------------------------------------------------------------------- the cleaning


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b", "ab"),
        ("line\r\nnext\rlast", "line\nnext\nlast"),
        ("page one\x0cpage two", "page one\npage two"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        (f"bad {BAD_BYTE} byte", "bad \ufffd byte"),
        ("\ud83d\ude00 joined", "😀 joined"),  # a surrogate pair split in two code points
        ("\x1b[31mred\x7f", "[31mred"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60))
def test_cleaned_text_is_storable_anywhere(raw: str) -> None:
    out = clean_text(raw)
    out.encode("utf-8")  # no lone surrogate left
    assert all(ch in "\n\t" or ord(ch) >= 0x20 for ch in out) and "\x7f" not in out
    assert clean_text(out) == out
    if out == raw:
        assert clean_text(raw) is raw  # clean text costs no copy


def test_every_string_of_an_event_is_cleaned() -> None:
    event = RequestPosted(
        MessageRef("console", "C1", "r1"),
        Actor("console", "u1", f"Eve\x00{BAD_BYTE}", roles=frozenset({"Writers\x00"})),
        "brief\x00",
        attachments=(Attachment(f"notes{BAD_BYTE}.txt", "file\x00text"),),
        deadline="Friday\x00",
    )
    cleaned = clean_event(event)
    assert cleaned.text == "brief" and cleaned.actor.name == "Eve\ufffd" and cleaned.actor.roles == {"Writers"}
    assert cleaned.attachments[0] == Attachment("notes\ufffd.txt", "filetext") and cleaned.deadline == "Friday"
    plain = RequestPosted(MessageRef("console", "C1", "r2"), Actor("console", "u1", "Eve"), "brief")
    assert clean_event(plain) is plain


# ---------------------------------------------------------------------------- through the workflow


async def test_hostile_request_and_reply_are_stored_cleaned_and_drafted(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], log_output: io.StringIO
) -> None:
    rt = make_runtime(settings_factory())
    attachment = Attachment(f"notes\x00{BAD_BYTE}.txt", text=f"from the PDF:\x00 budget {BAD_BYTE} 5000\x0cpage 2")
    event = RequestPosted(
        MessageRef("console", "C1", "r1"), Actor("console", "eve", f"Eve\x00{BAD_BYTE}"), HOSTILE, (attachment,)
    )
    await rt.workflow.handle(event)
    reply = ThreadReply(Locator(number=1), event.actor, f"shorter\x00 please {BAD_BYTE}")
    await rt.workflow.handle(reply)

    project = await _one(rt.db, Project)
    assert (project.state, project.current_version) == ("in_review", 2)
    assert "a post on onboarding with \ufffd and\nmore" in project.brief
    assert "from the PDF: budget \ufffd 5000\npage 2" in project.brief and "notes\ufffd.txt" in project.brief
    assert project.requester_name == "Eve\ufffd"
    assert (await _one(rt.db, Feedback)).text == "shorter please \ufffd"
    assert (await _one(rt.db, Person)).name == "Eve\ufffd"
    assert texts.INTERNAL_ERROR not in rt.chat.texts()  # type: ignore[attr-defined]
    assert "Traceback" not in log_output.getvalue()


async def test_storage_cleans_what_reaches_it_directly(db: Database, clock: Any) -> None:
    """The last line of defence: text written by any path is cleaned as it is bound."""
    now = clock.now()
    async with db.session() as session:
        project = await store.create_project(
            session=session,
            platform="console",
            channel="C1",
            request_message_id="r1",
            requester_id="u\x001",
            requester_name=f"Eve{BAD_BYTE}",
            brief=f"brief\x00 with {BAD_BYTE}",
            category="writing",
            agent="offline",
            state="drafting",
            created_at=now,
            updated_at=now,
        )
        assert project.id is not None
        await store.add_version(
            session=session, project_id=project.id, number=1, text="draft\x00", agent="offline", created_at=now
        )
    project = await _one(db, Project)
    assert (project.brief, project.requester_name, project.requester_id) == ("brief with \ufffd", "Eve\ufffd", "u1")
    assert (await _one(db, Version)).text == "draft"


# ---------------------------------------------------------------------------- nothing of a brief in logs


async def _refuse_inserts(db: Database, marker: str) -> None:
    """A trigger that fails any project whose brief holds `marker`: a database error caused by a
    statement whose parameters carry a person's brief."""
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION refuse_marked() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.brief LIKE '%{marker}%' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(text("DROP TRIGGER IF EXISTS refuse_marked ON projects"))
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_marked BEFORE INSERT ON projects "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_marked()"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_marked BEFORE INSERT ON projects "
                    f"WHEN NEW.brief LIKE '%{marker}%' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )


async def _allow_inserts(db: Database) -> None:
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(text("DROP TRIGGER IF EXISTS refuse_marked ON projects"))
            await conn.execute(text("DROP FUNCTION IF EXISTS refuse_marked()"))
        else:
            await conn.execute(text("DROP TRIGGER IF EXISTS refuse_marked"))


async def test_a_failed_statement_logs_none_of_the_brief(
    make_runtime: Callable[..., Runtime],
    settings_factory: Callable[..., Settings],
    db: Database,
    log_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rt = make_runtime(settings_factory())
    brief = "Confidential: merger with Initech, codename BLUEBIRD-explode"
    await _refuse_inserts(db, "explode")
    try:
        await rt.workflow.handle(
            RequestPosted(MessageRef("console", "C1", "r1"), Actor("console", "eve", "Eve Example"), brief)
        )
    finally:
        await _allow_inserts(db)
    assert rt.chat.texts()[-1] == texts.INTERNAL_ERROR  # type: ignore[attr-defined]
    logged = log_output.getvalue()
    assert "unhandled error" in logged and "refused by the test" in logged  # the failure is logged...
    for piece in ("Initech", "BLUEBIRD", "Eve Example"):  # ...without the values it was writing
        assert piece not in logged and piece not in caplog.text


async def test_an_actor_name_longer_than_its_column_is_cut_not_refused(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    # Before: PostgreSQL refused the insert (varchar(128)): a traceback and "Something went wrong".
    rt = make_runtime(settings_factory())
    long = Actor("console", "u" * 300, name="N" * 300)
    await rt.workflow.handle(
        RequestPosted(MessageRef("console", "C1", "m1"), long, "a post on tea", event_key="Ev-long")
    )
    async with db.session() as s:
        project = (await s.execute(select(Project))).scalar_one()
        person = (await s.execute(select(Person))).scalar_one()
    assert project.requester_id == "u" * 128 and project.current_version == 1
    assert person.name == "N" * 128
    assert texts.INTERNAL_ERROR not in rt.chat.texts()  # type: ignore[attr-defined]
