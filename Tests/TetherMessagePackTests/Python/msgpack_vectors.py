#!/usr/bin/env python3
"""Reference vectors for Tether's MessagePack codec, made by msgpack-python.

MessagePackPythonTests.swift runs this script:

    msgpack_vectors.py vectors   prints one JSON object per line, {"name": ..., "hex": ...}: each
                                 vector packed by msgpack-python (use_bin_type=True; float32 for
                                 the "float32." vectors via use_single_float).
    msgpack_vectors.py check     reads "NAME HEX" lines on stdin (Swift's encodings), unpacks each,
                                 compares it with the vector's value and packs it again; prints
                                 one {"name": ..., "ok": ..., "problem": ...} per line.

The Swift test builds the same named values on its side; the names must match one for one.
"""
import json
import math
import sys

import msgpack
from msgpack import ExtType, Timestamp


def mixed_string(byte_count):
    """Exactly byte_count UTF-8 bytes of 1-, 2-, 3- and 4-byte characters (as the Swift test)."""
    return "aé€😀" * (byte_count // 10) + "x" * (byte_count % 10)


INTS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1,
        -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63]
LENGTHS = [0, 31, 32, 255, 256, 65535, 65536]
COUNTS = [0, 15, 16, 65535, 65536]
EXT_SIZES = [0, 1, 2, 4, 8, 16, 17, 256, 65536]


def vectors():
    """Name → value, in a fixed order."""
    v = {"nil": None, "true": True, "false": False}
    for i in INTS:
        v[f"int.{i}"] = i
    v.update({
        "float32.0": 0.0, "float32.neg_zero": -0.0, "float32.1.5": 1.5, "float32.-2.25": -2.25,
        "float32.max": 3.4028234663852886e38, "float32.min_subnormal": 1.401298464324817e-45,
        "float32.inf": math.inf,
        "float64.0": 0.0, "float64.neg_zero": -0.0, "float64.0.1": 0.1, "float64.1e300": 1e300,
        "float64.-inf": -math.inf, "float64.nan": math.nan, "float64.min_subnormal": 5e-324,
        "float64.max": 1.7976931348623157e308,
    })
    for n in LENGTHS:
        v[f"str.{n}"] = mixed_string(n)
    v["str.ascii"] = "hello"
    for n in LENGTHS:
        v[f"bin.{n}"] = bytes(i % 256 for i in range(n))
    for n in COUNTS:
        v[f"array.{n}"] = [i if i % 2 == 0 else -i for i in range(n)]
    for n in COUNTS:
        v[f"map.{n}"] = {str(i): i for i in range(n)}
    v["nested.mixed"] = {"a": [1, [2, [3, {"b": None}]]], "c": {"d": True, "e": b"\x00\x01"}, "f": -1.5}
    v["nested.int_keys"] = {1: "x", -2: "y", 300: [None, False]}
    v["nested.array_of_maps"] = [{"k": i, "v": [i, str(i)]} for i in range(3)]
    for n in EXT_SIZES:
        v[f"ext.{n}"] = ExtType(5, bytes(i * 7 % 256 for i in range(n)))
    v["ext.type_0"] = ExtType(0, b"\x01")  # negative types are the spec's; msgpack-python refuses them
    v["ext.type_127"] = ExtType(127, b"\x02\x03")
    v.update({
        "timestamp.32.zero": Timestamp(0, 0),
        "timestamp.32.max": Timestamp(2**32 - 1, 0),
        "timestamp.64.seconds": Timestamp(2**32, 0),
        "timestamp.64.nanoseconds": Timestamp(1, 1),
        "timestamp.64.max": Timestamp(2**34 - 1, 999_999_999),
        "timestamp.96.seconds": Timestamp(2**34, 0),
        "timestamp.96.negative": Timestamp(-1, 0),
        "timestamp.96.negative_nanoseconds": Timestamp(-1, 999_999_999),
        "timestamp.96.min": Timestamp(-2**63, 0),
        "timestamp.96.max": Timestamp(2**63 - 1, 999_999_999),
    })
    # What the Swift test's Codable types encode to; keys in declaration order, nil optionals left out.
    v["codable.point"] = {"x": 1, "y": -1}
    v["codable.person"] = {
        "name": "Ada", "age": 36, "avatar": b"\x89PNG\r\n", "joined": Timestamp(1_700_000_000, 500_000_000),
        "scores": [1.5, -0.25], "tags": ["x", "ÿ€"], "address": {"street": "Main", "zip": 12345},
    }
    v["codable.shapes"] = [{"circle": {"radius": 2.0}}, {"rectangle": {"_0": 1.0, "_1": 2.5}}, {"empty": {}}]
    v["codable.integers"] = {"i8": -128, "i16": -32768, "i32": -2**31, "i64": -2**63, "u8": 255, "u16": 65535,
                             "u32": 2**32 - 1, "u64": 2**64 - 1, "int": 2**63 - 1, "uint": 0}
    return v


def pack(name, value):
    return msgpack.packb(value, use_bin_type=True, use_single_float=name.startswith("float32."))


def same(a, b):
    """Equality that tells bool from int and -0.0 from 0.0, counts NaN equal, and keeps map order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    return a == b


def check(lines, expected):
    for line in lines:
        if not line.strip():
            continue
        name, hex_text = line.split()
        data = bytes.fromhex(hex_text)
        problem = ""
        try:
            value = msgpack.unpackb(data, raw=False, strict_map_key=False, timestamp=0, use_list=True)
            if name not in expected:
                problem = "no such vector"
            elif not same(value, expected[name]):
                problem = f"unpacked {value!r:.200}, expected {expected[name]!r:.200}"
            elif pack(name, value) != data:
                problem = f"msgpack-python packs it as {pack(name, value).hex()[:200]}"
        except Exception as error:  # noqa: BLE001 - every failure is reported to the Swift test
            problem = f"unpack failed: {type(error).__name__}: {error}"
        print(json.dumps({"name": name, "ok": not problem, "problem": problem}))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "vectors"
    expected = vectors()
    if mode == "vectors":
        for name, value in expected.items():
            print(json.dumps({"name": name, "hex": pack(name, value).hex()}))
    elif mode == "check":
        check(sys.stdin, expected)
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
