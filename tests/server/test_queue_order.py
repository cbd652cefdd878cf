"""The fairshare order without re-ranking, against a plain reference ranking, on SQLite and PostgreSQL.

The reference is the order written out straight from the rows: each (backend, project)'s
queued jobs ranked by (creation date, seq); a project's turn is the later of its last claim
and its jobs' earliest ``queued_at``; jobs ordered by (rank, turn, seq). The queue reads
the same order from its per-project table and indexes; randomised queues (jobs created in
one order and queued in another, ties, cancels, deletes, requeues, completions, two backends,
projects of two hubs) must give the same claims, positions and experiments ahead.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from prefect_ibmq.server import fairshare
from prefect_ibmq.server.queue import FairshareQueue
from prefect_ibmq.server.replicas import Replica
from prefect_ibmq.server.rows import NewJob, job_row
from prefect_ibmq.server.schema import fairshare_turns, jobs
from prefect_ibmq.server.store import Store
from prefect_ibmq.timestamps import now_iso
from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import Identity, RunOptions

PROJECTS = [
    Identity(user="alice", hub="h1", group="g1", project="p1"),
    Identity(user="bob", hub="h1", group="g1", project="p2"),
    Identity(user="carol", hub="h1", group="g2", project="p3"),
    Identity(user="dave", hub="h2", group="g9", project="p9"),
]
BACKENDS = ("aer_simulator", "noisy_simulator")
PARTITION = ("backend", "owner_hub", "owner_group", "owner_project")


def reference(store: Store) -> dict[str, list[tuple[str, int]]]:
    """Backend -> its queued (job id, experiments) in the fairshare order, ranked the straightforward way."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.status == S.QUEUED.value)).mappings().all()
        last = {tuple(r[k] for k in PARTITION): r["last_claimed"] for r in conn.execute(select(fairshare_turns))
                .mappings()}
    by_partition: dict[tuple, list] = {}
    for row in rows:
        by_partition.setdefault(tuple(row[k] for k in PARTITION), []).append(row)
    keyed = []
    for key, members in by_partition.items():
        members.sort(key=lambda r: (r["creation_date"], r["seq"]))
        entered = min(r["queued_at"] for r in members)
        turn = max(last.get(key, 0.0), entered)
        keyed += [((rank, turn, r["seq"]), r) for rank, r in enumerate(members, start=1)]
    order: dict[str, list[tuple[str, int]]] = {}
    for _, row in sorted(keyed, key=lambda item: item[0]):
        order.setdefault(row["backend"], []).append((row["job_id"], row["num_experiments"]))
    return order


def first_overall(store: Store) -> str | None:
    """The job the reference ranking claims next across the served backends."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.status == S.QUEUED.value)).mappings().all()
        last = {tuple(r[k] for k in PARTITION): r["last_claimed"] for r in conn.execute(select(fairshare_turns))
                .mappings()}
    heads: dict[tuple, dict] = {}
    entered: dict[tuple, float] = {}
    for row in rows:
        key = tuple(row[k] for k in PARTITION)
        entered[key] = min(entered.get(key, row["queued_at"]), row["queued_at"])
        if key not in heads or (row["creation_date"], row["seq"]) < (heads[key]["creation_date"], heads[key]["seq"]):
            heads[key] = row
    if not heads:
        return None
    turn = {key: max(last.get(key, 0.0), entered[key]) for key in heads}
    return min(heads.items(), key=lambda item: (turn[item[0]], item[1]["seq"]))[1]["job_id"]


def check_positions(store: Store, queue: FairshareQueue) -> int:
    """Every queued job's position and experiments ahead agree with the reference; returns how many were checked."""
    checked = 0
    for order in reference(store).values():
        ahead = 0
        for position, (job_id, experiments) in enumerate(order, start=1):
            with store.reading(snapshot=True) as conn:
                found = fairshare.place(conn, job_id)
            assert found is not None and (found.position, found.ahead) == (position, ahead), job_id
            ahead += experiments
            checked += 1
        assert queue.info(order[-1][0]).position == len(order)
    return checked


def check_counters(store: Store) -> None:
    """The triggers' counts equal the queued rows."""
    with store.engine.connect() as conn:
        counted = {tuple(r[:4]): (r[4], r[5]) for r in conn.execute(
            select(*(fairshare_turns.c[k] for k in PARTITION), fairshare_turns.c.queued, fairshare_turns.c.experiments)
        ) if r[4] or r[5]}
        actual = {tuple(r[:4]): (r[4], r[5]) for r in conn.execute(
            select(*(jobs.c[k] for k in PARTITION), func.count(), func.sum(jobs.c.num_experiments))
            .where(jobs.c.status == S.QUEUED.value).group_by(*(jobs.c[k] for k in PARTITION))
        )}
    assert counted == actual


@pytest.mark.parametrize("seed", [1, 2])
def test_claims_and_positions_follow_the_reference_ranking(tmp_path: Path, store_url, seed: int, monkeypatch):
    # Count from both ends of a project's jobs even in these small queues (the first try stops after 2).
    monkeypatch.setattr(fairshare, "_FIRST_CAP", 2)
    rng = random.Random(seed)
    store = Store(tmp_path, store_url, origin="r-test")
    queue = FairshareQueue(store, dict.fromkeys(BACKENDS, 0.1), workers=1)
    created: list[str] = []
    running: list[str] = []
    started = time.time()
    claims = checked = 0
    try:
        for step in range(140):
            action = rng.choices(["create", "enqueue", "claim", "cancel", "delete", "requeue", "finish"],
                                 weights=[6, 8, 5, 1, 1, 1, 2])[0]
            queued_ids = [job_id for order in reference(store).values() for job_id, _ in order]
            if action == "create" or (action == "enqueue" and not created):
                job_id = f"j{step:03d}"
                store.create_job(NewJob(job_id=job_id, backend=rng.choice(BACKENDS), owner=rng.choice(PROJECTS),
                                        qpy=b"qpy", num_experiments=rng.randint(1, 5), options=RunOptions()))
                created.append(job_id)
            elif action == "enqueue":
                # Queued in another order than created; often at one of a few times (ties between projects).
                job_id = created.pop(rng.randrange(len(created)))
                queued_at = rng.choice([started + rng.randint(0, 2), time.time() + rng.uniform(-3.0, 3.0)])
                assert store.transition(job_id, S.QUEUED, (S.CREATED,), queued_at=queued_at)
            elif action == "claim":
                expected = first_overall(store)
                job = queue.claim("r-test")
                assert (job.job_id if job else None) == expected
                if job is not None:
                    running.append(job.job_id)
                claims += 1
            elif action == "cancel" and queued_ids:
                assert store.transition(rng.choice(queued_ids), S.CANCELLED, (S.QUEUED,))
            elif action == "delete" and queued_ids:
                assert store.delete_job(rng.choice(queued_ids))
            elif action == "requeue" and running:
                # The reaper puts back what no live replica runs (r-test holds no lease): back in its place.
                assert sorted(Replica(store, workers=1, lease_s=30).reap()) == sorted(running)
                running.clear()
            elif action == "finish" and running:
                job_id = running.pop(0)
                assert store.finish_run(job_id, S.COMPLETED, "{}", None, time.time(), claimed_by="r-test")
            if step % 10 == 9:
                check_counters(store)
                checked += check_positions(store, queue)
        while (expected := first_overall(store)) is not None:  # drain: every claim the reference's first
            assert queue.claim("r-test").job_id == expected
            claims += 1
        assert queue.claim("r-test") is None
        check_counters(store)
    finally:
        store.close()
    assert claims > 20 and checked > 60  # the scenario exercised what it claims to


def _bulk_queue(store: Store, count: int, owners: list[Identity]) -> list[str]:
    """``count`` queued one-circuit jobs owned round robin, as rows (what create + validation leave)."""
    now = time.time()
    rows = []
    for index in range(count):
        job = NewJob(job_id=f"bulk{index:05d}", backend=BACKENDS[0], owner=owners[index % len(owners)], qpy=b"q",
                     num_experiments=1, options=RunOptions())
        rows.append({**job_row(job, now_iso()), "status": S.QUEUED.value, "queued_at": now + index * 1e-6})
    with store.engine.begin() as conn:
        conn.execute(insert(jobs), rows)
    return [row["job_id"] for row in rows]


def test_a_project_joining_a_long_queue_gets_its_turn_at_once(tmp_path: Path, store_url):
    store = Store(tmp_path, store_url, origin="r-test")
    queue = FairshareQueue(store, {BACKENDS[0]: 0.1}, workers=1)
    try:
        long = _bulk_queue(store, 3000, PROJECTS[:3])
        assert queue.info(long[-1]).position == 3000
        first = [queue.claim("r-test").job_id for _ in range(3)]
        assert first == long[:3]
        store.create_job(NewJob(job_id="newcomer", backend=BACKENDS[0], owner=PROJECTS[3], qpy=b"q",
                                num_experiments=1, options=RunOptions()))
        assert store.transition("newcomer", S.QUEUED, (S.CREATED,), queued_at=time.time())
        # Its turn is now, later than the three projects' last claims: it goes right after one more round.
        assert queue.info("newcomer").position == 4
        assert queue.info(long[-1]).position == 2998
        assert [queue.claim("r-test").job_id for _ in range(4)] == [*long[3:6], "newcomer"]
        assert queue.claim("r-test").job_id == long[6]
    finally:
        store.close()


def test_projects_whose_turns_tie_go_oldest_job_first(tmp_path: Path, store_url):
    store = Store(tmp_path, store_url, origin="r-test")
    queue = FairshareQueue(store, {BACKENDS[0]: 0.1}, workers=1)
    try:
        for job_id, owner in (("a1", PROJECTS[0]), ("a2", PROJECTS[0]), ("b1", PROJECTS[1]), ("b2", PROJECTS[1])):
            store.create_job(NewJob(job_id=job_id, backend=BACKENDS[0], owner=owner, qpy=b"q", num_experiments=3,
                                    options=RunOptions()))
        at = time.time()
        for job_id in ("b2", "a2", "b1", "a1"):  # queued at one time, in another order than created
            assert store.transition(job_id, S.QUEUED, (S.CREATED,), queued_at=at)
        assert [queue.info(j).position for j in ("a1", "b1", "a2", "b2")] == [1, 2, 3, 4]
        with store.reading(snapshot=True) as conn:
            assert [fairshare.place(conn, j).ahead for j in ("a1", "b1", "a2", "b2")] == [0, 3, 6, 9]
        assert [queue.claim("r-test").job_id for _ in range(4)] == ["a1", "b1", "a2", "b2"]
    finally:
        store.close()
