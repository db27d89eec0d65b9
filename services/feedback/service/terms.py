"""Term counting for free-text answers, in a short-lived child process.

jieba's dictionary costs about 80 MB once loaded, and a long-running process never gives that back:
kept in the serving process it took feedback from 115 MB to 200 MB, past the suite's 150 MB per
process. So the texts go on stdin (JSON) to `python -m services.feedback.service.term_counter`, which
segments them, answers the counts on stdout and exits. The price is the child's start and
dictionary load, about a second per analysis (jieba keeps its parsed dictionary in a cache file, so
only the first child builds it): a fair price for an analyst's report, not for a hot path."""

import json
import subprocess
import sys
from collections import Counter

from services.common.errors import ProblemError

TIMEOUT_SECONDS = 50.0  # under the service's request limit of 60 s


class TermsUnavailable(ProblemError):
    status = 503
    code = "terms_unavailable"


def count_terms(texts: list[str]) -> Counter[str]:
    """How many answers use each term, counted in a child process that exits when done."""
    if not texts:
        return Counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "services.feedback.service.term_counter"],
            input=json.dumps(texts, ensure_ascii=False).encode(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
        )
        return Counter(json.loads(done.stdout))
    except (subprocess.SubprocessError, OSError, ValueError) as err:
        raise TermsUnavailable(
            f"The free-text term analysis could not run ({type(err).__name__}); try again shortly",
            headers={"Retry-After": "5"},
        ) from err
