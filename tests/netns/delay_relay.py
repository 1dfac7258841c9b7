#!/usr/bin/env python3
"""delay_relay.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

A TCP relay on 127.0.0.1:LISTEN_PORT to TARGET_HOST:TARGET_PORT that holds
every chunk of bytes DELAY_MS milliseconds before passing it on, in both
directions, keeping their order. test_latency.sh runs it on a worker host in
place of `tc qdisc add ... netem delay` when the kernel has no sch_netem: the
worker then connects through it and sees the same added latency (not the
same packet-level behaviour: no loss, no reordering, TCP acks are not
delayed)."""

import asyncio
import socket
import sys


async def pump(reader, writer, delay):
    """Copy reader to writer, each chunk DELAY seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, None))
    try:
        await sender
    except ConnectionError:
        pass
    writer.close()


async def relay(client_reader, client_writer, target, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    for w in (client_writer, server_writer):
        w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pump(client_reader, server_writer, delay),
                         pump(server_reader, client_writer, delay))


async def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    port, host, target_port, delay_ms = sys.argv[1:]
    target = (host, int(target_port))
    delay = int(delay_ms) / 1000
    server = await asyncio.start_server(lambda r, w: relay(r, w, target, delay),
                                        "127.0.0.1", int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
