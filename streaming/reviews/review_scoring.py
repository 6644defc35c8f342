"""Stream queries ``review_scoring`` and ``post_scoring``: reviews / posts -> sentiment + entities.

Per micro-batch (``foreachBatch``, exactly once through the ``stream_batches`` ledger):

* invalid records -> dead-letter topic and ``quarantined_events`` with their reason;
* valid records -> the raw table (``raw_product_reviews`` / ``raw_social_posts``), then scored:
  sentiment label, confidence and class probabilities from the registered model
  ``retail_pulse_sentiment@champion`` (loaded once per job), entities from the catalogue ruler;
* ``review_sentiment`` upserted by (doc_type, doc_id) and ``review_entities`` replaced per
  document, in the batch's transaction; the results go to the ``review_sentiment`` topic (keyed
  by item, so one product's results stay in order) and ``ner_results`` (keyed by document);
* after the commit, ``after_commit`` (if given) gets the batch's item ids: ``review_scoring``
  re-scores those products with the risk and sales-volume champions (jobs.products.score_products.ItemScoring).

Of several records with one document id in a batch, the first in the topic counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from common.catalogue import Catalogue
from common.results import RESULTS
from common.settings import Settings
from streaming.contracts import Contract
from streaming.raw_ingest import first_per_document, split_validated
from streaming.sinks import (
    BatchCounts,
    BatchResult,
    MySQLBatchSink,
    TopicPublisher,
    arrow_source,
    dead_letter_messages,
    fill_table,
    utc,
)

REVIEW_SENTIMENT, NER_RESULTS = RESULTS["review_sentiment"], RESULTS["ner_results"]
DOC_TYPES = {"product_review": ("review", "review_id"), "social_post": ("post", "post_id")}
# a review_sentiment row: the message's fields and the text (which the message leaves out)
SENTIMENT_COLUMNS = [f.name for f in REVIEW_SENTIMENT.fields if f.name not in ("model_version", "scored_at")]
SENTIMENT_COLUMNS += ["text", "model_version", "scored_at"]
ENTITY_COLUMNS = ["doc_type", "doc_id", "start_char", "end_char", "entity_label", "entity_text", "entity_id"]


class MasterDataTagger:
    """The entity tagger whose ruler is the master data loaded into MySQL (`retail-pulse ingest
    catalogue`), rebuilt before a batch whenever that changed; with none loaded, the demo catalogue's
    (the log says which)."""

    def __init__(self, settings: Settings):
        from models.reviews.entities import EntityTagger

        self.settings, self.master = settings, None
        self.tagger = EntityTagger(Catalogue((), ()))

    def tag(self, texts: list[str]):
        """The entities of each text, by the master data as loaded now."""
        from common.catalogue import catalogue, master_fingerprint, stored_catalogue

        mark = master_fingerprint(self.settings)
        if mark != self.master:
            loaded = stored_catalogue(self.settings)
            cat = loaded or catalogue()
            self.tagger.use(cat)
            self.master = mark
            where = "the demo catalogue (no master data loaded)" if loaded is None else "the master data in MySQL"
            print(f"entities: ruler of {len(cat.products):,} products and {len(cat.stores):,} stores from {where}")
        return self.tagger.tag(texts)


class Scorer:
    """The champion sentiment model and the master-data entity tagger, loaded once. Where the
    champion's e5 encoder cannot run, the lexicon model registered beside it
    (RP_SENTIMENT_FALLBACK_MODEL) scores, and the log says so once."""

    def __init__(self, settings: Settings):
        from models.reviews.embeddings import EncoderMissing
        from models.reviews.sentiment import TRAIN_HINT
        from models.reviews.sentiment_serving import load_champion

        self.model, self.version = load_champion(settings, settings.sentiment_model, TRAIN_HINT)
        try:
            self.model.predict_proba(["ok"])  # opens the encoder (and its cache) once, before any batch
        except EncoderMissing as exc:
            self.model, self.version = load_champion(settings, settings.sentiment_fallback_model, TRAIN_HINT)
            print(f"sentiment: {exc}; scoring with the lexicon fallback {self.version}", flush=True)
        self.tag = MasterDataTagger(settings).tag

    def score(self, texts: list[str]):
        """(probabilities (n, 3) in the model's class order, the class names)."""
        if not texts:
            return [], list(self.model.classes_)
        return self.model.predict_proba(texts), list(self.model.classes_)


def _item(product_id: str | None) -> int | None:
    return int(product_id) if product_id and product_id.isdigit() else None


def _named(entities, kind: str) -> int | None:
    """The id of the first ``kind`` (item or store) an entity of the catalogue names, or None."""
    return next((int(e.entity_id.split(":")[1]) for e in entities if e.entity_id.startswith(f"{kind}:")), None)


def scored_rows(
    records: list[dict],
    doc_type: str,
    id_field: str,
    proba,
    classes: list[str],
    entities,
    model_version: str,
    scored_at: datetime,
) -> tuple[list[tuple], list[tuple]]:
    """Pure: validated records, their class probabilities and entities -> review_sentiment rows
    and review_entities rows (in SENTIMENT_COLUMNS / ENTITY_COLUMNS order). A document without a
    product id (or store id) gets the first product (store) its entities name, so the
    sentiment-vs-sales insight counts a post about a product even when its author gave no id."""
    from models.reviews.sentiment import LABELS, given_label

    order = [classes.index(c) for c in LABELS]
    sentiment, found = [], []
    for r, p, ents in zip(records, proba, entities, strict=True):
        probs = [float(p[i]) for i in order]
        best = max(range(3), key=probs.__getitem__)
        rating = r.get("rating")
        given = given_label(r.get("label"), rating)
        doc_id = r[id_field]
        sentiment.append(
            (
                doc_type,
                doc_id,
                # a post that gives no product (or store) is about the first one it names
                _item(r.get("product_id")) or _named(ents, "item"),
                r.get("store_id") or _named(ents, "store"),
                r["created_at"],
                LABELS[best],
                round(probs[best], 6),
                *(round(x, 6) for x in probs),
                given,
                rating,
                int(r.get("synthetic") or 0),
                r.get("source") or r.get("platform"),
                r["text"],
                model_version,
                scored_at,
            )
        )
        found += [(doc_type, doc_id, e.start, e.end, e.label, e.text[:255], e.entity_id) for e in ents]
    return sentiment, found


def sentiment_messages(rows: list[tuple]) -> list[tuple[str, dict]]:
    out = []
    for row in rows:
        value = dict(zip(SENTIMENT_COLUMNS, row, strict=True))
        value.pop("text")
        value["created_at"] = value["created_at"].isoformat()
        value["scored_at"] = value["scored_at"].isoformat()
        key = str(value["item_id"] if value["item_id"] is not None else value["doc_id"])
        out.append((key, REVIEW_SENTIMENT.message(**value)))
    return out


def entity_messages(records: list[dict], id_field: str, doc_type: str, entities) -> list[tuple[str, dict]]:
    return [
        (
            f"{doc_type}-{r[id_field]}",
            NER_RESULTS.message(
                doc_type=doc_type,
                doc_id=r[id_field],
                item_id=_item(r.get("product_id")),
                entities=[
                    {"text": e.text, "label": e.label, "entity_id": e.entity_id, "start": e.start, "end": e.end}
                    for e in ents
                ],
            ),
        )
        for r, ents in zip(records, entities, strict=True)
    ]


@dataclass
class ReviewScoring:
    """foreachBatch body of review_scoring / post_scoring (see module doc)."""

    settings: Settings
    contract: Contract
    scorer: Scorer
    on_batch: Callable[[BatchResult], None] = lambda result: None
    query_name: str = ""
    after_commit: Callable[[list[int]], None] | None = None  # items of a committed batch; has close()

    def __post_init__(self):
        self.doc_type, self.id_field = DOC_TYPES[self.contract.event_type]
        self.query_name = self.query_name or f"{self.doc_type}_scoring"
        self.sink = MySQLBatchSink(self.settings, self.query_name)
        self.publisher = TopicPublisher(self.settings)

    def __call__(self, batch_df, batch_id: int) -> None:
        started = time.time()
        table = batch_df.toArrow()
        good, quarantined, columns = split_validated(table)
        records = first_per_document(good.to_pylist(), self.id_field)
        texts = [r["text"] for r in records]
        proba, classes = self.scorer.score(texts)
        entities = self.scorer.tag(texts)
        sentiment, found = scored_rows(
            records, self.doc_type, self.id_field, proba, classes, entities, self.scorer.version, utc(started)
        )
        source = arrow_source(table)
        # results and dead letters go out before the commit, on every attempt (consumers dedupe by key)
        publish = self.publisher.publish
        publish(self.settings.topic_dead_letter, dead_letter_messages(quarantined), self.query_name, batch_id)
        publish(self.settings.topics["review_sentiment"], sentiment_messages(sentiment), self.query_name, batch_id)
        publish(
            self.settings.topics["ner_results"],
            entity_messages(records, self.id_field, self.doc_type, entities),
            self.query_name,
            batch_id,
        )

        def work(cur) -> BatchCounts:
            raw = [tuple(r[c] for c in columns) for r in records]
            self.sink.upsert(cur, self.contract.table, columns, ["event_id"], raw)
            written = self.sink.upsert(cur, "review_sentiment", SENTIMENT_COLUMNS, ["doc_type", "doc_id"], sentiment)
            cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS rp_docs (doc_type VARCHAR(8), doc_id VARCHAR(64))")
            cur.execute("DELETE FROM rp_docs")
            fill_table(cur, "rp_docs", ["doc_type", "doc_id"], [(self.doc_type, r[self.id_field]) for r in records])
            cur.execute(
                "DELETE e FROM review_entities e JOIN rp_docs d ON d.doc_type = e.doc_type AND d.doc_id = e.doc_id"
            )
            if found:
                self.sink.upsert(cur, "review_entities", ENTITY_COLUMNS, ENTITY_COLUMNS[:3], found)
            self.sink.quarantine(cur, batch_id, quarantined)
            return BatchCounts(table.num_rows, written, len(quarantined))

        result = self.sink.commit(batch_id, started, work, source)
        self.on_batch(result)
        items = sorted({row[2] for row in sentiment if row[2] is not None})
        if self.after_commit is not None and items and not result.replayed:
            try:  # a follow-up of a committed batch: its failure must not fail (and so replay) the batch
                self.after_commit(items)
            except Exception as exc:  # noqa: BLE001 - logged; the daily model_monitoring run covers these items
                print(
                    f"  warning: re-scoring {len(items)} product(s) failed ({type(exc).__name__}: {exc});"
                    " the daily model_monitoring run will score them",
                    flush=True,
                )

    def close(self) -> None:
        self.sink.close()
        self.publisher.close()
        if self.after_commit is not None:
            self.after_commit.close()
