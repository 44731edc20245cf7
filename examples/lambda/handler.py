"""Example AWS Lambda function using gcpause (handler: ``handler.lambda_handler``).

It parses a batch of JSON offer documents and prices them: the allocation-heavy pattern
where CPython's cyclic GC interrupts most.  gcpause keeps the collector out of the
invocation (``mode="paused"``), collects at the end only when enough net container objects
have piled up (``collect="auto"``), and prints one CloudWatch EMF line per invocation with
the GC figures.  Every setting can be overridden by a GCPAUSE_* environment variable
(docs/aws_lambda.md) when it is left out of the decorator call.
"""

from gcpause import aws_lambda  # import first: GC during the rest of INIT is reported

import json
import os

# --- INIT: everything the function keeps for its lifetime -------------------------------
CURRENCY_RATES = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}
MARKUP = float(os.environ.get("MARKUP", "1.07"))

# Collect and freeze what INIT created: later full collections skip it.  Under SnapStart
# gcpause also does this in a before-snapshot hook.
aws_lambda.init_done()


def _price(offer):
    base = offer["price"]["amount"] * CURRENCY_RATES.get(offer["price"]["currency"], 1.0)
    return round(base * MARKUP, 2)


@aws_lambda.handler(mode="paused", collect="auto")
def lambda_handler(event, context):
    documents = event.get("documents")
    if documents is None:  # demo payload: {"count": 13000}
        documents = [json.dumps({"id": i, "route": ["MAD", "BER"], "fare": "Y",
                                 "price": {"amount": 50 + i % 300, "currency": "EUR"},
                                 "segments": [{"n": j, "legs": [j, j + 1]} for j in range(3)]})
                     for i in range(int(event.get("count", 1000)))]
    offers = [json.loads(doc) for doc in documents]
    priced = sorted((_price(o), o["id"]) for o in offers)
    return {"offers": len(offers), "cheapest": priced[:3]}
