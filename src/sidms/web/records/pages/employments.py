"""An employment is entered from its person's page, where the person is already known."""

from sidms.web.records.pages import PageModule, register

register(PageModule("employment", creatable=False))
