#!/usr/bin/python3
"""Evaluates every panel query of a Grafana dashboard through Prometheus' HTTP API.

  dashboard_queries.py PROMETHEUS_URL DASHBOARD_JSON

Grafana's variables are replaced the way the dashboard's defaults resolve them ($model and $job:
All, $__rate_interval: 1m). Every query must be accepted and return at least one series (the
deploy test runs a model that streams its layers, so the streaming panels have data too). Exit
status 0 when every query returned data.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

SUBSTITUTIONS = {"$__rate_interval": "1m", "$model": ".*", "$job": ".*"}


def panel_queries(dashboard):
    """(panel title, query) for every target of every panel, rows' nested panels included, and
    for each template variable label_values(METRIC, LABEL) its PromQL equivalent."""
    def walk(panels):
        for panel in panels:
            yield from walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                yield panel["title"], target["expr"]
    queries = list(walk(dashboard["panels"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        match = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable.get("definition", ""))
        if match:
            queries.append((f"variable ${variable['name']}",
                            f"count by ({match.group(2)}) ({match.group(1)})"))
    return queries


def prometheus_query(base_url, query):
    url = base_url + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def main():
    prometheus_url, dashboard_path = sys.argv[1:3]
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    failures = 0
    checked = 0
    for title, expr in panel_queries(dashboard):
        query = expr
        for variable, value in SUBSTITUTIONS.items():
            query = query.replace(variable, value)
        if "$" in query:
            print(f"FAIL  {title}: unresolved variable in {query}")
            failures += 1
            continue
        checked += 1
        answer = prometheus_query(prometheus_url, query)
        results = answer.get("data", {}).get("result", [])
        if answer.get("status") != "success" or not results:
            print(f"FAIL  {title}: {query} -> {json.dumps(answer)[:300]}")
            failures += 1
        else:
            print(f"ok    {title}: {len(results)} series: {query}")
    print(f"dashboard queries: {checked} evaluated, {failures} failed")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
