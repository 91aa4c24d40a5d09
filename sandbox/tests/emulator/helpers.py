"""Helpers for the emulator tests: raw signed requests computed independently of the emulator."""

from __future__ import annotations

import hashlib
import json
import time

import requests


def sign(secret: str, ck: str, method: str, url: str, body: str, ts: str) -> str:
    return "$1$" + hashlib.sha1("+".join([secret, ck, method, url, body, ts]).encode()).hexdigest()


def signed(emu, method: str, path: str, body=None, *, ts: int | None = None, ak: str | None = None,
           ck: str | None = None, secret: str | None = None, signature: str | None = None,
           headers: dict | None = None) -> requests.Response:
    """A request signed like python-ovh does, with any part overridable to make it wrong."""
    i = emu.info
    url = emu.endpoint + path
    text = "" if body is None else json.dumps(body, separators=(",", ":"))
    ts = str(int(time.time()) if ts is None else ts)
    ak = i["application_key"] if ak is None else ak
    ck = i["consumer_key"] if ck is None else ck
    secret = i["application_secret"] if secret is None else secret
    h = {"X-Ovh-Application": ak, "X-Ovh-Consumer": ck, "X-Ovh-Timestamp": ts,
         "X-Ovh-Signature": signature or sign(secret, ck, method, url, text, ts)}
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    return requests.request(method, url, data=text, headers=h, timeout=30)


def wait_for(fn, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout}s (last value {value!r})")
        time.sleep(interval)
