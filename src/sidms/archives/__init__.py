"""Electronic archives (电子档案, R2.4, R7.4): scans attached to records, encrypted at rest, reviewed by an
archive reviewer against the archive department's rules (docs/archives.md)."""
