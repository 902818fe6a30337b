"""The framework documents lfr ships as templates (legal mandate, policy, equality impact
assessment): until the force publishes its own document of a kind, the public Documents
page shows the template, marked as not adopted, so the page is never empty; an
administrator downloads it, adapts it, and publishes the force's version in its place."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lfr.domain.refusal import NotFound
from lfr.reports.transparency import DocumentKind

FOLDER = Path(__file__).parent / "documents"


@dataclass(frozen=True, slots=True)
class ShippedDocument:
    kind: DocumentKind
    title: str
    filename: str

    def content(self) -> bytes:
        return (FOLDER / self.filename).read_bytes()


SHIPPED: tuple[ShippedDocument, ...] = (
    ShippedDocument(DocumentKind.LEGAL_MANDATE, "Legal mandate", "legal_mandate.md"),
    ShippedDocument(DocumentKind.POLICY, "Live Facial Recognition policy", "policy.md"),
    ShippedDocument(
        DocumentKind.EQUALITY_IMPACT_ASSESSMENT,
        "Equality impact assessment",
        "equality_impact_assessment.md",
    ),
)


def not_yet_published(published_kinds: Iterable[DocumentKind]) -> list[ShippedDocument]:
    """The shipped templates of the kinds the force has not published."""
    published = set(published_kinds)
    return [d for d in SHIPPED if d.kind not in published]


def shipped(kind: str) -> ShippedDocument:
    for document in SHIPPED:
        if document.kind.value == kind:
            return document
    raise NotFound("document template", kind)
