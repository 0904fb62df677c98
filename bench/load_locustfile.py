"""The users of ``bench/load.py``: a district's day on the platform, for locust (run in ``.venv-bench``).

One kind of user does what the platform's users do, in these proportions (task weights): map tiles 60,
pre-evaluations 25, layer and OGC reads 15, a reviewer's work queue 4 and transitions 2, sign-ins 2.
Everything it needs (tokens, tiles, footprints, items) comes from the plan that ``bench/load.py`` wrote
(``DUOGUI_LOAD_PLAN``); every request's name, status and time is appended to ``DUOGUI_LOAD_LOG`` as one
JSON line, so that the runner computes its own figures (per type, per status) from the raw times.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.parse
from typing import Any

from locust import FastHttpUser, between, events, task

PLAN: dict[str, Any] = json.loads(open(os.environ["DUOGUI_LOAD_PLAN"], encoding="utf-8").read())
LOG = open(os.environ["DUOGUI_LOAD_LOG"], "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run


@events.request.add_listener
def _record(
    request_type: str, name: str, response_time: float, response: Any, exception: Any, **_: Any
) -> None:
    status = getattr(response, "status_code", 0) or 0
    timed_out = exception is not None and status == 0
    record = {
        "t": time.time(),
        "name": name,
        "status": status,
        "ms": round(response_time, 2),
        "timeout": timed_out,
    }
    LOG.write(json.dumps(record))
    LOG.write("\n")


@events.quitting.add_listener
def _close(**_: Any) -> None:
    LOG.flush()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class DistrictUser(FastHttpUser):
    """One person at the platform: looks at the map, checks sites, reads layers, works a queue."""

    wait_time = between(0.5, 1.5)
    network_timeout = 30.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        """Each simulated person has a role's token and a random seed of their own."""
        self.rng = random.Random()
        self.planner = _auth(PLAN["tokens"]["planner"])
        self.unit = _auth(PLAN["tokens"]["unit"])

    def _get(self, url: str, name: str, headers: dict[str, str]) -> None:
        with self.client.get(url, name=name, headers=headers, catch_response=True) as r:
            r.success() if r.status_code < 500 else r.failure(f"HTTP {r.status_code}")

    @task(60)
    def tile(self) -> None:
        """A composite vector tile of one of the screens planners look at."""
        codes = self.rng.choice(PLAN["screens"])
        z, x, y = self.rng.choice(PLAN["tiles"])
        self._get(f"/tiles/{codes}/{z}/{x}/{y}.mvt", "tile", self.planner)

    @task(25)
    def pre_evaluation(self) -> None:
        """A project unit checks a 1–20 ha site."""
        body = {"footprint": self.rng.choice(PLAN["footprints"]), "project_type": "housing"}
        with self.client.post(
            "/api/pre-evaluations", json=body, headers=self.unit, name="pre-evaluation", catch_response=True
        ) as r:
            r.success() if r.status_code < 500 else r.failure(f"HTTP {r.status_code}")

    @task(5)
    def layer_list(self) -> None:
        """The layer tree."""
        self._get("/api/layers", "layer list", self.planner)

    @task(3)
    def layer_detail(self) -> None:
        """One layer's card."""
        self._get(f"/api/layers/{self.rng.choice(PLAN['layers'])}", "layer detail", self.planner)

    @task(4)
    def ogc_items(self) -> None:
        """Features of a collection in a map window (OGC API – Features)."""
        code = self.rng.choice(PLAN["layers"])
        bbox = ",".join(f"{v:.6f}" for v in self.rng.choice(PLAN["bboxes"]))
        self._get(f"/ogc/collections/{code}/items?bbox={bbox}&limit=50", "ogc items", self.planner)

    @task(3)
    def identify(self) -> None:
        """A click on the map."""
        lon, lat = self.rng.choice(PLAN["points"])
        self._get(f"/api/identify?lon={lon:.6f}&lat={lat:.6f}", "identify", self.planner)

    @task(4)
    def work_queue(self) -> None:
        """A reviewer opens the department's queue."""
        token = self.rng.choice(list(PLAN["tokens"]["reviewers"].values()))
        self._get("/api/items?status=under_review", "item list", _auth(token))

    @task(2)
    def transition(self) -> None:
        """A reviewer returns an item for correction, or the unit resubmits one (the two keep it going)."""
        item = self.rng.choice(PLAN["items"])
        headers = _auth(PLAN["tokens"]["reviewers"][item["department"]])
        r = self.client.get(f"/api/items/{item['id']}", headers=headers, name="item")
        if r.status_code != 200:
            return
        current = r.json()
        if current["status"] == "under_review":
            action = "return_for_correction"
        elif current["status"] == "correction":
            action, headers = "resubmit", self.unit
        else:
            return
        body = {"action": action, "version": current["version"], "note": "负载测试"}
        with self.client.post(
            f"/api/items/{item['id']}/transitions",
            json=body,
            headers=headers,
            name="transition",
            catch_response=True,
        ) as t:
            # 409/412: another reviewer moved it first — an honest answer, not an error.
            t.success() if t.status_code < 500 else t.failure(f"HTTP {t.status_code}")

    @task(2)
    def sign_in(self) -> None:
        """Someone signs in (Argon2 on the server)."""
        name, password = self.rng.choice(PLAN["accounts"])
        form = urllib.parse.urlencode({"username": name, "password": password})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        with self.client.post(
            "/api/auth/token", data=form, headers=headers, name="sign-in", catch_response=True
        ) as r:
            r.success() if r.status_code < 500 else r.failure(f"HTTP {r.status_code}")
