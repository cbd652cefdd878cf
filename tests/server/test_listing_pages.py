"""``GET /v1/jobs`` pages over HTTP: the cursor each full page gives, and a bad cursor refused."""

from __future__ import annotations

import uuid


def test_a_listing_pages_by_next_cursor_and_refuses_a_bad_one(alice):
    tag = f"cursor-{uuid.uuid4().hex[:8]}"
    ids = [alice.submit(tags=[tag])["job_id"] for _ in range(3)]
    seen, params = [], {"tags": tag, "limit": 2}
    while True:
        page = alice.get("/jobs", params=params).json()
        assert page["total"] == 3
        seen += [job["job_id"] for job in page["jobs"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids[::-1]
    for bad in ("abc", "-1", "1" * 19):
        answer = alice.get("/jobs", params={"cursor": bad})
        assert answer.status_code == 422 and "cursor" in answer.text, (bad, answer.text)
