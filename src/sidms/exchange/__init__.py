"""Files in and out (issue 9, parts 2 and 3; B3, R6.2, R10.3): spreadsheet imports through approved import
batches, and exports of lists through the read door with a watermark and, above a threshold, a second
person's approval."""
