"""The build queue's hand-over between servers: builds live in the store, so no server's death loses one.

The packages named here do not exist, so a build that a queue takes ends at once, failed for that reason: proof
that the queue took it, without building an image.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from cog.packages.builds import STALE, BuildQueue, BuildSettings
from cog.packages.records import Build, now
from cog.packages.store import Store

MODEL = "owner/name"


def ids(*names: str) -> dict[str, str]:
    return {name: uuid.uuid4().hex * 2 for name in names}


def wait_until_failed(store: Store, package_ids: list[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(store.load_builds(MODEL, package_id)[0].status != "failed" for package_id in package_ids):
        assert time.monotonic() < deadline, "the taken builds did not end"
        time.sleep(0.05)


def test_a_restarted_server_resumes_what_was_queued_and_what_a_dead_server_left():
    store = Store(f"memory://cog-{uuid.uuid4().hex}")
    package = ids("queued", "abandoned", "alive")
    store.save_build(MODEL, package["queued"], Build(variant="cpu", image="r/x:1"))
    store.save_build(MODEL, package["abandoned"], Build(variant="cpu", image="r/x:2", status="building",
                                                        heartbeat_at=now() - STALE - timedelta(seconds=5)))
    store.save_build(MODEL, package["alive"], Build(variant="cpu", image="r/x:3", status="building", heartbeat_at=now()))
    messages: list[str] = []
    queue = BuildQueue(store, BuildSettings(registry="127.0.0.1:5000/test"), messages.append)
    try:
        assert queue.resume() == 2
        wait_until_failed(store, [package["queued"], package["abandoned"]])
        builds = {name: store.load_builds(MODEL, package_id)[0] for name, package_id in package.items()}
    finally:
        queue.shutdown()
    assert builds["queued"].status == builds["abandoned"].status == "failed"
    assert "the package was deleted before it was built" in builds["queued"].error
    assert builds["alive"].status == "building"  # another server is on it


def test_a_running_server_takes_over_only_builds_whose_server_went_silent():
    store = Store(f"memory://cog-{uuid.uuid4().hex}")
    silent = now() - STALE - timedelta(seconds=5)
    package = ids("fresh_queue", "old_queue", "abandoned", "alive")
    store.save_build(MODEL, package["fresh_queue"], Build(variant="cpu", image="r/x:1"))
    store.save_build(MODEL, package["old_queue"], Build(variant="cpu", image="r/x:2", queued_at=silent))
    store.save_build(MODEL, package["abandoned"], Build(variant="cpu", image="r/x:3", status="building", heartbeat_at=silent))
    store.save_build(MODEL, package["alive"], Build(variant="cpu", image="r/x:4", status="building", heartbeat_at=now()))
    queue = BuildQueue(store, BuildSettings(registry="127.0.0.1:5000/test"), lambda message: None)
    try:
        assert queue.take_over_stale() == 2
        wait_until_failed(store, [package["old_queue"], package["abandoned"]])
        builds = {name: store.load_builds(MODEL, package_id)[0].status for name, package_id in package.items()}
    finally:
        queue.shutdown()
    # A fresh queued build belongs to a live server that keeps beating it; only the silent ones change hands.
    assert builds == {"fresh_queue": "queued", "old_queue": "failed", "abandoned": "failed", "alive": "building"}
