"""A delegated query (委托查询, R10.2) is registered from its person's page; the rights-record page takes the
registration's number when the statement is printed for the delegate."""

from sidms.web.records.pages import PageModule, register

register(PageModule("delegated_query", creatable=False))
