"""Memory per idle SSE stream: opens N streams (one channel each), waits, and prints the server's RSS growth per stream.

    python3 bench/sse_idle.py --port 18097 --key pk_bench --streams 4000 --server-pid PID

Standard library only. Raise the descriptor limit first (`ulimit -n 20000`) for more than about 1,000 streams.
"""

import argparse
import asyncio


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for pid {pid}")


async def open_stream(port: int, key: str, index: int, channel: str | None = None):
    """Opens stream `index` (on its own channel unless `channel` names one) and returns once it is connected."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /sse?key={key}&channel={channel or f'idle-{index}'} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    seen = b""
    while b": connected" not in seen:
        chunk = await reader.read(4096)
        if not chunk:
            raise SystemExit(f"stream {index} closed before it opened: {seen[:200]!r}")
        seen += chunk
    return reader, writer


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--streams", type=int, default=4000)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--hold", type=float, default=5, help="seconds to wait before reading RSS")
    args = parser.parse_args()
    before = rss(args.server_pid)
    streams = []
    for first in range(0, args.streams, 500):
        batch = range(first, min(args.streams, first + 500))
        streams += await asyncio.gather(*(open_stream(args.port, args.key, i) for i in batch))
    await asyncio.sleep(args.hold)
    after = rss(args.server_pid)
    print(f"{len(streams)} streams: {(after - before) / len(streams) / 1024:.1f} KB per stream "
          f"(RSS {before >> 20} -> {after >> 20} MB)")


if __name__ == "__main__":
    asyncio.run(main())
