"""A Lambda-style JSON workload for benchmarks and demos: flight-offer documents.

Deterministic (seeded ``random.Random``), standard library only; orjson is used for
parsing when installed and asked for.  Used by benchmarks/bench_control.py and the CLI demo.

- ``make_documents(n, seed)``: n compact JSON documents of about 1 KB, shaped like flight
  offers (nested dicts and lists), as bytes.
- ``parser(prefer_orjson=True)``: ``(name, parse)`` with parse(bytes) -> object.
- ``transform(doc)``: a per-offer summary built through temporary objects (no cycles).
- ``run_workload(docs, parse)``: parse and transform every document, keeping both, as a
  handler that accumulates results does: the heap grows by every parsed document.
- ``run_cyclic(docs, parse)``: the same documents wrapped in objects with back-references
  that are dropped after use: every document becomes cyclic garbage that only the cyclic
  GC can free.
"""

from __future__ import annotations

import json
import random

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

__all__ = ["make_documents", "parser", "run_cyclic", "run_workload", "transform"]

_AIRPORTS = ("JFK", "LHR", "CDG", "FRA", "AMS", "MAD", "BCN", "FCO", "MUC", "ZRH", "DXB",
             "SIN", "HND", "SFO", "LAX", "ORD", "YYZ", "GRU", "SYD", "IST")
_CARRIERS = ("AA", "BA", "AF", "LH", "KL", "IB", "AZ", "LX", "EK", "SQ", "NH", "UA")
_AIRCRAFT = ("320", "321", "32N", "333", "359", "388", "738", "77W", "789", "E90")
_CABINS = ("ECONOMY", "PREMIUM_ECONOMY", "BUSINESS")


def _iso(rng: random.Random, day: int) -> str:
    return f"2026-{rng.randint(1, 12):02d}-{day:02d}T{rng.randint(0, 23):02d}:" \
           f"{rng.choice((0, 15, 30, 45)):02d}:00"


def _segment(rng: random.Random, seg_id: int, origin: str, dest: str) -> dict[str, Any]:
    day = rng.randint(1, 28)
    return {
        "departure": {"iataCode": origin, "terminal": str(rng.randint(1, 5)),
                      "at": _iso(rng, day)},
        "arrival": {"iataCode": dest, "terminal": str(rng.randint(1, 5)), "at": _iso(rng, day)},
        "carrierCode": rng.choice(_CARRIERS),
        "number": str(rng.randint(10, 9999)),
        "aircraft": {"code": rng.choice(_AIRCRAFT)},
        "duration": f"PT{rng.randint(1, 13)}H{rng.choice((0, 5, 20, 35, 50))}M",
        "id": str(seg_id),
        "numberOfStops": 0,
    }


def _offer(rng: random.Random, offer_id: int) -> dict[str, Any]:
    segments: list[dict[str, Any]] = []
    itineraries = []
    for _ in range(rng.choice((1, 1, 2))):  # one-way (2 in 3) or return
        n_seg = rng.choice((1, 1, 2))
        stops = rng.sample(_AIRPORTS, n_seg + 1)
        segs = [_segment(rng, len(segments) + i + 1, stops[i], stops[i + 1])
                for i in range(n_seg)]
        segments.extend(segs)
        itineraries.append({"duration": f"PT{rng.randint(2, 30)}H{rng.randint(0, 59)}M",
                            "segments": segs})
    base = rng.randint(4_000, 250_000) / 100
    total = round(base * 1.18, 2)
    return {
        "type": "flight-offer",
        "id": str(offer_id),
        "source": "GDS",
        "instantTicketingRequired": False,
        "lastTicketingDate": _iso(rng, rng.randint(1, 28))[:10],
        "numberOfBookableSeats": rng.randint(1, 9),
        "itineraries": itineraries,
        "price": {"currency": "EUR", "total": f"{total:.2f}", "base": f"{base:.2f}",
                  "fees": [{"amount": "0.00", "type": "SUPPLIER"}],
                  "grandTotal": f"{total:.2f}"},
        "validatingAirlineCodes": [segments[0]["carrierCode"]],
        "travelerPricings": [{
            "travelerId": "1", "fareOption": "STANDARD", "travelerType": "ADULT",
            "price": {"currency": "EUR", "total": f"{total:.2f}", "base": f"{base:.2f}"},
            "fareDetailsBySegment": [
                {"segmentId": s["id"], "cabin": rng.choice(_CABINS),
                 "fareBasis": "".join(rng.choice("ABKLMNQSTVWY") for _ in range(7)),
                 "class": rng.choice("BKLMNQSTVW"),
                 "includedCheckedBags": {"quantity": rng.randint(0, 2)}}
                for s in segments],
        }],
    }


def make_documents(n: int = 13_000, seed: int = 0) -> list[bytes]:
    """``n`` compact JSON flight offers (about 1 KB each), identical for a given seed."""
    rng = random.Random(seed)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
    return [dumps(_offer(rng, i)).encode() for i in range(n)]


def parser(prefer_orjson: bool = True) -> tuple[str, Callable[[bytes], Any]]:
    """``("orjson <version>", orjson.loads)`` if wanted and importable, else
    ``("json", json.loads)``."""
    if prefer_orjson:
        try:
            import orjson  # noqa: PLC0415 - optional
        except ImportError:
            pass
        else:
            return f"orjson {orjson.__version__}", orjson.loads
    return "json", json.loads


def _minutes(iso_duration: str) -> int:
    h, _, m = iso_duration[2:].rstrip("M").partition("H")
    return int(h) * 60 + (int(m) if m else 0)


def transform(doc: Any) -> dict[str, Any]:
    """Summary of one offer: route, carriers, stops, minutes, price per cabin.  Builds
    temporary lists, dicts, tuples and sets on the way (freed by reference counting)."""
    legs: list[dict[str, Any]] = []
    for itin in doc["itineraries"]:
        segs = itin["segments"]
        hops = [(s["departure"]["iataCode"], s["arrival"]["iataCode"], s["carrierCode"],
                 _minutes(s["duration"])) for s in segs]
        legs.append({"route": [h[0] for h in hops] + [hops[-1][1]],
                     "carriers": sorted({h[2] for h in hops}),
                     "stops": len(hops) - 1,
                     "minutes": sum(h[3] for h in hops)})
    cabins: dict[str, int] = {}
    for tp in doc["travelerPricings"]:
        for fd in tp["fareDetailsBySegment"]:
            cabins[fd["cabin"]] = cabins.get(fd["cabin"], 0) + 1
    price = doc["price"]
    return {"id": doc["id"], "legs": legs, "cabins": cabins,
            "total": float(price["total"]), "seats": doc["numberOfBookableSeats"],
            "key": tuple(leg["route"][0] + leg["route"][-1] for leg in legs)}


def run_workload(docs: list[bytes], parse: Callable[[bytes], Any]) -> list[Any]:
    """Parse and transform every document; return ``[(parsed, summary), ...]``."""
    out = []
    for raw in docs:
        doc = parse(raw)
        out.append((doc, transform(doc)))
    return out


class _Offer:
    __slots__ = ("doc", "legs", "summary")
    doc: Any
    legs: list[_Leg]
    summary: dict[str, Any]


class _Leg:
    __slots__ = ("offer", "itinerary")
    offer: _Offer
    itinerary: Any


def run_cyclic(docs: list[bytes], parse: Callable[[bytes], Any]) -> int:
    """Parse each document into an object graph with back-references (offer <-> legs),
    use it and drop it: each document, its whole parsed tree included, becomes cyclic
    garbage.  Returns the number of documents whose itineraries were all non-stop."""
    nonstop = 0
    for raw in docs:
        offer = _Offer()
        offer.doc = parse(raw)
        offer.legs = []
        for itin in offer.doc["itineraries"]:
            leg = _Leg()
            leg.offer = offer  # cycle: offer -> legs -> leg -> offer
            leg.itinerary = itin
            offer.legs.append(leg)
        offer.summary = transform(offer.doc)
        nonstop += all(leg["stops"] == 0 for leg in offer.summary["legs"])
    return nonstop
