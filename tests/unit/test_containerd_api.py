"""Unit tests: HPACK against RFC 7541 Appendix C, the Huffman table against Go's x/net/http2/hpack, protobuf bytes."""

import binascii
import os
import shutil
import socket
import struct
import tempfile
import threading
import unittest

from ansible_collections.ctrops.containerd.plugins.module_utils import containerd_api as g


def unhex(text):
    return binascii.unhexlify("".join(text.split()))


def table(decoder):
    return [(n.decode(), v.decode()) for n, v in decoder.dynamic], decoder.size


class Huffman(unittest.TestCase):
    def test_canonical_codes_match_go_table(self):
        # go_huffman_codes.txt: huffmanCodes from containerd's vendored golang.org/x/net/http2/hpack/tables.go
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "go_huffman_codes.txt")) as handle:
            go_codes = [int(line, 16) for line in handle if line.strip()]
        ours = {sym: code for (length, code), sym in g.HUFFMAN_DECODE.items()}
        self.assertEqual(len(go_codes), 256)
        self.assertEqual([ours[s] for s in range(256)], go_codes)
        self.assertEqual(ours[256], 0x3FFFFFFF)  # EOS, RFC 7541 Appendix B

    def test_rfc_strings(self):
        self.assertEqual(g.huffman_decode(unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")), b"www.example.com")
        self.assertEqual(g.huffman_decode(unhex("a8eb 1064 9cbf")), b"no-cache")

    def test_bad_padding(self):
        with self.assertRaises(ValueError):
            g.huffman_decode(unhex("f1e3 c2e5 f23a 6ba0 ab90 f4fe"))  # padding not all ones
        with self.assertRaises(ValueError):
            g.huffman_decode(unhex("ffff ffff"))  # EOS (30 ones) inside the string


class Integers(unittest.TestCase):  # RFC 7541 C.1
    def test_examples(self):
        d = g.HpackDecoder()
        self.assertEqual(d._int(bytearray(b"\x0a"), 0, 5), (10, 1))
        self.assertEqual(d._int(bytearray(unhex("1f9a0a")), 0, 5), (1337, 3))
        self.assertEqual(d._int(bytearray(b"\x2a"), 0, 8), (42, 1))


REQUESTS = [
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
    [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"),
     ("cache-control", "no-cache")],
    [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"),
     ("custom-key", "custom-value")],
]
REQUEST_TABLES = [
    ([(":authority", "www.example.com")], 57),
    ([("cache-control", "no-cache"), (":authority", "www.example.com")], 110),
    ([("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], 164),
]
D1, D2 = "Mon, 21 Oct 2013 20:13:21 GMT", "Mon, 21 Oct 2013 20:13:22 GMT"
URL, COOKIE = "https://www.example.com", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
RESPONSES = [
    [(":status", "302"), ("cache-control", "private"), ("date", D1), ("location", URL)],
    [(":status", "307"), ("cache-control", "private"), ("date", D1), ("location", URL)],
    [(":status", "200"), ("cache-control", "private"), ("date", D2), ("location", URL),
     ("content-encoding", "gzip"), ("set-cookie", COOKIE)],
]
RESPONSE_TABLES = [
    ([("location", URL), ("date", D1), ("cache-control", "private"), (":status", "302")], 222),
    ([(":status", "307"), ("location", URL), ("date", D1), ("cache-control", "private")], 222),
    ([("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", D2)], 215),
]


class Blocks(unittest.TestCase):
    def run_series(self, max_size, blocks, expected, tables):
        d = g.HpackDecoder(max_size)
        for block, headers, state in zip(blocks, expected, tables):
            self.assertEqual(d.decode(unhex(block)), headers)
            self.assertEqual(table(d), state)

    def test_c3_requests_plain(self):
        self.run_series(4096, [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ], REQUESTS, REQUEST_TABLES)

    def test_c4_requests_huffman(self):
        self.run_series(4096, [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ], REQUESTS, REQUEST_TABLES)

    def test_c6_responses_huffman_with_eviction(self):
        self.run_series(256, [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
            "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
            "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
            "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ], RESPONSES, RESPONSE_TABLES)

    def test_c2_literals_and_size_update(self):
        d = g.HpackDecoder()
        self.assertEqual(d.decode(unhex("040c 2f73 616d 706c 652f 7061 7468")), [(":path", "/sample/path")])
        self.assertEqual(d.decode(unhex("1008 7061 7373 776f 7264 0673 6563 7265 74")), [("password", "secret")])
        self.assertEqual(d.dynamic, [])
        d.decode(unhex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))
        self.assertEqual(d.size, 55)
        d.decode(b"\x20")  # size update to 0 evicts everything
        self.assertEqual((d.dynamic, d.size), ([], 0))
        with self.assertRaises(ValueError):
            d.decode(unhex("3fe2 1f"))  # size update to 4097 > 4096

    def test_own_literal_encoding_roundtrip(self):
        long_value = "x" * 300
        block = g._hpack_literal("containerd-namespace", "ns") + g._hpack_literal("k", long_value)
        self.assertEqual(g.HpackDecoder().decode(block), [("containerd-namespace", "ns"), ("k", long_value)])


def parse_proto(data):
    """Minimal wire-type-2 parser: [(field, bytes)]."""
    out, pos = [], 0
    while pos < len(data):
        key, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        assert key & 7 == 2, key
        length, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append((key >> 3, data[pos:pos + length]))
        pos += length
    return out


class Protobuf(unittest.TestCase):
    def test_varint(self):
        self.assertEqual(g._varint(0), b"\x00")
        self.assertEqual(g._varint(300), b"\xac\x02")
        self.assertEqual(g._varint(16384), b"\x80\x80\x01")

    def test_update_request(self):
        spec = b'{"ociVersion":"1.0.2"}' * 20  # > 127 bytes: two-byte length
        req = g.encode_update_request("c1", spec)
        top = parse_proto(req)
        self.assertEqual([f for f, _unused1 in top], [1, 2])
        self.assertEqual(parse_proto(top[1][1]), [(1, b"spec")])
        container = parse_proto(top[0][1])
        self.assertEqual(container[0], (1, b"c1"))
        self.assertEqual(container[1][0], 5)
        self.assertEqual(parse_proto(container[1][1]), [(1, g.SPEC_TYPE_URL.encode()), (2, spec)])


def huffman_encode(data):
    codes = dict((sym, (length, code)) for (length, code), sym in g.HUFFMAN_DECODE.items())
    bits, nbits = 0, 0
    for byte in bytearray(data):
        length, code = codes[byte]
        bits, nbits = bits << length | code, nbits + length
    pad = -nbits % 8
    return ((bits << pad | (1 << pad) - 1)).to_bytes((nbits + pad) // 8, "big")


class FakeServer(object):
    """A unix-socket peer that plays a scripted HTTP/2 server and records the client's frames."""

    def __init__(self, script):
        self.dir = tempfile.mkdtemp(prefix="grpcproto-fake-")
        self.path = os.path.join(self.dir, "s.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.frames, self.preface = [], b""
        self.thread = threading.Thread(target=self.serve, args=(script,))
        self.thread.start()

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def frame(self):
        head = self.recv(9)
        length = struct.unpack(">I", b"\x00" + head[:3])[0]
        kind, flags, stream = struct.unpack(">BBI", head[3:])
        self.frames.append((kind, flags, stream, self.recv(length)))
        return self.frames[-1]

    def until_request_sent(self):
        while not (self.frame()[0] == g.DATA and self.frames[-1][1] & g.END_STREAM):
            pass

    def serve(self, script):
        self.conn = self.listener.accept()[0]
        try:
            self.preface = self.recv(24)
            script(self)
            while True:
                self.frame()
        except (EOFError, OSError):
            pass
        finally:
            self.conn.close()

    def close(self):
        self.thread.join(5)
        self.listener.close()
        shutil.rmtree(self.dir)


def send(server, kind, flags, stream, payload=b""):
    server.conn.sendall(g._frame(kind, flags, stream, payload))


class FakeServers(unittest.TestCase):
    def call(self, script, timeout=2):
        server = FakeServer(script)
        try:
            g.grpc_call(server.path, "ns", "/x.Y/Z", b"\x0a\x01a", timeout=timeout)
        finally:
            server.close()
        return server

    def test_silent_server_times_out(self):
        with self.assertRaisesRegex(g.ContainerdError, "timed out|deadline"):
            self.call(lambda s: None, timeout=0.5)

    def test_trailers_only_refusal_padded_and_continued_with_ping(self):
        def hstr(raw):  # a Huffman-coded HPACK string literal
            coded = huffman_encode(raw)
            return bytes(bytearray([0x80 | len(coded)])) + coded

        block = (b"\x88"                                              # :status 200 (static 8)
                 + b"\x40" + hstr(b"grpc-status") + hstr(b"5")         # incremental indexing, new name
                 + b"\x00" + hstr(b"grpc-message") + hstr(b"caf%C3%A9 not found: 100%25"))

        def script(s):
            send(s, g.SETTINGS, 0, 0, struct.pack(">HI", 5, 16384))
            send(s, g.PING, 0, 0, b"12345678")
            s.until_request_sent()
            send(s, g.WINDOW_UPDATE, 0, 0, struct.pack(">I", 100))
            send(s, g.HEADERS, g.END_STREAM | g.PADDED, 1, b"\x03" + block[:7] + b"\x00\x00\x00")
            send(s, g.CONTINUATION, g.END_HEADERS, 1, block[7:])
        with self.assertRaises(g.ContainerdError) as caught:
            server = FakeServer(script)
            try:
                g.grpc_call(server.path, "ns", "/x.Y/Z", b"\x0a\x01a", timeout=2)
            finally:
                server.close()
        self.assertEqual(str(caught.exception), "containerd refused /x.Y/Z: NotFound: caf\u00e9 not found: 100%")
        kinds = [(k, f) for k, f, _unused1, _unused2 in server.frames]
        self.assertEqual(server.preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.assertIn((g.SETTINGS, g.ACK), kinds)
        self.assertIn((g.PING, g.ACK), kinds)
        self.assertEqual([p for k, f, _unused1, p in server.frames if k == g.PING], [b"12345678"])
        headers = [p for k, _unused1, _unused2, p in server.frames if k == g.HEADERS][0]
        self.assertIn(("containerd-namespace", "ns"), g.HpackDecoder().decode(headers))
        data = b"".join(p for k, _unused1, _unused2, p in server.frames if k == g.DATA)
        self.assertEqual(data, b"\x00\x00\x00\x00\x03\x0a\x01a")

    def test_goaway_before_our_stream(self):
        def script(s):
            send(s, g.SETTINGS, 0, 0)
            send(s, g.GOAWAY, 0, 0, struct.pack(">II", 0, 11) + b"calm down")
        with self.assertRaisesRegex(g.ContainerdError, "GOAWAY .error 11.: calm down"):
            self.call(script)

    def test_rst_stream(self):
        def script(s):
            send(s, g.SETTINGS, 0, 0)
            s.until_request_sent()
            send(s, g.RST_STREAM, 0, 1, struct.pack(">I", 8))
        with self.assertRaisesRegex(g.ContainerdError, "reset the stream .HTTP/2 error 8."):
            self.call(script)

    def test_small_frames_and_window_are_respected(self):
        def script(s):
            send(s, g.SETTINGS, 0, 0, struct.pack(">HIHI", 5, 16384, 4, 40000))
            while sum(len(p) for k, _unused1, _unused2, p in s.frames if k == g.DATA) < 40000:
                s.frame()
            s.conn.settimeout(0.3)  # the stream window must stop the client at exactly 40000 bytes
            try:
                s.frame()
            except socket.timeout:
                s.stalled = True
            s.conn.settimeout(None)
            send(s, g.WINDOW_UPDATE, 0, 1, struct.pack(">I", 100000))
            while sum(len(p) for k, _unused1, _unused2, p in s.frames if k == g.DATA) < 65535:
                s.frame()  # now the connection window (65535) is the limit
            send(s, g.WINDOW_UPDATE, 0, 0, struct.pack(">I", 100000))
            s.until_request_sent()
            send(s, g.HEADERS, g.END_HEADERS, 1, b"\x88")
            send(s, g.DATA, 0, 1, b"\x00\x00\x00\x00\x02ok")
            send(s, g.HEADERS, g.END_HEADERS | g.END_STREAM, 1, b"\x00\x0bgrpc-status\x010")
        server = FakeServer(script)
        try:
            self.assertEqual(g.grpc_call(server.path, "ns", "/x.Y/Z", b"z" * 70000, timeout=5), b"ok")
        finally:
            server.close()
        self.assertTrue(getattr(server, "stalled", False))
        sizes = [len(p) for k, _unused1, _unused2, p in server.frames if k == g.DATA]
        self.assertTrue(max(sizes) <= 16384 and sum(sizes) == 70005, sizes)


if __name__ == "__main__":
    unittest.main()
