"""Commands: help, status, digest, retry, cancel, from a slash command, the console or a thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import texts
from bot.digest import Period, build_report, render_text
from bot.errors import NotAllowed, UnknownProject, UserFacingError
from bot.events import CommandInvoked, Locator
from bot.replies import Reply, ReplyKind
from bot.states import State, check_move
from storage import projects as store

if TYPE_CHECKING:
    from bot.workflow import Workflow

DIGEST_DAYS = 7


class CommandRouter:
    def __init__(self, workflow: Workflow) -> None:
        self.wf = workflow

    async def run(self, cmd: CommandInvoked) -> None:
        handler = {
            "help": self.help,
            "status": self.status,
            "digest": self.digest,
            "retry": self.retry,
            "cancel": self.cancel,
        }.get(cmd.name.lower())
        if handler is None:
            raise UserFacingError(f"Unknown command `{cmd.name}`. Try help, status, digest, retry or cancel.")
        await handler(cmd)

    async def _say(self, cmd: CommandInvoked, reply: Reply) -> None:
        await self.wf.platform(cmd.reply_to.platform).post(cmd.reply_to, reply)

    async def help(self, cmd: CommandInvoked) -> None:
        await self._say(cmd, Reply(texts.help_text(cmd.reply_to.platform), kind=ReplyKind.HELP))

    async def status(self, cmd: CommandInvoked) -> None:
        if cmd.locator is not None:
            project = await self.wf.find(cmd.locator)
            if project is None:
                raise UnknownProject(texts.unknown_project(cmd.locator.number or 0))
            text = texts.status_line(project)
            if project.last_error and project.state == State.FAILED:
                text += f"\nLast error: {project.last_error}"
            await self._say(cmd, Reply(text, kind=ReplyKind.STATUS, header=self.wf.header(project)))
            return
        channel = None if cmd.reply_to.platform == "console" else cmd.reply_to.channel
        async with self.wf.db.session() as session:
            open_ = await store.open_projects(session=session, platform=cmd.reply_to.platform, channel=channel)
        lines = [texts.status_line(p) for p in open_] or ["No open projects."]
        await self._say(cmd, Reply("\n".join(lines), kind=ReplyKind.STATUS))

    async def digest(self, cmd: CommandInvoked) -> None:
        tz = self.wf.settings.tz
        period = Period.last_days(DIGEST_DAYS, now=self.wf.clock.now(), tz=tz)
        report = await build_report(self.wf.db, period)
        await self._say(cmd, Reply(render_text(report), kind=ReplyKind.DIGEST, data=report))

    async def _project(self, cmd: CommandInvoked) -> tuple[int, State]:
        locator = cmd.locator or _number_arg(cmd)
        if locator is None:
            raise UserFacingError(f"Which project? Use `{cmd.name}` in its thread or `#N {cmd.name}`.")
        project = await self.wf.find(locator)
        if project is None or project.id is None:
            raise UnknownProject(texts.unknown_project(locator.number or 0))
        if not self.wf.may_administer(cmd.actor, project):
            raise NotAllowed(f"Only the requester or an admin can {cmd.name} #{project.id}.")
        return project.id, State(project.state)

    async def retry(self, cmd: CommandInvoked) -> None:
        number, state = await self._project(cmd)
        if state != State.FAILED:
            raise UserFacingError(
                f"#{number} is {state.value.replace('_', ' ')}; only a failed project can be retried."
            )
        async with self.wf.db.session() as session:
            project = await store.get_project(session=session, project_id=number, for_update=True)
            assert project is not None
            target = State.DRAFTING if project.current_version == 0 else State.REVISING
            check_move(State(project.state), target, number=number)
            project.state = target.value
            project.decided_at = None
            project.last_error = ""
            project.updated_at = self.wf.clock.now()
        await self._say(cmd, Reply(f"Retrying #{number}.", header=self.wf.header(project)))
        await self.wf.cycles.run(number)

    async def cancel(self, cmd: CommandInvoked) -> None:
        number, state = await self._project(cmd)
        check_move(state, State.CANCELLED, number=number)
        async with self.wf.db.session() as session:
            moved = await store.move_state(
                session=session,
                project_id=number,
                expected=[state.value],
                target=State.CANCELLED.value,
                decided_at=self.wf.clock.now(),
            )
            project = await store.get_project(session=session, project_id=number)
        if not moved or project is None:
            raise UserFacingError(f"#{number} changed just now; look at its status and try again.")
        await self._say(cmd, Reply(f"#{number} cancelled.", header=self.wf.header(project)))


def _number_arg(cmd: CommandInvoked) -> Locator | None:
    for arg in cmd.args:
        digits = arg.lstrip("#")
        if digits.isdigit():
            return Locator(number=int(digits))
    return None
