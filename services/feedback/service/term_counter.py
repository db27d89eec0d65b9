"""The child process of services.feedback.service.terms: `python -m services.feedback.service.term_counter`
reads a JSON list of texts on stdin, segments each with jieba and writes on stdout how many texts use
each term. Standard library and jieba only, so that it starts quickly."""

import json
import re
import sys
from collections import Counter

STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "在",
        "和",
        "也",
        "就",
        "都",
        "很",
        "非常",
        "不",
        "没有",
        "有",
    ]
    + ["这", "那", "个", "a", "an", "and", "or", "of", "to", "is", "are", "was", "were", "it", "this", "that"]
    + ["for", "in", "on", "with", "be", "not"]
)
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


def terms_of(words: list[str]) -> set[str]:
    """The distinct terms of one answer: lower-cased, no stop words, no punctuation, no single characters."""
    cleaned = (w.strip().lower() for w in words)
    return {w for w in cleaned if len(w) > 1 and w not in STOPWORDS and _WORD.search(w)}


def count(texts: list[str]) -> Counter[str]:
    """How many texts use each term. Loads jieba into this process."""
    import jieba

    jieba.setLogLevel(60)  # its "Building prefix dict" lines are not the service's log
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(terms_of(jieba.lcut(text)))
    return counts


if __name__ == "__main__":
    sys.stdout.write(json.dumps(count(json.loads(sys.stdin.buffer.read())), ensure_ascii=False))
