# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one containerd API call ctr cannot make: replace a container's stored OCI spec.

``ctr containers create`` has no flags for rlimits, sysctls, pids limits, CPU shares and sets,
supplementary groups, the OOM score or devices under another path, and its ``--config`` drops the
image and the snapshot. So the container is created by ctr, then its spec (as ctr made it, with the
image's configuration) is completed and given back to containerd through
``containerd.services.containers.v1.Containers/Update`` with the field mask ``["spec"]``: containerd
replaces the spec only and keeps the image, snapshot, labels and runtime. This speaks just enough gRPC
for that call (HTTP/2 without TLS, "prior knowledge", over the daemon's unix socket), with the Python
standard library (DESIGN: no extra dependency on managed hosts). Used by client.Client.update_spec only.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


import json
import socket
import struct
import time
from urllib.parse import unquote

# containerd registers specs.Spec under this URL (core/runtime/typeurl.go) and stores it as JSON.
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
UPDATE_METHOD = "/containerd.services.containers.v1.Containers/Update"
GRPC_CODES = ("OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
              "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
              "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated")


class ContainerdError(Exception):
    """Any failure of the call, with a plain message (gRPC status and message when containerd sent one)."""


# -- protobuf: the request only needs varints and length-delimited fields (wire type 2) -----------

def _varint(n):
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    if not isinstance(payload, bytes):
        payload = payload.encode("utf-8")
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_update_request(container_id, spec_json):
    """UpdateContainerRequest{container: {id: 1, spec: Any 5}, update_mask: FieldMask{paths: ["spec"]}}."""
    spec_any = _field(1, SPEC_TYPE_URL) + _field(2, spec_json)
    container = _field(1, container_id) + _field(5, spec_any)
    return _field(1, container) + _field(2, _field(1, "spec"))


# -- HPACK (RFC 7541) decoding; we only ever send literals, so no encoder table is needed --------

_STATIC_NAMES = (
    ":authority :method :method :path :path :scheme :scheme :status :status :status :status :status "
    ":status :status accept-charset accept-encoding accept-language accept-ranges accept "
    "access-control-allow-origin age allow authorization cache-control content-disposition "
    "content-encoding content-language content-length content-location content-range content-type "
    "cookie date etag expect expires from host if-match if-modified-since if-none-match if-range "
    "if-unmodified-since last-modified link location max-forwards proxy-authenticate "
    "proxy-authorization range referer refresh retry-after server set-cookie "
    "strict-transport-security transfer-encoding user-agent vary via www-authenticate").split()
_STATIC_VALUES = ("", "GET", "POST", "/", "/index.html", "http", "https", "200", "204", "206", "304",
                  "400", "404", "500", "", "gzip, deflate")
STATIC_TABLE = [(name.encode(), (_STATIC_VALUES[i] if i < len(_STATIC_VALUES) else "").encode())
                for i, name in enumerate(_STATIC_NAMES)]

# Appendix B code lengths of symbols 0..256 (256 = EOS). The code is canonical, so lengths suffice.
_HUFFMAN_LENGTHS = (
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    30)


def _canonical_codes(lengths):
    """{(length, code): symbol}: shorter codes first, equal lengths in symbol order, counting up."""
    table, code, previous = {}, 0, 0
    for length, symbol in sorted((length, symbol) for symbol, length in enumerate(lengths)):
        code <<= length - previous
        previous = length
        table[(length, code)] = symbol
        code += 1
    return table


HUFFMAN_DECODE = _canonical_codes(_HUFFMAN_LENGTHS)


def huffman_decode(data):
    out, code, length = bytearray(), 0, 0
    for byte in bytearray(data):
        for shift in range(7, -1, -1):
            code, length = code << 1 | (byte >> shift) & 1, length + 1
            symbol = HUFFMAN_DECODE.get((length, code))
            if symbol == 256:
                raise ValueError("HPACK: EOS inside a Huffman string")
            if symbol is not None:
                out.append(symbol)
                code, length = 0, 0
            elif length > 30:
                raise ValueError("HPACK: invalid Huffman code")
    # Padding is the most significant bits of EOS (all ones), shorter than a byte.
    if length > 7 or code != (1 << length) - 1:
        raise ValueError("HPACK: invalid Huffman padding")
    return bytes(out)


class HpackDecoder(object):
    def __init__(self, max_size=4096):
        self.max_size = max_size  # SETTINGS_HEADER_TABLE_SIZE we allow (4096 is the default we keep)
        self.limit = max_size     # the encoder's current choice, lowered by size updates
        self.dynamic = []         # newest first, as HPACK indexes it
        self.size = 0

    def _int(self, data, pos, prefix):
        mask = (1 << prefix) - 1
        value, pos = data[pos] & mask, pos + 1
        if value == mask:
            shift = 0
            while True:
                byte, pos = data[pos], pos + 1
                value += (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        return value, pos

    def _string(self, data, pos):
        huffman = data[pos] & 0x80
        length, pos = self._int(data, pos, 7)
        if pos + length > len(data):
            raise ValueError("HPACK: truncated string")
        raw = bytes(data[pos:pos + length])
        return (huffman_decode(raw) if huffman else raw), pos + length

    def _entry(self, index):
        if 0 < index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        if 0 < index - len(STATIC_TABLE) <= len(self.dynamic):
            return self.dynamic[index - len(STATIC_TABLE) - 1]
        raise ValueError("HPACK: bad index %d" % index)

    def _evict(self):
        while self.size > self.limit:
            name, value = self.dynamic.pop()
            self.size -= len(name) + len(value) + 32

    def decode(self, block):
        """A header block -> [(name, value)] as str; keeps the dynamic table across blocks."""
        data, pos, headers = bytearray(block), 0, []
        while pos < len(data):
            byte = data[pos]
            if byte & 0x80:                                   # indexed field
                index, pos = self._int(data, pos, 7)
                headers.append(self._entry(index))
                continue
            if byte & 0xE0 == 0x20:                           # dynamic table size update
                self.limit, pos = self._int(data, pos, 5)
                if self.limit > self.max_size:
                    raise ValueError("HPACK: table size update above the limit")
                self._evict()
                continue
            indexing = byte & 0x40                            # else without / never indexed
            index, pos = self._int(data, pos, 6 if indexing else 4)
            name, pos = (self._entry(index)[0], pos) if index else self._string(data, pos)
            value, pos = self._string(data, pos)
            headers.append((name, value))
            if indexing:
                self.dynamic.insert(0, (name, value))
                self.size += len(name) + len(value) + 32
                self._evict()
        return [(n.decode("latin-1"), v.decode("utf-8", "replace")) for n, v in headers]


# -- HTTP/2 (RFC 7540), one client stream (id 1) -------------------------------------------------

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
BIG_WINDOW = 1 << 24  # what we let the server send, so we never need to return WINDOW_UPDATEs


def _frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", kind, flags, stream) + payload


def _hpack_literal(name, value):
    """Literal without indexing, new name, no Huffman: the simplest valid encoding."""
    def string(text):
        raw = text.encode("utf-8")
        if len(raw) < 127:
            return bytes(bytearray([len(raw)])) + raw
        out, n = bytearray([127]), len(raw) - 127
        while n >= 128:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        return bytes(out + bytearray([n])) + raw
    return b"\x00" + string(name) + string(value)


class _Connection(object):
    def __init__(self, sock, deadline):
        self.sock, self.deadline = sock, deadline
        self.max_frame = 16384
        self.send_window = {0: 65535, 1: 65535}
        self.initial_window = 65535
        self.hpack = HpackDecoder()

    def read_frame(self):
        header = self._recv(9)
        length = struct.unpack(">I", b"\x00" + header[:3])[0]
        kind, flags, stream = struct.unpack(">BBI", header[3:])
        return kind, flags, stream & 0x7FFFFFFF, self._recv(length)

    def _recv(self, n):
        chunks = []
        while n:
            if time.time() > self.deadline:
                raise socket.timeout("deadline exceeded")
            chunk = self.sock.recv(n)
            if not chunk:
                raise ContainerdError("containerd closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def handle_control(self, kind, flags, stream, payload):
        """Connection-level frames any time: settings, pings, flow control, goaway."""
        if kind == SETTINGS and not flags & ACK:
            for i in range(0, len(payload), 6):
                key, value = struct.unpack(">HI", payload[i:i + 6])
                if key == 0x4:  # INITIAL_WINDOW_SIZE changes open streams' windows by the delta
                    self.send_window[1] += value - self.initial_window
                    self.initial_window = value
                elif key == 0x5:
                    self.max_frame = value
            self.sock.sendall(_frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.sock.sendall(_frame(PING, ACK, 0, payload))
        elif kind == WINDOW_UPDATE:
            self.send_window[stream] = self.send_window.get(stream, 0) + (
                struct.unpack(">I", payload)[0] & 0x7FFFFFFF)
        elif kind == GOAWAY:
            last, code = struct.unpack(">II", payload[:8])
            if last & 0x7FFFFFFF < 1:  # our stream will not be processed
                raise ContainerdError("containerd sent GOAWAY (error %d): %s"
                                      % (code, payload[8:].decode("utf-8", "replace")))
        elif kind == RST_STREAM and stream == 1:
            raise ContainerdError("containerd reset the stream (HTTP/2 error %d)"
                                  % struct.unpack(">I", payload)[0])


def grpc_call(socket_path, namespace, method, request, timeout=10):
    """One unary gRPC call on a unix socket; returns the response message bytes."""
    deadline = time.time() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        conn = _Connection(sock, deadline)
        # Preface, our SETTINGS (no push, a big stream window) and a big connection window.
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                     + _frame(SETTINGS, 0, 0, struct.pack(">HIHI", 0x2, 0, 0x4, BIG_WINDOW))
                     + _frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", BIG_WINDOW - 65535)))
        while True:  # the server's SETTINGS come first; they may change the frame size and windows
            frame = conn.read_frame()
            conn.handle_control(*frame)
            if frame[0] == SETTINGS and not frame[1] & ACK:
                break
        block = b"".join(_hpack_literal(n, v) for n, v in (
            (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", "localhost"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("containerd-namespace", namespace)))
        sock.sendall(_frame(HEADERS, END_HEADERS, 1, block))
        body = b"\x00" + struct.pack(">I", len(request)) + request  # not compressed, length, message
        while body:  # DATA within the frame size and both send windows; wait for WINDOW_UPDATEs
            size = min(len(body), conn.max_frame, conn.send_window[0], conn.send_window[1])
            if size <= 0:
                conn.handle_control(*conn.read_frame())
                continue
            chunk, body = body[:size], body[size:]
            conn.send_window[0] -= size
            conn.send_window[1] -= size
            sock.sendall(_frame(DATA, 0 if body else END_STREAM, 1, chunk))
        headers, data, fragment, stream_ends, ended = {}, b"", b"", 0, False
        while not ended:
            kind, flags, stream, payload = conn.read_frame()
            if stream != 1 or kind not in (DATA, HEADERS, CONTINUATION):
                conn.handle_control(kind, flags, stream, payload)
                continue
            if kind in (DATA, HEADERS) and flags & PADDED:
                payload = payload[1:len(payload) - bytearray(payload)[0]]
            if kind == DATA:
                data += payload
                ended = bool(flags & END_STREAM)
                continue
            if kind == HEADERS:
                fragment, stream_ends = (payload[5:] if flags & PRIORITY else payload), flags & END_STREAM
            else:
                fragment += payload
            if flags & END_HEADERS:  # response headers, then trailers (or one trailers-only block)
                headers.update(conn.hpack.decode(fragment))
                ended = bool(stream_ends)
        try:  # a polite goodbye; the answer is already complete
            sock.sendall(_frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)))
        except OSError:
            pass
    except (OSError, ValueError, IndexError, struct.error) as error:  # socket.timeout is an OSError
        raise ContainerdError("gRPC call %s on %s failed: %s" % (method, socket_path, error))
    finally:
        sock.close()
    if headers.get(":status") != "200":
        raise ContainerdError("containerd answered HTTP status %s" % headers.get(":status"))
    if "grpc-status" not in headers:
        raise ContainerdError("containerd sent no grpc-status for %s" % method)
    code = int(headers["grpc-status"])
    if code:
        name = GRPC_CODES[code] if code < len(GRPC_CODES) else str(code)
        raise ContainerdError("containerd refused %s: %s: %s"
                              % (method, name, unquote(headers.get("grpc-message", ""))))
    if len(data) < 5 or data[0:1] != b"\x00":
        raise ContainerdError("unexpected gRPC response body from containerd")
    return data[5:5 + struct.unpack(">I", data[1:5])[0]]


def update_spec(socket_path, namespace, container_id, spec_dict, timeout=10):
    """Replace only the stored OCI spec of container_id (labels, image, snapshot stay)."""
    spec_json = json.dumps(spec_dict, separators=(",", ":")).encode("utf-8")
    grpc_call(socket_path, namespace, UPDATE_METHOD, encode_update_request(container_id, spec_json), timeout)
