"""What the HTTP benchmarks share: waiting for a served process to answer /healthz."""

from __future__ import annotations

import asyncio
import subprocess

import aiohttp


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], name: str, session: aiohttp.ClientSession) -> None:
    """Poll `GET /healthz` for up to 30 s; fail at once when the process has exited."""
    for _ in range(300):
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready")
