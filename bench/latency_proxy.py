"""A TCP proxy that puts a service a round trip away: `make bench`'s WAN mode runs S3 behind it.

    python bench/latency_proxy.py --listen 127.0.0.1:9001 --target 127.0.0.1:8333 --rtt-ms 20

Each direction of a connection is a pipe with a one-way delay of half the round trip: a chunk
read at time t is written at t + rtt/2, and chunks read meanwhile follow behind it, so a request
and its answer cost one round trip however they are split, and a long body streams at full speed
after its first byte is late. A new connection first waits one round trip, for the TCP handshake
a distant server would cost. Bandwidth is not limited. Memory is bounded: at most `QUEUE_CHUNKS`
chunks of `CHUNK_BYTES` wait in each direction (the reader then waits for the writer, and TCP's
own flow control pushes back on the sender).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 16


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy `reader` to `writer`, each chunk `delay` seconds after it was read; EOF likewise."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)

    async def read_side() -> None:
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                await queue.put((loop.time() + delay, chunk))
        except (ConnectionError, OSError):
            pass
        await queue.put((loop.time() + delay, b""))

    reading = asyncio.create_task(read_side())
    try:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    target: tuple[str, int],
    rtt: float,
) -> None:
    try:
        await asyncio.sleep(rtt)  # the handshake with a distant server
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            pipe(client_reader, server_writer, rtt / 2),
            pipe(server_reader, client_writer, rtt / 2),
        )
    except (ConnectionError, OSError):
        pass
    finally:
        for writer in (client_writer, server_writer):
            writer.close()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve(listen: tuple[str, int], target: tuple[str, int], rtt: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: relay(r, w, target, rtt), *listen, reuse_address=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"latency proxy {listen} -> {target}, round trip {rtt * 1000:.0f} ms", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=address, required=True, metavar="HOST:PORT")
    parser.add_argument("--target", type=address, required=True, metavar="HOST:PORT")
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="round trip (default 20)")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.target, args.rtt_ms / 1000))


if __name__ == "__main__":
    main()
