"""Server CPU per SSE delivery: opens N streams on one channel, publishes M messages at R a second over one keep-alive
connection, waits until every stream has every message, and prints the server's CPU time per delivery.

    python3 bench/sse_fanout.py --port 18097 --key pk_bench --secret sk_bench_… --streams 1000 --messages 300 \\
        --rate 100 --server-pid PID

Standard library only; the Python reader costs more than the server, so compare builds in one run, not with other
servers. Raise the descriptor limit first (`ulimit -n 20000`) for more than about 1,000 streams.
"""

import argparse
import asyncio
import http.client
import json
import os
import time

from sse_idle import open_stream


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stream(port: int, key: str, channel: str, expected: int, opened: asyncio.Event, counts: list, index: int):
    reader, writer = await open_stream(port, key, index, channel)
    opened.set()
    tail = b""
    while counts[index] < expected:
        chunk = await reader.read(65536)
        if not chunk:
            raise SystemExit(f"stream {index} closed after {counts[index]} messages")
        data = tail + chunk
        counts[index] += data.count(b"\ndata: ")
        tail = data[-6:]
    writer.close()


def publish(port: int, secret: str, channel: str, messages: int, rate: float):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.monotonic()
    for n in range(messages):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps({"channel": channel, "data": {"n": n, "pad": "x" * 64}})
        connection.request("POST", "/_rt/api/publish", body, {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"publish {n}: {response.status}")
    connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--server-pid", type=int, required=True)
    args = parser.parse_args()
    channel = f"fan-{time.monotonic_ns()}"
    counts = [0] * args.streams
    tasks = []
    for index in range(args.streams):
        opened = asyncio.Event()
        tasks.append(asyncio.create_task(stream(args.port, args.key, channel, args.messages, opened, counts, index)))
        await opened.wait()
    before = cpu_seconds(args.server_pid)
    started = time.monotonic()
    await asyncio.to_thread(publish, args.port, args.secret, channel, args.messages, args.rate)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    elapsed = time.monotonic() - started
    used = cpu_seconds(args.server_pid) - before
    deliveries = sum(counts)
    print(
        f"{args.streams} streams x {args.messages} messages: {deliveries} delivered in {elapsed:.1f} s, "
        f"server CPU {used:.2f} s, {used / deliveries * 1e6:.2f} us per delivery"
    )


if __name__ == "__main__":
    asyncio.run(main())
