"""Run every benchmark: upstream direct, the minimal baseline proxy, and the sidecar, in one run.

    make bench            (or: .venv/bin/python -m bench.run [--seconds 5])

Prints throughput and latency with ratios against the baseline measured in the same run; the machine
is noisy, so compare ratios, not absolute numbers. Figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from bench.harness import JSONRPC_BODY_1K, PYTHON, Result, free_port, process, report, wrk
from tests.factories import TEST_PEPPER, TEST_SESSION_KEY


def sidecar_config(upstream_port: int, public_port: int, ops_port: int, workdir: Path) -> Path:
    config = {
        "listen": {"host": "127.0.0.1", "port": public_port},
        "ops": {"host": "127.0.0.1", "port": ops_port},
        "logging": {"level": "info", "format": "json"},
        "secrets": {"key_pepper": TEST_PEPPER, "session_keys": [TEST_SESSION_KEY]},
        "sites": {
            "bench": {
                "hosts": ["127.0.0.1", "localhost"],
                "upstream": {"url": f"http://127.0.0.1:{upstream_port}"},
            }
        },
    }
    path = workdir / "bench-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    upstream, baseline_port, public, ops = free_port(), free_port(), free_port(), free_port()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    results: list[Result] = []

    def run(name: str, port: int, path: str = "/bench") -> Result:
        result = wrk(
            name,
            f"http://127.0.0.1:{port}{path}",
            body=JSONRPC_BODY_1K,
            headers=headers,
            seconds=args.seconds,
            connections=args.connections,
        )
        results.append(result)
        return result

    with (
        tempfile.TemporaryDirectory() as tmp,
        process([PYTHON, "-m", "bench.upstream", "--port", str(upstream)], upstream),
        process(
            [
                PYTHON,
                "-m",
                "bench.baseline_proxy",
                "--port",
                str(baseline_port),
                "--upstream",
                f"http://127.0.0.1:{upstream}",
            ],
            baseline_port,
        ),
        process(
            [PYTHON, "-m", "proxy.cli", "run", "-c", str(sidecar_config(upstream, public, ops, Path(tmp)))],
            public,
        ),
    ):
        run("warm-up (discarded)", public)
        results.clear()
        run("upstream direct", upstream)
        baseline = run("baseline proxy (minimal aiohttp)", baseline_port)
        passthrough = run("sidecar passthrough", public)
    print(report(results, baseline))
    print(
        f"\nsidecar passthrough / baseline throughput: {passthrough.rps / baseline.rps:.2f}x "
        f"(target >= 0.9x); p50 added over baseline: {passthrough.p50_ms - baseline.p50_ms:+.2f} ms "
        "(target <= 1 ms)"
    )


if __name__ == "__main__":
    main()
