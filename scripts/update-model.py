#!/usr/bin/env python3
"""Writes src/protocol/cognito-idp.json: botocore's cognito-idp service model without its
documentation strings. The model is the spec for request validation and operation auth.

Usage: python3 scripts/update-model.py   (needs botocore installed; Apache-2.0, see NOTICE)
"""
import gzip, json, os, pathlib, botocore

src = pathlib.Path(botocore.__file__).parent / "data/cognito-idp/2016-04-18/service-2.json.gz"
DROP = {"documentation", "documentationUrl", "deprecatedMessage", "examples"}

def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in DROP}
    if isinstance(o, list):
        return [strip(x) for x in o]
    return o

model = strip(json.load(gzip.open(src)))
model["metadata"]["botocoreVersion"] = botocore.__version__
out = pathlib.Path(__file__).resolve().parent.parent / "src/protocol/cognito-idp.json"
out.write_text(json.dumps(model, indent=None, separators=(",", ":"), sort_keys=True) + "\n")
print(f"wrote {out} from botocore {botocore.__version__}: {len(model['operations'])} operations")
