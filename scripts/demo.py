"""`make demo`: the InfraX deal, keyed in late against the running stack, then a short tour.

Provisions, over the HTTP API only (so it works against `make run`, docker compose or the
end-to-end fixture):

- the InfraX catalog (storage, analysis jobs, AI tokens by model, support, prepaid commit) and a
  rate card, all ids prefixed `infrax-`;
- customer `customer-x` with 2024-01-01 to now of generated usage (seeded RNG, monthly growth),
  ingested in batches of at most 10,000 BEFORE its contract exists, so the past closes see it;
- contract `customer-x-2024`: the seed's three-year deal backdated to 2024-01-01 (50k/200k/250k
  ramped prepaid commit paid 250k + 250k, storage ×0.9 then ×0.8, 5,000 of support in month 3,
  rollover 25%), with the 2025 upsell folded in (an invoiced period cannot be amended), an
  analysis SLA and two spend alerts; then a live amendment effective in the open period and two
  SLO incidents (one late, for the last closed month; one from Alertmanager, this month);
- customer `nimbus`, whose one-year contract `nimbus-2025` ran 2025-01-01 to 2026-01-01 with a
  pre-agreed renewal `nimbus-2026`, so its unused commit has already rolled over.

Idempotent: every id is fixed, re-creating answers 200, re-sent events count as duplicates, the
amendment answers `replayed: true`, re-sent incidents change nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python scripts/demo.py` from a checkout
    sys.path.insert(0, str(ROOT))

from pricing import add_months  # noqa: E402
from scripts.demo_deal import (  # noqa: E402
    AMENDMENT,
    BATCH,
    CUSTOMER_X,
    CUSTOMERS,
    GRACE,
    INFRAX,
    NIMBUS,
    NIMBUS_2025,
    NIMBUS_2026,
    PRODUCTS,
    RATE_CARD,
    T2024,
    T2026,
    T2027,
    generated_usage,
    infrax_contract,
    iso,
    live_amendment,
    month_start,
    nimbus_contract,
)

# --- talking to the API --------------------------------------------------------------------


class DemoError(RuntimeError):
    pass


def parse_keys(spec: str) -> dict[str, str]:
    """`key:role,key:role` (API_KEYS) to {role: key}; the first key of each role wins."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, _, role = item.rpartition(":")
        if key and role:
            keys.setdefault(role, key)
    return keys


@dataclass
class Api:
    base_url: str
    keys: dict[str, str]
    timeout: float = 60.0
    _client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout)

    def close(self) -> None:
        self._client.close()

    def _headers(self, role: str) -> dict[str, str]:
        for candidate in (role, *(("sales",) if role == "reader" else ()), "admin"):
            if candidate in self.keys:
                return {"Authorization": f"Bearer {self.keys[candidate]}"}
        raise DemoError(f"no API key for role {role!r} (or admin)")

    def call(self, method: str, path: str, role: str, body: Any = None,
             ok: Sequence[int] = (200, 201)) -> httpx.Response:
        try:
            answer = self._client.request(method, path, json=body, headers=self._headers(role))
        except httpx.HTTPError as exc:
            raise DemoError(f"{method} {self.base_url}{path}: {exc} (is `make run` up?)") from exc
        if answer.status_code not in ok:
            raise DemoError(f"{method} {path} answered {answer.status_code}: {answer.text[:800]}")
        return answer

    def get(self, path: str) -> Any:
        return self.call("GET", path, "reader").json()

    def find(self, path: str) -> Any:
        """GET, or None on 404 (a successor exists only once its predecessor renewed)."""
        answer = self.call("GET", path, "reader", ok=(200, 404))
        return answer.json() if answer.status_code == 200 else None


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def expected_closes(start: datetime, end: datetime, now: datetime) -> int:
    """Monthly periods of [start, end) whose close (end + 24 h grace) is already due."""
    n = 0
    while add_months(start, n) < end and min(add_months(start, n + 1), end) + GRACE <= now:
        n += 1
    return n


def wait_for_closes(api: Api, now: datetime, timeout: float) -> None:
    """Until every past period is closed and Nimbus's rollover reached its successor."""
    targets = {INFRAX: expected_closes(T2024, T2027, now),
               NIMBUS_2026: expected_closes(T2026, T2027, now)}
    deadline = time.monotonic() + timeout
    while True:
        done = {cid: _invoiced_periods(api, cid) for cid in targets}
        rolled = _rollover_segment(api) is not None or now < T2026 + GRACE
        if all(done[c] >= n for c, n in targets.items()) and rolled:
            return
        if time.monotonic() > deadline:
            raise DemoError(f"past closes not done after {timeout:.0f}s: {done} of {targets}")
        time.sleep(1.0)


def _invoiced_periods(api: Api, contract_id: str) -> int:
    found = api.find(f"/v1/contracts/{contract_id}/invoices")
    invoices = found["data"] if found else []
    return sum(1 for i in invoices if i["kind"] == "usage" and i["status"] == "finalized")


def _rollover_segment(api: Api) -> dict[str, Any] | None:
    found = api.find(f"/v1/contracts/{NIMBUS_2026}/balances")
    for segment in found["data"] if found else []:
        if any(e["kind"] == "grant" for e in segment["entries"]) and "rollover" in (
            segment["segment_id"] + segment["source_id"]
        ):
            return dict(segment)
    return None


# --- the run -------------------------------------------------------------------------------


def provision(api: Api, now: datetime) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for product in PRODUCTS:
        api.call("POST", "/v1/products", "admin", product)
    api.call("POST", "/v1/rate-cards", "admin", RATE_CARD)
    for customer in CUSTOMERS:
        api.call("POST", "/v1/customers", "sales", customer)
    say("catalog: 5 products, rate card infrax-list; customers customer-x, nimbus")

    events = generated_usage(now)
    accepted = duplicates = 0
    for i in range(0, len(events), BATCH):
        result = api.call("POST", "/v1/usage", "ingest", events[i : i + BATCH]).json()
        accepted += result["accepted"]
        duplicates += result["duplicates"]
    facts["usage"] = {"events": len(events), "accepted": accepted, "duplicates": duplicates}
    say(f"usage: {len(events):,} events in {-(-len(events) // BATCH)} batches "
        f"({accepted:,} new, {duplicates:,} duplicates)")

    for body in (infrax_contract(), nimbus_contract()):
        answer = api.call("POST", "/v1/contracts", "sales", body)
        say(f"contract {body['id']}: {answer.status_code} {answer.json()['status']}")
    return facts


def live_changes(api: Api, now: datetime) -> dict[str, Any]:
    """After the past closes: an amendment and SLO incidents that land in the open period."""
    facts: dict[str, Any] = {}
    if now >= T2027:
        say("InfraX has ended (2027-01-01): no live amendment or incident to show")
        return facts
    answer = api.call("POST", f"/v1/contracts/{INFRAX}/amendments", "sales", live_amendment(now))
    facts["amendment"] = {"status": answer.status_code, **answer.json()}
    say(f"amendment {AMENDMENT}: {answer.status_code}"
        f"{' (replayed)' if answer.json().get('replayed') else ''}")

    last_month = add_months(month_start(now), -1)
    late = {"incident_id": f"cx-analysis-{last_month:%Y-%m}", "contract_id": INFRAX,
            "sla_id": "analysis-availability",
            "started_at": iso(last_month.replace(day=14, hour=2)),
            "resolved_at": iso(last_month.replace(day=14, hour=7, minute=30))}
    api.call("POST", "/v1/slo-events", "observability", late)
    facts["incidents"] = [late["incident_id"]]
    started = month_start(now) + timedelta(hours=3)
    if started + timedelta(minutes=50) <= now:
        fingerprint = f"cx-analysis-{now:%Y-%m}"
        payload = {
            "version": "4", "status": "resolved", "receiver": "billing",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
            "groupKey": "{}:{alertname=\"AnalysisAvailability\"}",
            "alerts": [{"status": "resolved", "fingerprint": fingerprint,
                        "labels": {"alertname": "AnalysisAvailability", "contract_id": INFRAX,
                                   "sla_id": "analysis-availability"},
                        "annotations": {}, "startsAt": iso(started),
                        "endsAt": iso(started + timedelta(minutes=50))}],
        }
        api.call("POST", "/v1/slo-events/alertmanager", "observability", payload)
        facts["incidents"].append(fingerprint)
    say(f"SLO incidents: {', '.join(facts['incidents'])}")
    return facts


def tour(api: Api, ui_url: str, namespace: str, now: datetime) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    invoices = api.get(f"/v1/contracts/{INFRAX}/invoices")["data"]
    usage = [i for i in invoices if i["kind"] == "usage"]
    scheduled = [i for i in invoices if i["kind"] != "usage"]
    facts["infrax_invoices"] = len(invoices)
    say()
    say(f"== {INFRAX}: {len(invoices)} invoices ({len(usage)} usage, "
        f"{len(scheduled)} scheduled)")
    for inv in scheduled:
        say(f"   {inv['issued_at'][:10]}  {inv['kind']:<9} {Decimal(inv['total']):>12,.2f}")
    billed = [i for i in usage if Decimal(i["total"]) > 0]
    for inv in (usage[:1] + billed[-2:]) if usage else []:
        say(f"   {inv['period_start'][:7]} usage {Decimal(inv['usage']):>12,.2f}  commit "
            f"{Decimal(inv['commit_applied']):>11,.2f}  credits "
            f"{Decimal(inv['credits_applied']):>9,.2f}  due {Decimal(inv['total']):>10,.2f}")
    if now < T2027 + GRACE:
        draft = api.get(f"/v1/contracts/{INFRAX}/invoices/draft")
        sla = sorted({s for line in draft["lines"] for s in line["references"]["credit_segments"]
                      if s.startswith("sla:")})
        facts["draft_sla_segments"] = sla
        say(f"   draft {draft['period_start'][:7]}: usage {Decimal(draft['usage']):,.2f}, "
            f"discounts {Decimal(draft['discounts']):,.2f}, SLA credits applied "
            f"{Decimal(draft['credits_applied']):,.2f} ({', '.join(sla) or 'none'})")
    contract = api.get(f"/v1/contracts/{INFRAX}")
    say(f"   status {contract['status']}, commit + credit remaining "
        f"{Decimal(contract['balances']['remaining']):,.2f}; alerts fired: "
        f"{len(api.get(f'/v1/contracts/{INFRAX}/alerts')['data'])}")

    segment = _rollover_segment(api)
    if segment is not None:
        pred = api.get(f"/v1/contracts/{NIMBUS_2025}/balances")["data"]
        expired = sum(Decimal(s["expired"]) for s in pred)
        rolled = sum(Decimal(s["rolled_over"]) for s in pred)
        facts["rollover"] = {"segment_id": segment["segment_id"], "amount": segment["granted"]}
        say(f"== {NIMBUS_2025} -> {NIMBUS_2026}: rolled over {rolled:,.2f} "
            f"(at most 25% of 60,000 = 15,000), expired {expired:,.2f}; successor segment "
            f"{segment['segment_id']} = {Decimal(segment['granted']):,.2f}")
    say()
    say("Temporal UI (every contract of a customer, every contract in a status):")
    for query in (f'CustomerId="{CUSTOMER_X}"', f'CustomerId="{NIMBUS}"',
                  'ContractStatus="active"'):
        say(f"   {ui_url}/namespaces/{namespace}/workflows?query={quote(query)}")
    say(f"   {ui_url}/namespaces/{namespace}/workflows/contract-{INFRAX}")
    say("API (Authorization: Bearer <key>):")
    for path in (f"/v1/contracts/{INFRAX}", f"/v1/contracts/{INFRAX}/invoices",
                 f"/v1/contracts/{INFRAX}/invoices/draft", f"/v1/contracts/{INFRAX}/balances",
                 f"/v1/contracts/{INFRAX}/alerts", f"/v1/contracts/{NIMBUS_2026}/balances"):
        say(f"   {api.base_url.rstrip('/')}{path}")
    return facts


def resolve_keys(args: argparse.Namespace) -> dict[str, str]:
    if args.api_key:
        return {"admin": args.api_key}
    spec = args.api_keys if args.api_keys is not None else os.environ.get("API_KEYS", "")
    keys = parse_keys(spec)
    if not keys:
        key_file = ROOT / "var" / "admin_api_key"
        if key_file.exists() and key_file.read_text().strip():
            keys = {"admin": key_file.read_text().strip()}
    if not keys:
        raise DemoError("no API key: start the stack with `make run`, or pass --api-key")
    return keys


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", default=os.environ.get("DEMO_API_URL",
                                                            "http://localhost:8000"))
    parser.add_argument("--api-key", default=os.environ.get("DEMO_API_KEY"),
                        help="one admin key (default: API_KEYS, else var/admin_api_key)")
    parser.add_argument("--api-keys", default=None, help="`key:role,...` like API_KEYS")
    parser.add_argument("--temporal-ui", default=os.environ.get("DEMO_TEMPORAL_UI",
                                                                "http://localhost:8233"))
    parser.add_argument("--namespace", default=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for the past closes")
    return parser.parse_args(argv)


def run(argv: Sequence[str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The whole demo; returns what it created and saw (the end-to-end test reads it)."""
    args = parse_args(argv)
    now = now or datetime.now(UTC)
    api = Api(args.api_url, resolve_keys(args))
    try:
        started = time.monotonic()
        facts = provision(api, now)
        say("waiting for the past periods to close ...")
        wait_for_closes(api, now, args.timeout)
        say(f"past closes done in {time.monotonic() - started:.0f}s")
        facts |= live_changes(api, now)
        facts |= tour(api, args.temporal_ui.rstrip("/"), args.namespace, now)
        return facts
    finally:
        api.close()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        run(argv)
    except DemoError as exc:
        sys.stderr.write(f"demo: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
