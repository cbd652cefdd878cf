"""The store, its queue and the replicas' leases, on SQLite and on PostgreSQL (``store_url``).

Several Store objects on one database stand for several replicas (processes) of the service.
"""

from __future__ import annotations

import importlib
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from prefect_ibmq.server.engine import guarded, limit_statements
from prefect_ibmq.server.errors import ApiError, StoreUnavailable
from prefect_ibmq.server.filters import JobFilter
from prefect_ibmq.server.limits import Limits
from prefect_ibmq.server.migrations import versions
from prefect_ibmq.server.queue import FairshareQueue
from prefect_ibmq.server.quotas import in_flight_admission, in_flight_count, jobs_in_flight
from prefect_ibmq.server.replicas import Replica
from prefect_ibmq.server.rows import NewJob
from prefect_ibmq.server.schema import IN_FLIGHT_ROWS, fairshare_turns, replicas, result_reads
from prefect_ibmq.server.store import Store
from prefect_ibmq.server.stored_results import expire_held_results
from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import Identity, RunOptions

ALICE = Identity(user="alice", hub="h1", group="g1", project="p1")
BOB = Identity(user="bob", hub="h1", group="g1", project="p2")


def new_job(job_id: str, owner: Identity = ALICE, **fields) -> NewJob:
    return NewJob(job_id=job_id, backend="aer_simulator", owner=owner, qpy=b"qpy", num_experiments=2,
                  options=RunOptions(), **fields)


@pytest.fixture
def stores(tmp_path: Path, store_url):
    """Three stores (replicas r-a, r-b, r-c) on one database."""
    opened = [Store(tmp_path, store_url, origin=f"r-{name}") for name in "abc"]
    yield opened
    for store in opened:
        store.close()


def queued(store: Store, job_id: str, owner: Identity = ALICE) -> None:
    store.create_job(new_job(job_id, owner))
    assert store.transition(job_id, S.QUEUED, (S.CREATED,), queued_at=time.time())


def in_threads(count: int, fn) -> list:
    out: list = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        out[index] = fn(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def test_one_idempotency_key_makes_one_job_under_concurrent_creates(stores):
    answers = in_threads(6, lambda i: stores[i % 3].create_job(new_job(f"job-{i}", idempotency_key="k1")))
    assert sum(created for _, created in answers) == 1
    assert len({job_id for job_id, _ in answers}) == 1
    assert stores[0].list_jobs(ALICE, JobFilter(), 10, 0)[1] == 1


def test_jobs_in_flight_stay_bounded_under_concurrent_creates_across_replicas(stores):
    # Nine submissions of one identity at once, through three replicas, against a bound of three.
    limits = Limits(max_jobs_in_flight=3)

    def create(index: int, owner: Identity = ALICE, **fields) -> str | int:
        try:
            job_id, _ = stores[index % 3].create_job(new_job(f"flight-{index}", owner, **fields),
                                                     in_flight_admission(owner, limits))
        except ApiError as exc:
            return exc.status
        return job_id

    answers = in_threads(9, create)
    created = [answer for answer in answers if isinstance(answer, str)]
    assert len(created) == 3 and answers.count(429) == 6, answers
    with stores[1].reading() as conn:
        assert jobs_in_flight(conn, ALICE) == 3
    assert isinstance(create(10, BOB), str)  # another identity has a bound of its own
    # A job that ends frees its place; a replay of a stored job is answered at the bound, adding nothing.
    assert stores[0].transition(created[0], S.CANCELLED, (S.CREATED,))
    first = create(11, idempotency_key="again")
    assert isinstance(first, str) and create(12, idempotency_key="again") == first
    assert create(13) == 429


def test_conditional_moves_and_read_once_have_one_winner(stores):
    queued(stores[0], "j1")
    queue = FairshareQueue(stores[0], {"aer_simulator": 0.1}, workers=1)
    assert queue.claim("r-a").job_id == "j1"
    # A completion and two cancels race: exactly one move wins.
    moves = in_threads(
        3,
        lambda i: stores[i].finish_run("j1", S.COMPLETED, '{"ok": 1}', None, time.time(), claimed_by="r-a")
        if i == 0 else stores[i].transition("j1", S.CANCELLED, (S.QUEUED, S.RUNNING)),
    )
    assert moves.count(True) == 1
    if moves[0]:  # completed: a private read hands the result out once, on any replica
        reads = in_threads(6, lambda i: stores[i % 3].read_result("j1", consume=True))
        assert reads.count('{"ok": 1}') == 1 and reads.count(None) == 5
        assert stores[1].get_job("j1").result_consumed


def test_an_identitys_jobs_in_flight_are_counted_from_their_own_index(tmp_path: Path):
    # The count at every submission must not walk the identity's history (SQLite's plan; PostgreSQL
    # without statistics may scan a small table, so the plan is pinned where it is stable).
    # The index migration 0005 made must be the one the count names (its condition is a frozen copy).
    assert importlib.import_module(f"{versions.__name__}.0005_held_at_and_in_flight").IN_FLIGHT_ROWS == IN_FLIGHT_ROWS
    store = Store(tmp_path)
    try:
        statement = in_flight_count(ALICE).compile(store.engine, compile_kwargs={"literal_binds": True})
        with store.reading() as conn:
            plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}"))
    finally:
        store.close()
    assert "INDEX jobs_in_flight (owner_user=? AND owner_hub=? AND owner_group=? AND owner_project=?)" in plan, plan


def test_a_held_result_expires_a_ttl_after_its_read_not_after_its_job(stores):
    # The job finished an hour ago; its result is first read (and held for the key) now.
    store = stores[0]
    store.create_job(new_job("late", private=True))
    assert store.transition("late", S.QUEUED, (S.CREATED,), queued_at=time.time())
    assert FairshareQueue(store, {"aer_simulator": 0.1}, workers=1).claim("r-a").job_id == "late"
    assert store.finish_run("late", S.COMPLETED, '{"ok": 1}', None, time.time() - 3600, claimed_by="r-a")
    assert store.read_result("late", consume=True, read_key="k") == '{"ok": 1}'
    assert expire_held_results(stores[1], ttl_s=60) == []  # held a minute from now, not an hour ago
    assert stores[2].read_result("late", consume=True, read_key="k") == '{"ok": 1}'  # a retried read
    store.write(lambda conn: conn.execute(update(result_reads).values(held_at=time.time() - 120)))
    assert expire_held_results(stores[1], ttl_s=60) == ["late"]
    assert store.read_result("late", consume=True, read_key="k") is None


def test_claims_follow_the_fairshare_order_across_replicas(stores):
    for name in ("a1", "a2", "a3"):
        queued(stores[0], name, ALICE)
    queued(stores[1], "b1", BOB)
    queues = [FairshareQueue(store, {"aer_simulator": 0.1}, workers=1) for store in stores]
    # Every replica reports the same positions: alice's first, bob's, then alice's others.
    for queue in queues:
        assert [queue.info(j).position for j in ("a1", "b1", "a2", "a3")] == [1, 2, 3, 4]
    claimed = [queues[i % 3].claim(f"r-{'abc'[i % 3]}").job_id for i in range(4)]
    assert claimed == ["a1", "b1", "a2", "a3"]
    assert queues[0].claim("r-a") is None
    record = stores[2].get_job("a2")
    assert record.status is S.RUNNING and "RUNNING" in record.time_per_step


@pytest.mark.parametrize("owners", [(ALICE, BOB), (ALICE,)], ids=["two-projects", "one-project"])
def test_concurrent_claims_take_every_job_once(stores, owners):
    # With one project every claim but one finds its oldest job locked and takes its next free one.
    for index in range(60):
        queued(stores[index % 3], f"j{index:03d}", owners[index % len(owners)])
    queues = [FairshareQueue(store, {"aer_simulator": 0.1}, workers=1) for store in stores]

    def drain(index: int) -> list[str]:
        taken = []
        while (job := queues[index % 3].claim(f"r-{index}")) is not None:
            taken.append(job.job_id)
        return taken

    taken = [job_id for part in in_threads(6, drain) for job_id in part]
    counts = Counter(taken)
    assert len(counts) == 60 and set(counts.values()) == {1}
    with stores[0].engine.connect() as conn:  # the triggers counted every claim out of the queue
        assert conn.execute(select(func.sum(fairshare_turns.c.queued))).scalar() == 0


def test_the_reaper_requeues_the_jobs_of_a_lapsed_replica(stores):
    a, b = (Replica(store, workers=1, lease_s=30) for store in stores[:2])
    a.register()
    queued(stores[0], "j1")
    assert FairshareQueue(stores[0], {"aer_simulator": 0.1}, workers=1).claim("r-a").job_id == "j1"
    b.register()
    if not stores[0].is_sqlite:
        assert b.reap() == []  # r-a holds its lease
        # r-a's lease runs out (as when it is SIGKILLed and stops renewing).
        stores[1].write(
            lambda c: c.execute(update(replicas).where(replicas.c.replica_id == "r-a").values(lease_until=0))
        )
    # (A SQLite file has one replica: the one starting takes over at once, as after a restart.)
    assert b.reap() == ["j1"]
    record = stores[1].get_job("j1")
    assert record.status is S.QUEUED and record.requeued == 1
    assert "RUNNING" not in record.time_per_step
    # The lapsed replica's late result is refused; another replica claims and finishes the job.
    assert not stores[0].finish_run("j1", S.COMPLETED, "{}", None, time.time(), claimed_by="r-a")
    assert FairshareQueue(stores[1], {"aer_simulator": 0.1}, workers=1).claim("r-b").job_id == "j1"
    assert stores[1].finish_run("j1", S.COMPLETED, "{}", None, time.time(), claimed_by="r-b")


def test_a_statement_past_its_timeout_is_cancelled_and_the_store_answers_after(tmp_path: Path, store_url):
    # limits.statement_timeout_s: no request can hold the store (PostgreSQL's statement_timeout,
    # SQLite's progress handler). A count to 10^8 would take minutes on either engine.
    store = Store(tmp_path, store_url)
    try:
        limit_statements(store.engine, 0.2)
        endless = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
                       "SELECT count(*) FROM n")
        with pytest.raises(StoreUnavailable) as refused:
            guarded(store.read)(endless)
        assert refused.value.status == 503
        assert store.read(select(func.count()).select_from(replicas)) is not None  # still serving
    finally:
        store.close()


def test_tag_and_name_filters(stores):
    stores[0].create_job(new_job("x", name="bell-1", tags=["t1", "t2"]))
    stores[0].create_job(new_job("y", name="ghz-1", tags=["t2"]))
    listed = stores[1].list_jobs
    assert {j.job_id for j in listed(ALICE, JobFilter(tags=["t1", "t2"], tags_and=True), 10, 0)[0]} == {"x"}
    assert {j.job_id for j in listed(ALICE, JobFilter(tags=["t1", "t2"]), 10, 0)[0]} == {"x", "y"}
    assert {j.job_id for j in listed(ALICE, JobFilter(name_regex="^gh"), 10, 0)[0]} == {"y"}
    assert stores[2].update_tags("y", lambda tags: tags + ["t1"]) == ["t2", "t1"]
    assert listed(ALICE, JobFilter(tags=["t1", "t2"], tags_and=True), 10, 0)[1] == 2
    assert listed(BOB, JobFilter(), 10, 0)[1] == 0  # not shared with bob


def test_a_replica_hears_another_replicas_changes(stores, store_url):
    if store_url is None:
        assert stores[0].is_sqlite  # one replica per SQLite file: nothing to hear
        return
    from prefect_ibmq.server.notify import ReplicaListener
    from prefect_ibmq.server.store import CHANNEL

    heard: list[tuple[str, str]] = []
    got = threading.Event()

    def on_change(job_id: str, status: str) -> None:
        heard.append((job_id, status))
        if status == "CANCELLED":
            got.set()

    conninfo = stores[0].engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    listener = ReplicaListener(conninfo, CHANNEL, "r-a", on_change)
    listener.start()
    try:
        stores[0].create_job(new_job("mine"))
        stores[0].transition("mine", S.QUEUED, (S.CREATED,))  # r-a's own write: not delivered
        queued(stores[1], "theirs")
        stores[1].transition("theirs", S.CANCELLED, (S.QUEUED,))
        assert got.wait(30)
    finally:
        listener.stop()
    assert heard == [("theirs", "QUEUED"), ("theirs", "CANCELLED")]


def test_listings_read_along_indexes_give_the_pages_of_a_plain_filter(tmp_path: Path, store_url):
    """Every page (by offset and by cursor) and total equal those of the filter as one plain condition."""
    from prefect_ibmq.server.filters import matching
    from prefect_ibmq.server.schema import jobs

    rng = random.Random(7)
    carol = Identity(user="carol", hub="h1", group="g2", project="p3")
    dave = Identity(user="dave", hub="h2", group="g9", project="p9")
    people = [ALICE, BOB, carol, dave]
    store = Store(tmp_path, store_url)
    statuses = [S.COMPLETED, S.COMPLETED, S.CANCELLED, S.QUEUED, S.RUNNING, S.VALIDATING, S.CREATED]
    try:
        for index in range(70):
            job_id = f"j{index:02d}"
            store.create_job(NewJob(
                job_id=job_id, backend=rng.choice(["aer_simulator", "noisy_simulator"]), owner=rng.choice(people),
                qpy=b"q", num_experiments=1, options=RunOptions(), name=rng.choice(["bell-1", "ghz-2", None]),
                tags=rng.sample(["t1", "t2", "t3"], rng.randint(0, 2)),
                share_level=rng.choice(["none", "none", "global", "hub", "group", "project"]),
                program_id=rng.choice([None, None, "sampler"]),
            ))
            status = rng.choice(statuses)
            if status is not S.CREATED:
                assert store.transition(job_id, status, (S.CREATED,), queued_at=time.time())
        cut = store.get_job("j35").creation_date
        filters = [
            JobFilter(), JobFilter(ascending=True), JobFilter(backend="noisy_simulator"),
            JobFilter(statuses=["QUEUED"]), JobFilter(statuses=["RUNNING", "VALIDATING", "CREATED"]),
            JobFilter(statuses=["QUEUED", "COMPLETED"]), JobFilter(tags=["t1"]), JobFilter(tags=["t1", "t3"]),
            JobFilter(tags=["t1", "t2"], tags_and=True, ascending=True), JobFilter(tags=["t2"], statuses=["QUEUED"]),
            JobFilter(name_regex="^gh"), JobFilter(created_after=cut), JobFilter(created_before=cut, tags=["t3"]),
            JobFilter(runtime_only=True), JobFilter(runtime_only=True, statuses=["QUEUED", "RUNNING"]),
        ]
        pages = 0
        for viewer in (ALICE, BOB, dave):  # bob shares alice's group, dave nothing
            for job_filter in filters:
                order = jobs.c.seq.asc() if job_filter.ascending else jobs.c.seq.desc()
                with store.engine.connect() as conn:
                    plain = list(conn.execute(select(jobs.c.job_id).where(matching(viewer, job_filter)).order_by(order))
                                 .scalars())
                offset = rng.randint(0, 4)
                page = store.list_jobs(viewer, job_filter, 5, offset)
                assert ([j.job_id for j in page.records], page.total) == (plain[offset:offset + 5], len(plain))
                walked, after = [], None
                while True:  # cursor paging: each page starts after the last one's final job
                    page = store.list_jobs(viewer, job_filter, 6, 0, after)
                    walked += [j.job_id for j in page.records]
                    pages += 1
                    if page.next_after is None:
                        break
                    after = page.next_after
                assert walked == plain, (viewer.user, job_filter)
        assert pages > 60
    finally:
        store.close()
