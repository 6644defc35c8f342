"""Named entities in reviews and posts: products, stores and brands of the catalogue.

spaCy's blank English pipeline with an ``entity_ruler`` generated from the catalogue (case-insensitive
token patterns): PRODUCT ("Northwind Coffee Beans", also without the brand: "the coffee beans"
does not count, a product type alone is too vague), STORE ("Retail Pulse Riverside", or "the
Riverside store"), BRAND ("Northwind"). If a pretrained pipeline (``en_core_web_sm``) is installed,
its ORG / PRODUCT / GPE entities are added where the ruler found nothing; it is optional.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.catalogue import STORE_CHAIN, Catalogue

LABELS = ("PRODUCT", "STORE", "BRAND")


@dataclass(frozen=True)
class Entity:
    text: str
    label: str
    entity_id: str  # "item:12", "store:3", "brand:Northwind" ("" for a pretrained pipeline's finds)
    start: int  # character offsets in the text
    end: int


def _tokens(phrase: str) -> list[dict]:
    return [{"LOWER": word.lower()} for word in phrase.replace("&", " & ").split()]


def ruler_patterns(cat: Catalogue) -> list[dict]:
    """Entity-ruler patterns of the catalogue, longest first (a product beats its brand)."""
    patterns = []
    for p in cat.products:
        patterns.append({"label": "PRODUCT", "pattern": _tokens(p.name), "id": f"item:{p.item_id}"})
    for s in cat.stores:
        sid = f"store:{s.store_id}"
        patterns.append({"label": "STORE", "pattern": _tokens(s.name), "id": sid})
        patterns.append({"label": "STORE", "pattern": _tokens(f"{s.city} store"), "id": sid})
        patterns.append({"label": "STORE", "pattern": _tokens(f"{STORE_CHAIN.split()[-1]} {s.city}"), "id": sid})
    for brand in cat.brands:
        patterns.append({"label": "BRAND", "pattern": _tokens(brand), "id": f"brand:{brand}"})
    return sorted(patterns, key=lambda p: -len(p["pattern"]))


class EntityTagger:
    """``tag(texts)`` -> the entities of each text."""

    def __init__(self, cat: Catalogue, pretrained: str | None = "en_core_web_sm"):
        import spacy

        self.nlp = spacy.blank("en")
        self.ruler = self.nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
        self.use(cat)
        self.extra = None
        if pretrained:
            try:
                self.extra = spacy.load(pretrained, disable=["parser", "lemmatizer"])
            except OSError:  # not installed: the ruler alone
                self.extra = None

    def use(self, cat: Catalogue) -> None:
        """Rebuild the ruler from ``cat`` (new master data), keeping the rest of the pipeline."""
        self.ruler.clear()
        self.ruler.add_patterns(ruler_patterns(cat))

    def tag(self, texts: list[str]) -> list[list[Entity]]:
        out = []
        for doc in self.nlp.pipe(texts, batch_size=256):
            found = [Entity(e.text, e.label_, e.ent_id_, e.start_char, e.end_char) for e in doc.ents]
            out.append(found)
        if self.extra is not None:
            for found, doc in zip(out, self.extra.pipe(texts, batch_size=256), strict=True):
                taken = [(e.start, e.end) for e in found]
                for e in doc.ents:
                    free = all(e.end_char <= s or e.start_char >= t for s, t in taken)
                    if e.label_ in ("ORG", "PRODUCT", "GPE") and free:
                        label = {"ORG": "BRAND", "GPE": "STORE"}.get(e.label_, e.label_)
                        found.append(Entity(e.text, label, "", e.start_char, e.end_char))
        return out


def detection_report(tagger: EntityTagger, examples: list[dict]) -> dict:
    """Entity detection on hand-labelled examples (``{"text", "entities": [[label, text], ...]}``):
    the share of labelled entities found with the same label and text (case-insensitive), and the
    entities found that no one labelled."""
    expected = found = extra = 0
    for example, tags in zip(examples, tagger.tag([e["text"] for e in examples]), strict=True):
        wanted = {(label, text.lower()) for label, text in example["entities"]}
        got = {(e.label, e.text.lower()) for e in tags}
        expected, found, extra = expected + len(wanted), found + len(wanted & got), extra + len(got - wanted)
    return {
        "expected": expected,
        "found": found,
        "detection_rate": round(found / max(expected, 1), 4),
        "unlabelled_finds": extra,
    }
