"""Input: read NDJSON fast (blocks, literal prefilter, orjson) and decode only the fields a query needs."""
