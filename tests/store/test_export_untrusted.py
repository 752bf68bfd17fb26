"""Issue 18: exports train on trusted figures only, and the scrubber covers the common secret formats in every field."""

from __future__ import annotations

import asyncio
import json

import pytest

from mkb_tui.cli.main import main
from mkb_tui.store import Store
from mkb_tui.store.redact import redact_text

from .test_export_training import _session

# one planted example of each kind, and what must not survive of it
PLANTED = {
    "aws secret": ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    "aws bare secret": ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here", "wJalrXUtnFEMI"),
    "aws key id": ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7"),
    "url password": ("https://bob:hunter22@db.example.com/x", "hunter22"),
    "pem": ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA1234"),
    "openssh": ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXkt"),
    "stripe": ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWD"),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3"),
    "bearer": ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    "password": ("password: hunter2xyz", "hunter2xyz"),
    "ipv4": ("10.1.2.3", "10.1.2.3"),
    "ipv6": ("fe80::1ff:fe23:4567:890a", "fe23:4567"),
    "ipv6 full": ("2001:db8:85a3::8a2e:370:7334", "8a2e:370"),
    "email": ("alice@example.com", "alice@example.com"),
    "tilde home": ("~/secret/notes.txt", "secret/notes"),
    "windows home": ("C:\\Users\\alice\\x.txt", "alice"),
    "linux home": ("/home/alice/.ssh/id_ed25519", "alice"),
    "mac home": ("/Users/alice/key.pem", "alice"),
    "openai key": ("sk-proj-abcdefghijklmnopqrstuvwx", "abcdefghijklmnop"),
    "github": ("ghp_abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrst"),
}
HONEST_CPP = "for (int i = 0; i < n; ++i) dst[i] = std::abs(src[i]); // MNN::Tensor a::b float[int] 1.5f"


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_the_scrubber_takes_out_each_planted_kind(kind):
    text, leak = PLANTED[kind]
    out = redact_text(f"before {text} after")
    assert leak not in out, (kind, out)


def test_the_scrubber_leaves_honest_cpp_alone():
    assert redact_text(HONEST_CPP) == HONEST_CPP


@pytest.fixture
def flagged_db(tmp_path):
    db = tmp_path / "f.sqlite"
    corpus = "\n".join(f"// {t}" for t, _ in PLANTED.values())

    async def write():
        async with Store(db) as store:
            await _session(store, "anthropic:claude-sonnet-4-6", "abs", "Unary", [
                ("void fast_but_suspicious();", "correct", 48.0, ["suspicious_speedup"]),
                ("void fast_unverified();", "correct", 3.2, ["timing_unverified"]),
                ("void fast_dispersed();", "correct", 2.5, ["high_dispersion"]),
                ("void fast_reverified();", "correct", 2.0, ["suspicious_speedup", "reverified"]),
                ("void honest_fast();\n" + corpus, "correct", 1.5, ["node=worker-7.cluster/ab12cd34", "alice@example.com 10.9.8.7"]),
                ("void slow();", "correct", 0.9, []),
            ])  # fmt: skip

    asyncio.run(write())
    return db


def test_min_speedup_uses_the_trusted_speedup(flagged_db, tmp_path):
    out = tmp_path / "sft.jsonl"
    assert main(["export", "--db", str(flagged_db), "--format", "sft", "--min-speedup", "1.1", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    names = sorted(r["completion"].split("void ")[1].split("(")[0] for r in records)
    assert names == ["fast_reverified", "honest_fast"]  # flagged results are never exported as fast
    assert all(r["speedup"] is None or r["speedup"] >= 1.1 for r in records)


def test_every_field_of_an_export_is_scrubbed(flagged_db, tmp_path):
    for fmt in ("sft", "preference"):
        out = tmp_path / f"{fmt}.jsonl"
        assert main(["export", "--db", str(flagged_db), "--format", fmt, "--out", str(out)]) == 0
        text = out.read_text()
        assert text.strip(), fmt
        for kind, (_, leak) in PLANTED.items():
            assert leak not in json.loads(json.dumps(text)), (fmt, kind)
        if fmt == "sft":
            assert "alice@example.com" not in text and "10.9.8.7" not in text and "worker-7" not in text  # flags too
        # a flagged kernel is never the fast side of a pair
        for r in map(json.loads, text.splitlines()):
            if fmt == "preference" and r["chosen_verdict"] == r["rejected_verdict"] == "correct":
                assert "fast_but_suspicious" not in r["chosen"] and "fast_unverified" not in r["chosen"]
