#!/usr/bin/env python3
"""Runs health.lua, the Argo CD health check for ServerlessService, on the sample objects
listed in health_test.yaml with a real Lua 5.1 interpreter (and LuaJIT when lupa ships it),
in an environment holding only what Argo CD's gopher-lua VM offers (base, string, table, math).
Also checks that argocd-cm-patch.yaml embeds exactly health.lua, that every sample is listed,
that every sample's status fits the CRD's status schema (crds/, unknown fields refused) and that
every condition reason in the samples is a documented one (docs/reasons.md).

    python3 deploy/argocd/test_health.py           # check; exits 1 on any mismatch
    python3 deploy/argocd/test_health.py --write   # regenerate argocd-cm-patch.yaml

Needs PyPI lupa==2.8, PyYAML and jsonschema.
"""

import datetime
import importlib
import re
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRIPT = HERE / "health.lua"
PATCH = HERE / "argocd-cm-patch.yaml"
CASES = HERE / "health_test.yaml"
REASONS = REPO / "docs" / "reasons.md"
CRD = REPO / "crds" / "ferry.dev_serverlessservices.yaml"
KEY = "resource.customizations.health.ferry.dev_ServerlessService"
STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
# Lua 5.1 is required (gopher-lua implements 5.1); LuaJIT is 5.1 too and is run when present.
RUNTIMES = [("lupa.lua51", True), ("lupa.luajit21", False)]

# Runs the check the way Argo CD does: the script is a chunk that reads the global `obj` and
# returns a table; only the libraries Argo CD opens are visible (no os, io, require, load...).
HARNESS = """
local source, obj = ...
local chunk, err = loadstring(source, "=health.lua")
if chunk == nil then error(err) end
local env = {
  obj = obj, string = string, table = table, math = math,
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  pcall = pcall, select = select, tonumber = tonumber, tostring = tostring, type = type,
  unpack = unpack,
}
setfenv(chunk, env)
local before = {}
for k in pairs(env) do before[k] = true end
local hs = chunk()
local leaked = {}
for k in pairs(env) do
  if not before[k] then leaked[#leaked + 1] = tostring(k) end
end
table.sort(leaked)
return hs, table.concat(leaked, ", ")
"""


def patch_text(script: str) -> str:
    body = "".join(f"    {line}" if line.strip() else "\n" for line in script.splitlines(True))
    return (
        "# Generated from health.lua by `python3 deploy/argocd/test_health.py --write`: do not edit.\n"
        "# kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm-patch.yaml\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: argocd-cm\n"
        "data:\n"
        f"  {KEY}: |\n"
        f"{body}"
    )


def to_lua(lua, value):
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def status_schema() -> dict:
    """The CRD's status schema, refusing fields it does not declare (as the API server prunes)."""
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema = version["schema"]["openAPIV3Schema"]["properties"]["status"]

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for child in node.values():
                close(child)
        elif isinstance(node, list):
            for child in node:
                close(child)

    close(schema)
    return schema


def documented_reasons() -> set:
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", REASONS.read_text(), re.MULTILINE))


def main() -> int:
    script = SCRIPT.read_text()
    if "--write" in sys.argv[1:]:
        PATCH.write_text(patch_text(script))
        print(f"wrote {PATCH.relative_to(REPO)}")
        return 0

    passed, failures = 0, []

    def check(name, ok, detail=""):
        nonlocal passed
        if ok:
            passed += 1
            print(f"ok    {name}")
        else:
            failures.append(name)
            print(f"FAIL  {name}{': ' + detail if detail else ''}")

    # The committed patch embeds exactly health.lua.
    committed = PATCH.read_text() if PATCH.exists() else ""
    check("argocd-cm-patch.yaml is generated from health.lua", committed == patch_text(script),
          "run `python3 deploy/argocd/test_health.py --write`")
    embedded = (yaml.safe_load(committed) or {}).get("data", {}).get(KEY) if committed else None
    check("argocd-cm-patch.yaml data embeds health.lua byte for byte", embedded == script)

    cases = yaml.safe_load(CASES.read_text())["tests"]
    listed = {c["inputPath"] for c in cases}
    on_disk = {f"testdata/{p.name}" for p in (HERE / "testdata").glob("*.yaml")}
    check("every sample in testdata/ is listed in health_test.yaml", listed == on_disk,
          f"unlisted {sorted(on_disk - listed)}, missing {sorted(listed - on_disk)}")

    known = documented_reasons()
    objects = {c["inputPath"]: yaml.safe_load((HERE / c["inputPath"]).read_text()) for c in cases}
    used = {cond.get("reason") for o in objects.values()
            for cond in (o.get("status") or {}).get("conditions", [])}
    schema = status_schema()
    for path, obj in objects.items():
        problems = [f"{'.'.join(map(str, e.absolute_path)) or 'status'}: {e.message}"
                    for e in jsonschema.Draft7Validator(schema).iter_errors(obj.get("status") or {})]
        check(f"{path} status fits the CRD", not problems, "; ".join(problems))
    check("samples use only documented reasons", bool(known) and used <= known,
          f"undocumented {sorted(used - known)}")

    for module_name, required in RUNTIMES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            check(f"{module_name} is available", not required, "install lupa==2.8")
            continue
        lua = module.LuaRuntime(unpack_returned_tuples=True)
        version = lua.eval("_VERSION")
        if module_name == "lupa.lua51":
            check(f"{module_name} is Lua 5.1", version == "Lua 5.1", version)
        run = lua.execute(f"return function(...) {HARNESS} end")
        for case in cases:
            want = case["healthStatus"]
            name = f"[{module_name}] {case['inputPath']} -> {want['status']}"
            try:
                hs, leaked = run(script, to_lua(lua, objects[case["inputPath"]]))
            except Exception as error:  # a Lua error is a failure of this case
                check(name, False, f"Lua error: {error}")
                continue
            got = {"status": hs["status"], "message": hs["message"]}
            ok = (got == {"status": want["status"], "message": want["message"]}
                  and got["status"] in STATUSES and not leaked)
            check(name, ok, f"got {got!r}, want {want!r}" + (f", set globals {leaked}" if leaked else ""))

    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
