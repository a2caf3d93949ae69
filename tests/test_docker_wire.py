"""HTTP/1.1 replies as the Docker adapter reads them, from raw bytes on a socket pair: each
way a body can end, and each way a reply can be broken (the engine itself is
test_docker_engine's)."""

from __future__ import annotations

import socket

import pytest

from host.docker.wire import MAX_HEADERS, MAX_LINE, Response, WireError, request


def reply(raw: bytes) -> tuple[Response, bytes]:
    """What request() read of `raw`, and what it sent."""
    ours, theirs = socket.socketpair()
    theirs.sendall(raw)
    theirs.shutdown(socket.SHUT_WR)
    try:
        response = request(ours, "POST", "/v1.41/x", {"Host": "docker"}, b"{}")
        sent = theirs.recv(65536)
        return response, sent
    finally:
        theirs.close()


def test_the_request_says_its_length_and_that_the_connection_closes() -> None:
    _, sent = reply(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert sent == (
        b"POST /v1.41/x HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more", 200, b"hello"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 200, b""),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n",
            200,
            b"hello, world",
        ),
        (b'HTTP/1.1 404 Not Found\r\n\r\n{"message": "no"}', 404, b'{"message": "no"}'),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.0 200\r\n\r\nto the end", 200, b"to the end"),
    ],
)
def test_a_body_ends_by_its_length_its_last_chunk_or_the_connection(
    raw: bytes, status: int, body: bytes
) -> None:
    response, _ = reply(raw)
    assert (response.status, response.read()) == (status, body)


def test_lines_come_whole_across_chunks_and_the_last_without_a_newline() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n6\r\n:1}\n{}\r\n3\r\n\nxy\r\n0\r\n\r\n'
    )
    response, _ = reply(raw)
    assert [response.readline() for _ in range(4)] == [b'{"a":1}\n', b"{}\n", b"xy", b""]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "closed before a reply"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP status line"),
        (b"HTTP/1.1 OK\r\n\r\n", "not an HTTP status line"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "not a header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n", "headers"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * (MAX_LINE + 1) + b"\r\n\r\n", "longer than"),
    ],
)
def test_a_broken_reply_head_is_a_wire_error_naming_what(raw: bytes, error: str) -> None:
    with pytest.raises(WireError, match=error):
        reply(raw)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", "4 bytes short"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not a chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc", "inside a chunk"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "chunked body"),
    ],
)
def test_a_body_cut_short_is_a_wire_error(raw: bytes, error: str) -> None:
    response, _ = reply(raw)
    with pytest.raises(WireError, match=error):
        response.read()
