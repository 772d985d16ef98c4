#!/usr/bin/env python3
"""Reliability drills for botbuilder (issue 30 item 6), standard library only.

Each drill starts the real binary (``$DRILL_BIN``, default
``target/debug/botbuilder``) on a fresh data file, drives it over HTTP as a
client would, and prints a result block ending in one ``RESULT {json}`` line.
See docs/drills.md for what each drill proves and the figures of the last run.

    tests/drills/drill.py kill9  [--seconds 20]
    tests/drills/drill.py soak   [--minutes 30] [--rate 20]
    tests/drills/drill.py diskfull [--size-mib 96]
    tests/drills/drill.py wal
    tests/drills/drill.py backup [--seconds 20]

Exit status: 0 when the drill's assertions hold, 1 when one fails, 77 when
the drill cannot run here (e.g. mounting a tmpfs is refused), with the reason.
"""

import argparse
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DRILL_BIN", os.path.join(ROOT, "target", "debug", "botbuilder"))
PASSWORD = "correct horse battery staple 42"

ECHO_FLOW = {
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "ask", "type": "question",
         "data": {"prompt": {"text": "got {{default(said, \"-\")}}"}, "variable": "said"}},
    ],
    "edges": [{"source": "start", "target": "ask"}, {"source": "ask", "target": "ask"}],
}


def say(*parts):
    print(*parts, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``botbuilder serve`` as a child process; stderr kept in a log file."""

    def __init__(self, data, env=None, log=None):
        self.data = data
        self.port = free_port()
        self.log_path = log or data + ".log"
        self.env = dict(os.environ)
        self.env.update({"RUST_LOG": "warn", "BOTBUILDER_OUTBOUND__ALLOW_PRIVATE": "true"})
        self.env.update(env or {})
        self.proc = None

    def start(self, wait=True, timeout=120):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", self.data, "--bind", f"127.0.0.1:{self.port}"],
            env=self.env, stdout=log, stderr=log)
        if not wait:
            return self
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready: " + self.log_tail())

    def wait_exit(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(30) is None:
                self.kill9()

    def rss_kib(self, field="VmRSS"):
        """A memory figure of /proc/<pid>/status in KiB: VmRSS (resident),
        RssAnon (its heap and stacks part; RssFile, the mapped binary, shrinks
        and grows with the box's page-cache pressure)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""


class Client:
    """A signed-in browser session (cookie + CSRF header), one connection per request."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None
        self.email = None

    def call(self, method, path, body=None, headers=None, raw=None, timeout=60):
        h = {"Accept": "application/json"}
        if self.cookie:
            h["Cookie"] = self.cookie
            if method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text.decode("utf-8", "replace")
            return r.status, parsed, r
        finally:
            c.close()

    def ok(self, method, path, body=None, expect=(200, 201, 202)):
        status, parsed, _ = self.call(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {parsed}")
        return parsed

    def register(self, email):
        self.email = email
        status, body, r = self.call("POST", "/api/v1/auth/register",
                                    {"email": email, "password": PASSWORD, "name": "Drill"})
        if status != 201:
            raise RuntimeError(f"register: {status} {body}")
        cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("__Host-bb_session=")]
        self.cookie = cookie[0].split(";")[0]
        self.csrf = body["csrf_token"]
        return body["organizations"][0]["id"]


class Receiver:
    """A fake outbound HTTP channel endpoint: answers 200 and records webhook ids."""

    def __init__(self):
        self.ids = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if b'"type":"message"' in body:
                    outer.ids.append(self.headers.get("webhook-id"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/inbox"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def setup(client, receiver=None):
    """An org with a published echo bot, its widget key, a knowledge base, two
    intents with examples and (with a receiver) an active generic HTTP channel."""
    org = client.register(f"drill{int(time.time() * 1000)}@example.com")
    bot = client.ok("POST", f"/api/v1/orgs/{org}/bots", {"name": "Drill"})["id"]
    client.ok("PUT", f"/api/v1/bots/{bot}/flows/main", {"document": ECHO_FLOW})
    client.ok("POST", f"/api/v1/bots/{bot}/flows/main/publish", {})
    key = client.ok("GET", f"/api/v1/bots/{bot}/widget")["widget_key"]
    kb = client.ok("POST", f"/api/v1/orgs/{org}/knowledge-bases", {"name": "Handbook"})["id"]
    intent = None
    for name, examples in [("greet", ["hello", "hi there", "good morning", "hey"]),
                           ("bye", ["goodbye", "see you later", "bye bye", "farewell"])]:
        intent = client.ok("POST", f"/api/v1/bots/{bot}/nlu/intents",
                           {"name": name, "examples": [{"text": t} for t in examples]})["id"]
    ctx = {"org": org, "bot": bot, "key": key, "kb": kb, "intent": intent}
    if receiver:
        ch = client.ok("POST", f"/api/v1/orgs/{org}/channels",
                       {"type": "http", "bot_id": bot, "credentials": {"outbound_url": receiver.url}})
        client.ok("POST", f"/api/v1/channels/{ch['id']}/activate")
        url = ch["webhook_url"]
        ctx["hook"] = url[url.index("/hooks/"):]
        ctx["hook_secret"] = ch["webhook_secret"]
    return ctx


def signed_hook(client, ctx, msg_id, user, text):
    import base64
    import hashlib
    import hmac
    body = json.dumps({"type": "message", "id": msg_id, "user": {"id": user}, "text": text}).encode()
    ts = str(int(time.time()))
    mac = hmac.new(ctx["hook_secret"].encode(), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return client.call("POST", ctx["hook"], raw=body, headers={
        "Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode()})


class Load:
    """Mixed load on worker threads; every 2xx answer's id is recorded as an
    acknowledged write."""

    def __init__(self, port, ctx, client):
        self.port, self.ctx, self.client = port, ctx, client
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {"widget_messages": [], "documents": [], "jobs": [], "intent_examples": [], "channel_messages": []}
        self.errors = {}
        self.requests = 0
        # Seconds between one worker's requests (documents: 4x): the backlog
        # of ingestion and training jobs left at the kill must drain in minutes.
        self.pause = float(os.environ.get("DRILL_PAUSE", "0.05"))

    def ack(self, kind, value):
        with self.lock:
            self.acked[kind].append(value)

    def err(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def widget(self, n):
        visitor = Client(self.port)
        key = self.ctx["key"]
        session = None
        i = 0
        while not self.stop.is_set():
            try:
                if session is None:
                    status, body, _ = visitor.call("POST", f"/api/v1/widget/{key}/sessions")
                    if status != 201:
                        self.err(f"widget session {status}")
                        time.sleep(0.2)
                        continue
                    session = body["session_id"]
                i += 1
                status, body, _ = visitor.call("POST", f"/api/v1/widget/{key}/sessions/{session}/messages",
                                               {"text": f"w{n}-{i}"})
                self.requests += 1
                if status == 200:
                    for m in [body["message"]] + body["replies"]:
                        if m and m.get("id"):
                            self.ack("widget_messages", m["id"])
                else:
                    self.err(f"widget turn {status}")
                    time.sleep(0.2)
                time.sleep(self.pause)
            except OSError:
                self.err("widget connection")
                time.sleep(0.05)

    def documents(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                status, body, _ = self.client.call(
                    "POST", f"/api/v1/knowledge-bases/{self.ctx['kb']}/documents/text",
                    {"name": f"doc {i}", "text": f"# Policy {i}\n\nReturns within {i} days are free. " * 4})
                self.requests += 1
                if status == 201:
                    self.ack("documents", body["id"])
                else:
                    self.err(f"document {status}")
                time.sleep(self.pause * 4)
            except OSError:
                self.err("document connection")
                time.sleep(0.05)

    def writes(self):
        """NLU examples added, training started and channel messages received, in turn."""
        i = 0
        bot = self.ctx["bot"]
        while not self.stop.is_set():
            i += 1
            try:
                status, body, _ = self.client.call(
                    "POST", f"/api/v1/bots/{bot}/nlu/intents/{self.ctx['intent']}/examples",
                    {"examples": [{"text": f"farewell number {i}"}]})
                self.requests += 1
                if status == 201:
                    for e in body["added"]:
                        self.ack("intent_examples", e["id"])
                else:
                    self.err(f"example {status}")
                if i % 40 == 1:
                    status, body, _ = self.client.call("POST", f"/api/v1/bots/{bot}/nlu/train")
                    self.requests += 1
                    if status == 202:
                        self.ack("jobs", body["id"])
                    else:
                        self.err(f"train {status}")
                if "hook" in self.ctx:
                    mid = f"m{i}"
                    status, body, _ = signed_hook(self.client, self.ctx, mid, f"u{i % 7}", f"hello {i}")
                    self.requests += 1
                    if status == 200:
                        self.ack("channel_messages", mid)
                    else:
                        self.err(f"hook {status}")
                time.sleep(self.pause)
            except OSError:
                self.err("write connection")
                time.sleep(0.05)

    def start(self, widget_threads=3):
        self.threads = [threading.Thread(target=self.widget, args=(n,), daemon=True) for n in range(widget_threads)]
        self.threads += [threading.Thread(target=self.documents, daemon=True),
                         threading.Thread(target=self.writes, daemon=True)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=90)


def present(data, acked):
    """Per kind: (acknowledged, found in the data file)."""
    db = sqlite3.connect(f"file:{data}?mode=ro", uri=True)
    out = {}
    for kind, ids in acked.items():
        if kind == "channel_messages":
            q = "SELECT external_id FROM channel_messages WHERE direction = 'inbound'"
        else:
            q = f"SELECT id FROM {kind}"
        found = {r[0] for r in db.execute(q)}
        out[kind] = (len(ids), sum(1 for i in ids if i in found))
    db.close()
    return out


def drill_kill9(args):
    work = tempfile.mkdtemp(prefix="drill-kill9-")
    data = os.path.join(work, "bb.db")
    rx = Receiver()
    server = Server(data).start()
    client = Client(server.port)
    ctx = setup(client, rx)
    load = Load(server.port, ctx, client)
    load.start()
    time.sleep(args.seconds)
    say(f"kill -9 after {args.seconds} s of mixed load ({load.requests} requests so far)")
    server.kill9()
    load.finish()
    wal = os.path.getsize(data + "-wal") if os.path.exists(data + "-wal") else 0
    found = present(data, load.acked)
    lost = {k: a - f for k, (a, f) in found.items() if a != f}
    for kind, (a, f) in found.items():
        say(f"  {kind:18} acknowledged {a:6}  found after kill {f:6}")
    # Restart: every queued job resumes and ends.
    restarted = time.time()
    server = Server(data, log=server.log_path).start()
    ready = time.time() - restarted
    deadline = time.time() + args.resume_timeout
    db = sqlite3.connect(f"file:{data}?mode=ro", uri=True)
    while time.time() < deadline:
        pending = db.execute("SELECT count(*) FROM jobs WHERE status IN ('queued','running')").fetchone()[0]
        docs = db.execute("SELECT count(*) FROM documents WHERE status NOT IN ('ready','failed')").fetchone()[0]
        outbound = db.execute("SELECT count(*) FROM channel_messages WHERE direction='outbound' "
                              "AND status='pending'").fetchone()[0]
        if pending == 0 and docs == 0 and outbound == 0:
            break
        time.sleep(0.5)
    jobs = dict(db.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall())
    docs = dict(db.execute("SELECT status, count(*) FROM documents GROUP BY status").fetchall())
    outbound = dict(db.execute("SELECT status, count(*) FROM channel_messages WHERE direction='outbound' "
                               "GROUP BY status").fetchall())
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    server.stop()
    resumed = time.time() - restarted
    say(f"  WAL at kill {wal} bytes; restart ready in {ready:.2f} s; queues drained in {resumed:.1f} s")
    say(f"  jobs {jobs}; documents {docs}; outbound {outbound}; integrity {integrity}; errors {load.errors}")
    ok = not lost and integrity == "ok" and not jobs.get("queued") and not jobs.get("running") \
        and set(docs) <= {"ready"} and set(outbound) <= {"sent"}
    result = {"drill": "kill9", "ok": ok, "seconds": args.seconds, "requests": load.requests,
              "acknowledged_vs_found": found, "lost": lost, "restart_ready_s": round(ready, 2),
              "resumed_s": round(resumed, 1), "jobs": jobs, "documents": docs, "outbound": outbound,
              "integrity": integrity, "receiver_deliveries": len(rx.ids), "errors": load.errors}
    say("RESULT " + json.dumps(result))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def percentile(sorted_values, q):
    """The q-quantile (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def drill_soak(args):
    """A fixed request rate for N minutes with the server's VmRSS sampled every
    5 s. "Start" is the first sample after the warm-up (default: the first
    minute, at most a fifth of a short run): allocator arenas, SQLite's page
    cache and the models' buffers settle in it. Drift = (end - start) / start."""
    work = tempfile.mkdtemp(prefix="drill-soak-")
    data = os.path.join(work, "bb.db")
    server = Server(data).start()
    client = Client(server.port)
    ctx = setup(client)
    key = ctx["key"]
    period = 1.0 / args.rate
    duration = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else max(10.0, min(60.0, duration / 5))
    samples = []
    statuses = {}
    latencies = {"widget turn": [], "list bots": [], "knowledge search": []}
    sessions = []
    visitor = Client(server.port)
    for _ in range(20):
        status, body, _ = visitor.call("POST", f"/api/v1/widget/{key}/sessions")
        if status == 201:
            sessions.append(body["session_id"])
        time.sleep(0.3)
    samples.append((0.0, server.rss_kib()))
    anon = [(0.0, server.rss_kib("RssAnon"))]
    started = time.time()
    next_sample = started + 5
    next_at = started
    n = 0
    while time.time() - started < duration:
        n += 1
        kind = n % 4
        sent = time.time()
        if kind == 0:
            what = "list bots"
            status, _, _ = client.call("GET", f"/api/v1/orgs/{ctx['org']}/bots")
        elif kind == 1:
            what = "knowledge search"
            status, _, _ = client.call("POST", f"/api/v1/knowledge-bases/{ctx['kb']}/search", {"query": "returns"})
        else:
            what = "widget turn"
            s = sessions[n % len(sessions)]
            status, _, _ = visitor.call("POST", f"/api/v1/widget/{key}/sessions/{s}/messages", {"text": f"soak {n}"})
        now = time.time()
        latencies[what].append((now - sent) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if now >= next_sample:
            samples.append((round(now - started, 1), server.rss_kib()))
            anon.append((samples[-1][0], server.rss_kib("RssAnon")))
            next_sample += 5
            if args.progress and len(samples) % 12 == 0:
                say(f"  {now - started:6.0f} s  {n} requests  RSS {samples[-1][1]} KiB (anon {anon[-1][1]})"
                    f"  statuses {statuses}")
        next_at += period
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.time() - started
    samples.append((round(elapsed, 1), server.rss_kib()))
    anon.append((samples[-1][0], server.rss_kib("RssAnon")))
    server.stop()

    def drift_of(series):
        after = [kib for t, kib in series if t >= warmup] or [series[-1][1]]
        start, end = after[0], after[-1]
        return after, start, end, ((end - start) / start * 100 if start else 0.0)

    after_warmup, start_kib, end_kib, drift = drift_of(samples)
    _, anon_start, anon_end, anon_drift = drift_of(anon)
    # Growth is what a leak shows; a shrinking VmRSS is the kernel dropping
    # mapped pages of the binary under the box's memory pressure.
    achieved = n / elapsed
    errors = sum(c for s, c in statuses.items() if not 200 <= s < 300)
    ok = drift < 5.0 and anon_drift < 5.0 and errors == 0
    lat = {}
    for what, values in latencies.items():
        values.sort()
        lat[what] = {"n": len(values), "p50_ms": round(percentile(values, 0.5), 1),
                     "p95_ms": round(percentile(values, 0.95), 1), "p99_ms": round(percentile(values, 0.99), 1),
                     "max_ms": round(values[-1], 1) if values else 0.0}
    max_kib = max(k for _, k in samples)
    say(f"soak {args.minutes} min at {args.rate} req/s (achieved {achieved:.1f}): {n} requests, statuses {statuses},"
        f" {errors} errors")
    say(f"  RSS before the load {samples[0][1]} KiB; start (first sample after the {warmup:.0f} s warm-up)"
        f" {start_kib} KiB; end {end_kib} KiB; drift {drift:+.2f} %; max {max_kib} KiB;"
        f" min after warm-up {min(after_warmup)} KiB; {len(samples)} samples every 5 s")
    say(f"  RssAnon start {anon_start} KiB; end {anon_end} KiB; drift {anon_drift:+.2f} %;"
        f" max {max(k for _, k in anon)} KiB")
    for what, l in lat.items():
        say(f"  {what:17} n={l['n']:6}  p50 {l['p50_ms']:7.1f} ms  p95 {l['p95_ms']:7.1f} ms"
            f"  p99 {l['p99_ms']:7.1f} ms  max {l['max_ms']:8.1f} ms")
    result = {"drill": "soak", "ok": ok, "minutes": args.minutes, "rate": args.rate, "requests": n,
              "achieved_rate": round(achieved, 1), "statuses": statuses, "errors": errors,
              "warmup_s": warmup, "rss_before_load_kib": samples[0][1], "rss_start_kib": start_kib,
              "rss_end_kib": end_kib, "rss_max_kib": max_kib, "drift_pct": round(drift, 2),
              "rss_anon_start_kib": anon_start, "rss_anon_end_kib": anon_end, "rss_anon_drift_pct": round(anon_drift, 2),
              "rss_anon_max_kib": max(k for _, k in anon), "latency": lat, "samples": samples, "anon_samples": anon}
    say("RESULT " + json.dumps(result))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def drill_diskfull(args):
    work = tempfile.mkdtemp(prefix="drill-diskfull-")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size_mib}m", "tmpfs", mnt],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        say(f"SKIP: cannot mount a tmpfs ({mounted.stderr.strip() or mounted.returncode}); run as root")
        say("RESULT " + json.dumps({"drill": "diskfull", "skipped": mounted.stderr.strip()}))
        return 77
    try:
        data = os.path.join(mnt, "bb.db")
        server = Server(data, log=os.path.join(work, "server.log")).start()
        client = Client(server.port)
        ctx = setup(client)
        # Ballast: freed later to give the space back.
        ballast = os.path.join(mnt, "ballast")
        with open(ballast, "wb") as f:
            f.write(b"\0" * (8 << 20))
        filler = "lorem ipsum dolor sit amet " * 2000
        written, first_full, bodies = 0, None, {}
        for i in range(10000):
            status, body, _ = client.call("POST", f"/api/v1/knowledge-bases/{ctx['kb']}/documents/text",
                                          {"name": f"fill {i}", "text": f"{i} {filler}"})
            if status == 201:
                written += 1
                continue
            bodies[status] = body
            if status >= 500:
                first_full = i
                break
            raise RuntimeError(f"unexpected {status}: {body}")
        full_error = next(iter(bodies.values()), None)
        # Every kind of write is refused the same way while full.
        turn_status, turn_body, _ = Client(server.port).call("POST", f"/api/v1/widget/{ctx['key']}/sessions")
        bot_status, bot_body, _ = client.call("POST", f"/api/v1/bots/{ctx['bot']}/nlu/intents", {"name": "while_full"})
        read_status, _, _ = client.call("GET", f"/api/v1/orgs/{ctx['org']}/bots")
        doc_status, _, _ = client.call("GET", f"/api/v1/knowledge-bases/{ctx['kb']}/documents")
        health_status, _, _ = client.call("GET", "/healthz")
        os.remove(ballast)
        after_status, after_body, _ = client.call("POST", f"/api/v1/bots/{ctx['bot']}/nlu/intents", {"name": "after_full"})
        turn_after, _, _ = Client(server.port).call("POST", f"/api/v1/widget/{ctx['key']}/sessions")
        server.stop()
        integrity = sqlite3.connect(f"file:{data}?mode=ro", uri=True).execute("PRAGMA integrity_check").fetchone()[0]
        code = (full_error or {}).get("error", {}).get("code")
        ok = (first_full is not None and code == "storage_full" and bot_status == 507 and read_status == 200
              and doc_status == 200 and after_status == 201 and turn_after == 201 and integrity == "ok")
        say(f"tmpfs {args.size_mib} MiB: {written} documents written, then {list(bodies)} {code};"
            f" while full: intent create {bot_status}, widget session {turn_status}, reads {read_status}/{doc_status},"
            f" healthz {health_status}; after freeing 8 MiB: intent create {after_status}, widget session {turn_after};"
            f" integrity {integrity}")
        result = {"drill": "diskfull", "ok": ok, "size_mib": args.size_mib, "documents_written": written,
                  "full_status": list(bodies), "full_code": code, "while_full": {
                      "intent_create": bot_status, "widget_session": turn_status, "read_bots": read_status,
                      "read_documents": doc_status, "healthz": health_status,
                      "intent_body": bot_body, "widget_body": turn_body},
                  "after_freeing": {"intent_create": after_status, "widget_session": turn_after},
                  "integrity": integrity}
        say("RESULT " + json.dumps(result))
        return 0 if ok else 1
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        shutil.rmtree(work, ignore_errors=True)


def crashed_data_file(work):
    """A data file left by kill -9 in the middle of widget turns, with its WAL."""
    data = os.path.join(work, "crashed.db")
    server = Server(data, env={"BOTBUILDER_ML__ENABLED": "false"}).start()
    client = Client(server.port)
    ctx = setup(client)
    load = Load(server.port, ctx, client)
    load.start(widget_threads=2)
    time.sleep(3)
    server.kill9()
    load.finish()
    return data


def drill_wal(args):
    work = tempfile.mkdtemp(prefix="drill-wal-")
    original = crashed_data_file(work)
    wal_size = os.path.getsize(original + "-wal")
    cases = {
        "intact WAL": None,
        "truncated mid-frame": lambda w: w[: len(w) - 1500] if len(w) > 5000 else w[: len(w) // 2 + 7],
        "garbage in the middle": lambda w: w[: len(w) // 2] + os.urandom(4096) + w[len(w) // 2 + 4096:],
        "garbage header": lambda w: os.urandom(32) + w[32:],
        "WAL all garbage": lambda w: os.urandom(len(w)),
        "damaged main file (2nd half)": "main",
    }
    results = {}
    ok = True
    for name, change in cases.items():
        d = os.path.join(work, name.replace(" ", "_"))
        os.mkdir(d)
        data = os.path.join(d, "bb.db")
        for suffix in ("", "-wal", "-shm", ".key"):
            if os.path.exists(original + suffix):
                shutil.copy(original + suffix, data + suffix)
        if change == "main":
            size = os.path.getsize(data)
            with open(data, "r+b") as f:
                f.seek(size // 2)
                f.write(os.urandom(size - size // 2))
        elif change:
            with open(data + "-wal", "rb") as f:
                w = f.read()
            with open(data + "-wal", "wb") as f:
                f.write(change(w))
        server = Server(data, env={"BOTBUILDER_ML__ENABLED": "false"})
        server.start(wait=False)
        outcome = None
        deadline = time.time() + 60
        while time.time() < deadline and outcome is None:
            if server.proc.poll() is not None:
                outcome = f"refused (exit {server.proc.returncode})"
                break
            try:
                c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    outcome = "started"
            except OSError:
                time.sleep(0.05)
        server.stop()
        log = server.log_tail()
        report = [line for line in log.splitlines() if "-wal:" in line or "corrupt" in line or "quick_check" in line]
        integrity = "n/a"
        if outcome == "started":
            integrity = sqlite3.connect(f"file:{data}?mode=ro", uri=True).execute(
                "PRAGMA integrity_check").fetchone()[0]
            ok &= integrity == "ok" and bool(report)
        else:
            ok &= "corrupt" in log or "restore it from a backup" in log
        results[name] = {"outcome": outcome, "integrity": integrity, "report": [r[-400:] for r in report][:3]}
        say(f"  {name:24} {outcome:20} integrity {integrity}")
        for r in report[:3]:
            say(f"      {r[-300:]}")
    say("RESULT " + json.dumps({"drill": "wal", "ok": ok, "wal_bytes": wal_size, "cases": results}))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def table_rows(db, table):
    cols = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
    # Sorted here: WITHOUT ROWID tables have no rowid to order by.
    return cols, sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)


def drill_backup(args):
    work = tempfile.mkdtemp(prefix="drill-backup-")
    data = os.path.join(work, "bb.db")
    rx = Receiver()
    server = Server(data).start()
    client = Client(server.port)
    ctx = setup(client, rx)
    load = Load(server.port, ctx, client)
    load.start()
    time.sleep(args.seconds / 2)
    with load.lock:
        before = {k: list(v) for k, v in load.acked.items()}
    backup = os.path.join(work, "backup.db")
    started = time.time()
    out = subprocess.run([BIN, "backup", backup, "--data", data], capture_output=True, text=True)
    took = time.time() - started
    if out.returncode != 0:
        raise RuntimeError(f"backup failed: {out.stderr}")
    time.sleep(args.seconds / 2)
    load.finish()
    server.stop()
    restored = os.path.join(work, "restored.db")
    key = data + ".key"
    out2 = subprocess.run([BIN, "restore", backup, "--data", restored, "--secret-key-file", key],
                          capture_output=True, text=True)
    if out2.returncode != 0:
        raise RuntimeError(f"restore failed: {out2.stderr} {out2.stdout}")
    b = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    r = sqlite3.connect(f"file:{restored}?mode=ro", uri=True)
    live = sqlite3.connect(f"file:{data}?mode=ro", uri=True)
    tables = [t for (t,) in b.execute("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                      "AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
    compared, rows, mismatched, missing_live, touched = 0, 0, [], [], []
    for t in tables:
        shadow = t.endswith(("_data", "_idx", "_content", "_docsize", "_config", "_rowids", "_chunks", "_info"))
        cb, rb = table_rows(b, t)
        cr, rr = table_rows(r, t)
        if t != "refinery_schema_history" and (cb != cr or rb != rr) and not shadow:
            # The restore opens the file like `serve` does; start-up may touch
            # a row (a lease given back, a setting stamped) but adds or drops none.
            if cb == cr and {row[0] for row in rb} == {row[0] for row in rr}:
                touched.append(t)
            else:
                mismatched.append(t)
        compared += 1
        rows += len(rb)
        # Nothing the load wrote is deleted: every id in the backup is in the live file.
        if "id" in cb and not shadow:
            ids_b = {row[cb.index("id")] for row in rb}
            ids_l = {x for (x,) in live.execute(f'SELECT id FROM "{t}"')}
            if not ids_b <= ids_l:
                missing_live.append(t)
    in_backup = present(backup, before)
    lost = {k: a - f for k, (a, f) in in_backup.items() if a != f}
    integrity = b.execute("PRAGMA integrity_check").fetchone()[0]
    fk = b.execute("PRAGMA foreign_key_check").fetchall()
    ok = not mismatched and not lost and not missing_live and integrity == "ok" and not fk
    say(f"backup under load took {took:.2f} s ({os.path.getsize(backup)} bytes); restored and compared"
        f" {compared} tables, {rows} rows: {len(mismatched)} tables differ {mismatched}; rows identical except"
        f" values the restore's start-up updates in {touched}")
    say(f"  acknowledged before the backup started vs in the backup: {in_backup}")
    say(f"  integrity {integrity}; foreign-key violations {len(fk)}; ids missing from the live file {missing_live}")
    say("RESULT " + json.dumps({"drill": "backup", "ok": ok, "backup_s": round(took, 2), "tables": compared,
                                "rows": rows, "mismatched": mismatched, "touched_by_startup": touched, "acked_before_vs_in_backup": in_backup,
                                "integrity": integrity, "fk_violations": len(fk), "errors": load.errors}))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


# Operations that would end the fuzzer's own session or organization; they are
# covered by their own integration tests.
FUZZ_EXCLUDE = [
    "POST /api/v1/auth/logout",
    "DELETE /api/v1/me/sessions",
    "DELETE /api/v1/me/sessions/{session_id}",
    "POST /api/v1/me/password",
    "POST /api/v1/me/2fa/setup",
    "POST /api/v1/me/2fa/enable",
    "POST /api/v1/me/2fa/disable",
    "POST /api/v1/me/2fa/backup-codes",
    "DELETE /api/v1/orgs/{org_id}",
    "POST /api/v1/admin/auth/logout",
]


def drill_schemathesis(args):
    """Schemathesis against /api/v1/openapi.json with a signed-in owner's
    session, path ids pointing at existing rows: no 500s, responses as declared."""
    st = os.environ.get("SCHEMATHESIS", os.path.join(ROOT, "target", "drills-venv", "bin", "schemathesis"))
    work = tempfile.mkdtemp(prefix="drill-fuzz-")
    data = os.path.join(work, "bb.db")
    rx = Receiver()
    server = Server(data, env={"BOTBUILDER_ML__ENABLED": "false" if args.no_ml else "true"}).start()
    client = Client(server.port)
    ctx = setup(client, rx)
    org, bot, kb = ctx["org"], ctx["bot"], ctx["kb"]
    doc = client.ok("POST", f"/api/v1/knowledge-bases/{kb}/documents/text",
                    {"name": "Returns", "text": "# Returns\n\nReturns within 30 days are free."})["id"]
    status, schema, _ = client.call("GET", "/api/v1/openapi.json")
    ops = [(m.upper(), p) for p, item in schema["paths"].items() for m in item
           if m in ("get", "post", "put", "patch", "delete")]
    params = sorted({seg[1:-1] for _, p in ops for seg in p.split("/") if seg.startswith("{")})
    values = {"org_id": org, "bot_id": bot, "kb_id": kb, "knowledge_base_id": kb, "document_id": doc,
              "widget_key": ctx["key"]}
    # The superadmin console has its own session cookie and CSRF token (the
    # drill's user is the instance's first, so a superadmin).
    status, admin, r = client.call("POST", "/api/v1/admin/auth/login", {"email": client.email, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"admin login: {status} {admin}")
    admin_cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("__Host-bb_admin=")]
    admin_token = admin_cookie[0].split(";")[0].split("=", 1)[1]
    with open(os.path.join(work, "schemathesis.toml"), "w") as f:
        # Credentials through the document's own security schemes: Schemathesis
        # then sends the right cookie for each operation instead of a fixed
        # Cookie header it may replace with a generated one.
        f.write(f'headers = {{ "X-CSRF-Token" = {json.dumps(client.csrf)} }}\n\n')
        f.write(f"[auth.openapi.session]\napi_key = {json.dumps(client.cookie.split('=', 1)[1])}\n\n")
        f.write(f"[auth.openapi.admin_session]\napi_key = {json.dumps(admin_token)}\n\n")
        f.write("[parameters]\n")
        for name in params:
            if name in values:
                v = values[name]
                f.write(f'"path.{name}" = {json.dumps(v)}\n')
        f.write(f'\n[[operations]]\ninclude-path-regex = "^/api/v1/admin/"\n'
                f'headers = {{ "X-CSRF-Token" = {json.dumps(admin["csrf_token"])} }}\n')
    excluded = [e for e in FUZZ_EXCLUDE if tuple(e.split(" ", 1)) in set(ops)]
    cmd = [st, "run", f"http://127.0.0.1:{server.port}/api/v1/openapi.json",
           "--url", f"http://127.0.0.1:{server.port}",
           "--checks", args.checks, "--max-examples", str(args.max_examples),
           "--phases", args.phases, "--workers", str(args.workers),
           "--report", "junit", "--report-dir", os.path.join(work, "report"),
           "--request-timeout", "30", "--suppress-health-check", "all"]
    exclude_regex = "|".join("^" + e.replace("{", "\\{").replace("}", "\\}") + "$" for e in excluded)
    if exclude_regex:
        cmd += ["--exclude-name-regex", exclude_regex]
    if args.include:
        cmd += ["--include-path-regex", args.include]
    say(f"{len(ops)} operations, {len(params)} path parameters ({len([p for p in params if p in values])} pinned to"
        f" existing rows); excluded {excluded}")
    started = time.time()
    # Written as it runs, so a long run can be followed with `tail -f`.
    log = os.path.join(args.out or work, "schemathesis.log")
    say(f"following: tail -f {log}")
    with open(log, "w") as f:
        env = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.join(ROOT, "tests", "drills", "schemathesis_hooks.py"))
        proc = subprocess.run(cmd, cwd=work, env=env, stdout=f, stderr=subprocess.STDOUT, text=True)
    took = time.time() - started
    with open(log) as f:
        out = f.read()
    alive = server.proc.poll() is None
    server.stop()
    say(out[-6000:])
    say(f"schemathesis exit {proc.returncode} in {took:.0f} s; server alive at the end: {alive}; full log {log}")
    say("RESULT " + json.dumps({"drill": "schemathesis", "ok": proc.returncode == 0 and alive,
                                "operations": len(ops), "seconds": round(took), "exit": proc.returncode}))
    return 0 if proc.returncode == 0 and alive else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="drill", required=True)
    k = sub.add_parser("kill9")
    k.add_argument("--seconds", type=float, default=20)
    k.add_argument("--resume-timeout", type=float, default=300)
    s = sub.add_parser("soak")
    s.add_argument("--minutes", type=float, default=30)
    s.add_argument("--rate", type=int, default=20)
    s.add_argument("--warmup", type=float, help="seconds before the start sample (default 60, at most a fifth of the run)")
    s.add_argument("--progress", action="store_true", help="print RSS and statuses every minute")
    d = sub.add_parser("diskfull")
    d.add_argument("--size-mib", type=int, default=96)
    sub.add_parser("wal")
    b = sub.add_parser("backup")
    b.add_argument("--seconds", type=float, default=20)
    f = sub.add_parser("schemathesis")
    f.add_argument("--max-examples", type=int, default=20)
    f.add_argument("--phases", default="examples,coverage,fuzzing")
    f.add_argument("--checks", default="not_a_server_error,response_schema_conformance,status_code_conformance,"
                                       "content_type_conformance")
    f.add_argument("--workers", default="2")
    f.add_argument("--include", help="only paths matching this regular expression")
    f.add_argument("--no-ml", action="store_true", help="start the server without the local models")
    f.add_argument("--out", help="directory for schemathesis.log")
    args = p.parse_args()
    if not os.path.exists(BIN):
        say(f"no binary at {BIN}: run `cargo build` first or set DRILL_BIN")
        return 2
    return {"kill9": drill_kill9, "soak": drill_soak, "diskfull": drill_diskfull, "wal": drill_wal,
            "backup": drill_backup, "schemathesis": drill_schemathesis}[args.drill](args)


if __name__ == "__main__":
    sys.exit(main())
