"""One line under pytest's summary that says why tests were skipped, grouped by reason (on a
machine without a GPU, nearly all of them are the CUDA cases)."""

from collections import Counter


def _reason(report):
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        reasons = Counter(_reason(report) for report in skipped)
        terminalreporter.write_line(
            f"{len(skipped)} skipped: " + "; ".join(f"{count} {reason}" for reason, count in reasons.most_common()))
