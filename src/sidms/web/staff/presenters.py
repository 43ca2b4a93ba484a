"""How a proposal about a staff account (security.accounts: a post to grant, a move to the city level) reads
on its review page and in the queue."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sidms.changes.models import ChangeRequest
from sidms.registry.models import Staff
from sidms.security.accounts import ENTITY
from sidms.web.staff.reads import district_text, post_label
from sidms.web.workflow.presenters import ProposalPresenter, register


class StaffProposal(ProposalPresenter):
    def record_link(self, row: Any) -> tuple[str, str]:
        member = Staff.objects.filter(pk=row.record_id).first()
        return (member.display_name if member is not None else row.record_label), ""

    def pairs(self, held: ChangeRequest) -> list[dict[str, str]]:
        rows = []
        for key, (old, new) in held.proposed.items():
            if key == "post":
                rows.append({"label": _("Post to grant"), "old": "—", "new": post_label(str(new))})
                # Where the post will act: a window clerk's post at the city level reads every district's
                # persons, and the confirmer saw only the post's name (attack round 9).
                member = (
                    Staff.objects.filter(pk=held.record_id or 0).values_list("district_id", flat=True).first()
                )
                rows.append({"label": _("District (data scope)"), "old": "—", "new": district_text(member)})
            elif key == "district":
                rows.append(
                    {
                        "label": _("District (data scope)"),
                        "old": district_text(old),
                        "new": district_text(new),
                    }
                )
            elif key == "reason":
                rows.append({"label": _("Reason for the change"), "old": "—", "new": str(new or "—")})
        return rows


register(
    StaffProposal(
        ENTITY,
        label=gettext_lazy("Staff member"),
        fields=gettext_lazy("Post"),
        template="staff/review_post.html",
    )
)
