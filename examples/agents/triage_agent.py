#!/usr/bin/env python3
"""A triage agent for `simctl run --agent` (Python 3, standard library only).

It reads simctl's JSON lines on stdin (docs/agent/protocol.md): a `hello` with the topology
and limits, then one `observe` per decision point, and answers each observation with one
line on stdout. Its rules, first match wins, once per incident:

  1. one instance of a replicated service is unhealthy or failing while its peers are fine
     -> drain it and restart it;
  2. a service is saturated while a client offers more than its baseline load
     -> scale the service out (half again, at most its max_replicas);
  3. a service fails because one of its dependencies fails or times out
     -> degrade: its calls to that dependency answer with their fallback;
  4. a config push began recently and the instances holding the new version fail
     -> roll the config back;
  5. otherwise -> escalate to the human.

After acting it waits; if a step fails its verification it escalates. It explains each
answer in `note` (kept in the trajectory). Usage:

    simctl run SCENARIO --agent "python3 examples/agents/triage_agent.py" --trajectory t.jsonl
"""

import json
import math
import sys

FAILING = 0.2  # error rate at which an instance or a service counts as failing
HEALTHY = 0.05  # error rate below which a peer counts as fine
SATURATED = 0.9  # utilization
LOAD_UP = 1.3  # offered / baseline load
TIMING_OUT = 0.05  # timeouts of calls to a service / attempts it received


def failing(rate):
    return rate is not None and rate >= FAILING


def instance_failing(inst):
    return not inst["healthy"] or failing(inst["error_rate"]) or failing(inst["timeout_rate"])


def failing_instance(services):
    for svc in services:
        insts = svc["instances"]
        if len(insts) < 2:
            continue
        bad = [i for i in insts if instance_failing(i)]
        fine = [i for i in insts if i["healthy"] and (i["error_rate"] or 0.0) < HEALTHY]
        if len(bad) == 1 and fine:
            return bad[0]["name"]
    return None


def saturated_under_load(signals):
    load_up = any(
        c["baseline_rps"] > 0 and c["offered_rps"] > LOAD_UP * c["baseline_rps"]
        for c in signals["clients"]
    )
    if not load_up:
        return None
    hot = [s for s in signals["services"] if s["utilization"] >= SATURATED]
    return max(hot, key=lambda s: s["utilization"])["name"] if hot else None


def failing_dependency(services):
    by_name = {s["name"]: s for s in services}
    for svc in services:
        if not failing(svc["error_rate"]):
            continue
        for callee in svc["callees"]:
            dep = by_name.get(callee)
            if dep is None:
                continue
            down = failing(dep["error_rate"]) or (
                dep["instances"] and not any(i["healthy"] for i in dep["instances"])
            )
            slow = dep["attempts"] > 0 and dep["timeouts"] / dep["attempts"] >= TIMING_OUT
            if down or slow or dep["breakers_open"] > 0:
                return svc["name"], callee
    return None


def bad_push(signals):
    for push in signals["recent_pushes"]:
        for svc in signals["services"]:
            for inst in svc["instances"]:
                held = dict((c, v) for c, v in inst["config_versions"])
                if held.get(push["config"]) == push["version"] and failing(inst["error_rate"]):
                    return push["config"]
    return None


class Triage:
    def __init__(self, hello):
        self.services = {s["name"]: s for s in hello["topology"]["services"]}
        self.replicas = {name: s["replicas"] for name, s in self.services.items()}
        self.acted = set()  # incidents acted on

    def answer(self, obs):
        incident = obs["incident"]
        if incident is None or obs["reason"] == "resolved":
            return {"type": "wait"}
        if obs["reason"] == "verification_failed":
            return {"type": "escalate", "note": "a step failed its verification"}
        if incident["id"] in self.acted:
            return {"type": "wait", "note": "acted; waiting for it to work"}
        act = self.rules(obs["signals"])
        if act is None:
            return {"type": "escalate", "note": "no rule matches: " + incident["text"]}
        self.acted.add(incident["id"])
        note, actions = act
        return {"type": "actions", "actions": actions, "note": note}

    def rules(self, signals):
        services = signals["services"]
        inst = failing_instance(services)
        if inst is not None:
            return "instance %s fails while its peers are fine" % inst, [
                {"kind": "drain", "target": inst},
                {"kind": "restart", "target": inst, "restart_time": "20s"},
            ]
        svc = saturated_under_load(signals)
        if svc is not None:
            most = self.services[svc]["max_replicas"]
            now = self.replicas[svc]
            want = min(most, max(now + 1, math.ceil(now * 1.5)))
            if want > now:
                self.replicas[svc] = want
                return "%s saturated under more load than its baseline" % svc, [
                    {"kind": "scale", "service": svc, "replicas": want, "provisioning": "30s"}
                ]
        dep = failing_dependency(services)
        if dep is not None:
            caller, callee = dep
            return "%s fails with its dependency %s" % dep, [
                {"kind": "degrade", "caller": caller, "callee": callee}
            ]
        config = bad_push(signals)
        if config is not None:
            return "instances holding the new %s fail" % config, [
                {"kind": "rollback", "config": config}
            ]
        return None


def main():
    triage = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "hello":
            triage = Triage(msg)
            continue
        answer = triage.answer(msg)
        answer["step"] = msg["step"]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
