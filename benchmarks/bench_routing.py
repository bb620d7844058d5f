"""Learned routing on a simulated team: does it find the best agent, and what does learning cost?

Three categories, three candidate agents each with a true acceptance rate (data science uses the
research's pair, 0.64 against 0.30, and a third at 0.17). A simulated expert decides every project,
accepting with the routed agent's rate. Each category sees PROJECTS projects, routed one at a time
from the decided history so far, by three policies:

- learned: draftloop's policy (bot/orchestrator/stats.py: Thompson sampling over Beta posteriors);
- fixed: always the first agent the category lists (draftloop's default, one agent per category);
- random: a candidate drawn uniformly.

Printed per category and policy: the share of the last 100 projects routed to the best agent
(target for learned: at least 0.85) and the regret against always routing to the best agent, in
expected acceptances lost (sum of best rate minus routed rate). Every draw comes from one seeded
generator per run: the same seed prints the same figures.

    python -m benchmarks.bench_routing             # 500 projects per category, 20 runs averaged
    python -m benchmarks.bench_routing --tiny      # 500 projects per category, 2 runs
    python -m benchmarks.bench_routing --seed 7
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.orchestrator.stats import Candidate, thompson

TEAM: dict[str, tuple[tuple[str, float], ...]] = {
    # the first listed is the fixed route: what a team configures before it has any history
    "data-science": (("gpt", 0.30), ("claude", 0.64), ("local", 0.17)),
    "writing": (("claude", 0.55), ("gpt", 0.72), ("local", 0.40)),
    "translation": (("local", 0.45), ("claude", 0.35), ("gpt", 0.80)),
}
TARGET = 0.85
LAST = 100

Policy = Callable[[list[Candidate], random.Random], Candidate]


def learned(candidates: list[Candidate], rng: random.Random) -> Candidate:
    return thompson(candidates, rng)


def fixed(candidates: list[Candidate], rng: random.Random) -> Candidate:
    return candidates[0]


def uniform(candidates: list[Candidate], rng: random.Random) -> Candidate:
    return rng.choice(candidates)


POLICIES: dict[str, Policy] = {"learned": learned, "fixed": fixed, "random": uniform}


@dataclass
class Outcome:
    best_share_last: float
    regret: float
    accepted: int


def simulate(agents: Sequence[tuple[str, float]], policy: Policy, projects: int, seed: int) -> Outcome:
    rng = random.Random(seed)
    rates = dict(agents)
    best = max(rates, key=lambda a: rates[a])
    history = {name: Candidate(name) for name, _ in agents}
    routed: list[str] = []
    regret, accepted = 0.0, 0
    for _ in range(projects):
        pick = policy([history[name] for name, _ in agents], rng)
        ok = rng.random() < rates[pick.agent]
        history[pick.agent] = Candidate(pick.agent, pick.decided + 1, pick.accepted + int(ok))
        routed.append(pick.agent)
        regret += rates[best] - rates[pick.agent]
        accepted += int(ok)
    tail = routed[-LAST:]
    return Outcome(sum(1 for a in tail if a == best) / len(tail), regret, accepted)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="2 runs instead of 20: a smoke run")
    parser.add_argument("--seed", type=int, default=2026, help="the first run's seed (default 2026)")
    parser.add_argument("--projects", type=int, default=None, help="projects per category (default 500)")
    parser.add_argument("--runs", type=int, default=None, help="runs averaged, seeds seed..seed+runs-1 (default 20)")
    args = parser.parse_args(argv)
    projects = args.projects or 500
    runs = args.runs or (2 if args.tiny else 20)
    if projects < LAST:
        parser.error(f"--projects must be at least {LAST}")
    print(f"bench_routing: {projects} projects per category, {runs} run(s) from seed {args.seed}")
    print(f"{'category':<14}{'policy':<9}{'best share (last 100)':>23}{'regret':>10}{'accepted':>10}")
    low = 1.0
    for c, (category, agents) in enumerate(TEAM.items()):
        rates = ", ".join(f"{name} {rate:.2f}" for name, rate in agents)
        print(f"{category:<14}({rates})")
        for name, policy in POLICIES.items():
            # the same seeds for every policy: they meet the same expert
            results = [simulate(agents, policy, projects, args.seed + run * 1000 + c) for run in range(runs)]
            share = statistics.fmean(r.best_share_last for r in results)
            regret = statistics.fmean(r.regret for r in results)
            accepted = statistics.fmean(r.accepted for r in results)
            if name == "learned":
                low = min(low, share)
            print(f"{'':<14}{name:<9}{share:>23.3f}{regret:>10.1f}{accepted:>10.1f}")
    verdict = "met" if low >= TARGET else "NOT met"
    print(f"learned routing: lowest share to the best agent {low:.3f}; target {TARGET:.2f} {verdict}")
    return 0 if low >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
