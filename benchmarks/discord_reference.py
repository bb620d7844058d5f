"""The least a Discord drafting bot can do, for `bench_discord --reference` to compare against.

A discord.py client with the same intents as draftloop's: a mention or `/draft` opens a thread, the
model is called through the same OpenAI SDK (streamed, like draftloop's agents) with the same system
prompt (so the fake model's answer, which quotes the prompt's first line, is as long as draftloop's), and
the answer is posted in the thread with one button. No database, no acknowledgement, no streamed edits, no
permissions: whatever draftloop takes beyond this is the price of its bookkeeping.

    python -m benchmarks.discord_reference   # env: DISCORD_TOKEN, DISCORD_API_URL, DISCORD_GATEWAY_URL, LLM_URL
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import discord
import openai
from discord import app_commands

from adapters.chat.discord.client import intents
from adapters.chat.discord.service import configure_urls
from bot.prompts import system_prompt


class ReferenceBot(discord.Client):
    def __init__(self, llm_url: str) -> None:
        super().__init__(intents=intents())
        self.tree = app_commands.CommandTree(self)
        self.llm = openai.AsyncOpenAI(base_url=llm_url, api_key="bench", max_retries=0)
        self.tasks: set[asyncio.Task[None]] = set()

        @self.tree.command(name="draft", description="Draft a request")
        async def draft(interaction: discord.Interaction[Any], brief: str, category: str = "") -> None:
            callback = await interaction.response.send_message(brief)
            message_id = getattr(callback.resource, "id", None) or callback.message_id
            assert message_id is not None and interaction.channel is not None
            channel: Any = interaction.channel
            self._spawn(self.work(channel.get_partial_message(message_id), brief, category))

    async def setup_hook(self) -> None:
        await self.tree.sync()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or not any(u.id == me.id for u in message.mentions):
            return
        self._spawn(self.work(message, message.content))

    async def work(
        self, message: discord.Message | discord.PartialMessage, brief: str, category: str = "other"
    ) -> None:
        thread = await message.create_thread(name=brief[:80] or "request")
        stream = await self.llm.chat.completions.create(
            model="bench-model",
            messages=[
                {"role": "system", "content": system_prompt(category or "other")},
                {"role": "user", "content": brief},
            ],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = []
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Accept", custom_id=f"ref:accept:{thread.id}"))
        await thread.send("".join(parts)[:2000], view=view)


async def main() -> None:
    configure_urls(os.environ["DISCORD_API_URL"], os.environ["DISCORD_GATEWAY_URL"])
    bot = ReferenceBot(os.environ["LLM_URL"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(bot.start(os.environ["DISCORD_TOKEN"]))
    await stop.wait()
    await bot.close()
    await asyncio.gather(runner, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
